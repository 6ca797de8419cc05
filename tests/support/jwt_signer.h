#ifndef SLIPWAY_TESTS_SUPPORT_JWT_SIGNER_H_
#define SLIPWAY_TESTS_SUPPORT_JWT_SIGNER_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "nlohmann/json.hpp"

namespace slipway::testing {

// An RSA-2048 key with a self-signed X.509 certificate, made with OpenSSL at Create(), that
// signs RS256 JWTs carrying the certificate in an `x5c` header (what docker-registry's token
// auth verifies against its rootcertbundle). Immutable after Create(): thread-safe.
class JwtSigner {
 public:
  static absl::StatusOr<std::unique_ptr<JwtSigner>> Create(const std::string& common_name);
  ~JwtSigner();

  // Writes the certificate as PEM (the registry's rootcertbundle).
  absl::Status WriteCertPem(const std::string& path) const;
  std::string CertPem() const;
  // header {"alg":"RS256","typ":"JWT","x5c":[<cert DER, base64>]} . claims . RS256 signature
  absl::StatusOr<std::string> Sign(const nlohmann::json& claims) const;

 private:
  struct Impl;
  explicit JwtSigner(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Standard base64 (with padding) and its URL-safe unpadded form, via EVP_EncodeBlock.
std::string Base64Encode(absl::string_view data);
std::string Base64UrlEncode(absl::string_view data);
// Decodes standard or URL-safe base64, padded or not. InvalidArgument on bad input.
absl::StatusOr<std::string> Base64Decode(absl::string_view text);

}  // namespace slipway::testing

#endif  // SLIPWAY_TESTS_SUPPORT_JWT_SIGNER_H_
