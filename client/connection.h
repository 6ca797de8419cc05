#ifndef SLIPWAY_CLIENT_CONNECTION_H_
#define SLIPWAY_CLIENT_CONNECTION_H_

#include <grpcpp/channel.h>
#include <grpcpp/client_context.h>

#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "slipway/v1/slipway.grpc.pb.h"

namespace slipway::client {

using EnvLookup = std::function<std::optional<std::string>(const std::string&)>;

// Where the client connects and how, from the environment:
//   SLIPWAY_ADDR        unix:///path or host:port (default: the server's default socket)
//   SLIPWAY_TOKEN       bearer token, or SLIPWAY_TOKEN_FILE (first line)
//   SLIPWAY_TLS=1       use TLS on a TCP address; SLIPWAY_TLS_CA names the CA bundle (PEM)
struct ConnectionSettings {
  std::string address;  // as gRPC wants it: "unix:///path" or "host:port"
  std::string token;    // empty = none
  bool tls = false;
  std::string tls_ca_pem;
};

// The server's default socket for this user (see docs/CONFIGURATION.md).
std::string DefaultAddress(const EnvLookup& env, bool is_root);

// INVALID_ARGUMENT naming the variable for an unreadable token or CA file.
absl::StatusOr<ConnectionSettings> SettingsFromEnvironment(const EnvLookup& env, bool is_root);

// A connected stub plus per-call context setup (token, deadline).
class Connection {
 public:
  static absl::StatusOr<std::unique_ptr<Connection>> Open(const ConnectionSettings& settings);

  v1::Slipway::Stub& stub() { return *stub_; }
  // A context carrying the token; `deadline_seconds` <= 0 means none (streams of any length).
  std::unique_ptr<grpc::ClientContext> NewContext(int deadline_seconds = 0) const;

 private:
  Connection() = default;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::Slipway::Stub> stub_;
  std::string token_;
};

}  // namespace slipway::client

#endif  // SLIPWAY_CLIENT_CONNECTION_H_
