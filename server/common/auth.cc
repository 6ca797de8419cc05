#include "server/common/auth.h"

#include <openssl/crypto.h>

#include <fstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "storage/digest.h"

namespace slipway {

bool BearerTokenMatches(absl::string_view authorization_header, absl::string_view token) {
  if (token.empty()) return false;
  absl::string_view presented = authorization_header;
  if (!absl::ConsumePrefix(&presented, "Bearer ")) return false;
  // Hashing first makes both sides 32 bytes, so neither the length nor the position of the
  // first differing byte shows in the timing.
  std::string a = Sha256Of(presented).hex();
  std::string b = Sha256Of(token).hex();
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

absl::StatusOr<std::string> ReadTokenFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    return absl::InvalidArgumentError(absl::StrCat("auth token file ", path, ": cannot open"));
  std::string line;
  std::getline(in, line);
  std::string token(absl::StripAsciiWhitespace(line));
  if (token.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("auth token file ", path, ": holds no token"));
  }
  return token;
}

grpc::Status BearerTokenAuthProcessor::Process(const InputMetadata& auth_metadata,
                                               grpc::AuthContext* context,
                                               OutputMetadata* consumed_auth_metadata,
                                               OutputMetadata* response_metadata) {
  auto it = auth_metadata.find("authorization");
  if (it == auth_metadata.end()) {
    return grpc::Status(grpc::StatusCode::UNAUTHENTICATED,
                        "missing \"authorization: Bearer <token>\" metadata");
  }
  absl::string_view value(it->second.data(), it->second.size());
  if (!BearerTokenMatches(value, token_)) {
    return grpc::Status(grpc::StatusCode::UNAUTHENTICATED, "invalid bearer token");
  }
  // Consumed, so handlers (and anything they log) never see the token.
  consumed_auth_metadata->insert({"authorization", std::string(value)});
  return grpc::Status::OK;
}

}  // namespace slipway
