#ifndef SLIPWAY_SERVER_COMMON_AUTH_H_
#define SLIPWAY_SERVER_COMMON_AUTH_H_

#include <grpcpp/security/auth_metadata_processor.h>

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace slipway {

// True when `authorization_header` is exactly "Bearer <token>". The comparison takes the same
// time wherever the first difference lies (both sides are hashed, then CRYPTO_memcmp), so a
// caller cannot learn the token byte by byte. An empty `token` never matches.
bool BearerTokenMatches(absl::string_view authorization_header, absl::string_view token);

// Reads a token file: the first line, surrounding whitespace removed. INVALID_ARGUMENT naming
// the file when it cannot be read or holds no token. The token itself never appears in errors.
absl::StatusOr<std::string> ReadTokenFile(const std::string& path);

// Rejects every call on a TCP listener that lacks "authorization: Bearer <token>" with
// UNAUTHENTICATED. Runs before any handler, for every service (Slipway, health, reflection).
class BearerTokenAuthProcessor : public grpc::AuthMetadataProcessor {
 public:
  explicit BearerTokenAuthProcessor(std::string token) : token_(std::move(token)) {}
  bool IsBlocking() const override { return false; }
  grpc::Status Process(const InputMetadata& auth_metadata, grpc::AuthContext* context,
                       OutputMetadata* consumed_auth_metadata,
                       OutputMetadata* response_metadata) override;

 private:
  const std::string token_;
};

}  // namespace slipway

#endif  // SLIPWAY_SERVER_COMMON_AUTH_H_
