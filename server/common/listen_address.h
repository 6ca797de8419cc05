#ifndef SLIPWAY_SERVER_COMMON_LISTEN_ADDRESS_H_
#define SLIPWAY_SERVER_COMMON_LISTEN_ADDRESS_H_

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "server/config.h"

namespace slipway {

struct ListenAddress {
  enum class Kind { kUnix, kTcp };
  Kind kind = Kind::kUnix;
  std::string path;  // unix: the socket file
  std::string host;  // tcp: without brackets
  int port = 0;      // tcp
  // What gRPC's AddListeningPort wants ("unix:/path" or "host:port", IPv6 bracketed).
  std::string ToGrpcUri() const;
};

// "unix:///abs/path" or "host:port" ("[::1]:port" for IPv6). INVALID_ARGUMENT naming the text.
absl::StatusOr<ListenAddress> ParseListenAddress(absl::string_view text);

// 127.0.0.0/8, ::1 and "localhost" — addresses no other machine can reach.
bool IsLoopbackHost(absl::string_view host);

// The security rules, checked before anything binds: every TCP listener needs an auth token
// file, and a non-loopback one also needs --tls-cert and --tls-key. FAILED_PRECONDITION saying
// which listener breaks which rule.
absl::Status CheckListenerSecurity(const Config& config);

}  // namespace slipway

#endif  // SLIPWAY_SERVER_COMMON_LISTEN_ADDRESS_H_
