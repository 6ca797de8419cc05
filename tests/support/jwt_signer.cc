#include "tests/support/jwt_signer.h"

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace slipway::testing {
namespace {

absl::Status OpenSslError(absl::string_view what) {
  return absl::InternalError(absl::StrCat("OpenSSL: ", what, " failed"));
}

}  // namespace

struct JwtSigner::Impl {
  EVP_PKEY* key = nullptr;
  X509* cert = nullptr;
  std::string cert_der;
  ~Impl() {
    X509_free(cert);
    EVP_PKEY_free(key);
  }
};

JwtSigner::JwtSigner(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
JwtSigner::~JwtSigner() = default;

absl::StatusOr<std::unique_ptr<JwtSigner>> JwtSigner::Create(const std::string& common_name) {
  auto impl = std::make_unique<Impl>();
  impl->key = EVP_RSA_gen(2048);
  if (impl->key == nullptr) return OpenSslError("EVP_RSA_gen");
  impl->cert = X509_new();
  X509* cert = impl->cert;
  if (cert == nullptr || X509_set_version(cert, 2) != 1 ||
      ASN1_INTEGER_set(X509_get_serialNumber(cert), 1) != 1 ||
      // An hour back so a registry whose clock reads slightly earlier still accepts it.
      X509_gmtime_adj(X509_getm_notBefore(cert), -3600) == nullptr ||
      X509_gmtime_adj(X509_getm_notAfter(cert), 7 * 24 * 3600) == nullptr ||
      X509_set_pubkey(cert, impl->key) != 1) {
    return OpenSslError("building the certificate");
  }
  X509_NAME* name = X509_get_subject_name(cert);
  if (X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                                 reinterpret_cast<const unsigned char*>(common_name.c_str()), -1,
                                 -1, 0) != 1 ||
      X509_set_issuer_name(cert, name) != 1 || X509_sign(cert, impl->key, EVP_sha256()) == 0) {
    return OpenSslError("signing the certificate");
  }
  int len = i2d_X509(cert, nullptr);
  if (len <= 0) return OpenSslError("i2d_X509");
  impl->cert_der.resize(static_cast<size_t>(len));
  unsigned char* out = reinterpret_cast<unsigned char*>(impl->cert_der.data());
  if (i2d_X509(cert, &out) != len) return OpenSslError("i2d_X509");
  return std::unique_ptr<JwtSigner>(new JwtSigner(std::move(impl)));
}

std::string JwtSigner::CertPem() const {
  BIO* bio = BIO_new(BIO_s_mem());
  std::string pem;
  if (bio != nullptr && PEM_write_bio_X509(bio, impl_->cert) == 1) {
    char* data = nullptr;
    long n = BIO_get_mem_data(bio, &data);
    pem.assign(data, static_cast<size_t>(n));
  }
  BIO_free(bio);
  return pem;
}

absl::Status JwtSigner::WriteCertPem(const std::string& path) const {
  BIO* bio = BIO_new_file(path.c_str(), "w");
  if (bio == nullptr) return absl::UnavailableError(absl::StrCat("cannot create ", path));
  bool ok = PEM_write_bio_X509(bio, impl_->cert) == 1;
  ok = BIO_flush(bio) == 1 && ok;
  BIO_free(bio);
  if (!ok) return absl::UnavailableError(absl::StrCat("cannot write certificate to ", path));
  return absl::OkStatus();
}

absl::StatusOr<std::string> JwtSigner::Sign(const nlohmann::json& claims) const {
  nlohmann::json header = {{"alg", "RS256"}, {"typ", "JWT"},
                           {"x5c", nlohmann::json::array({Base64Encode(impl_->cert_der)})}};
  std::string input =
      absl::StrCat(Base64UrlEncode(header.dump()), ".", Base64UrlEncode(claims.dump()));
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  if (ctx == nullptr) return OpenSslError("EVP_MD_CTX_new");
  size_t sig_len = 0;
  std::string sig;
  bool ok = EVP_DigestSignInit(ctx, nullptr, EVP_sha256(), nullptr, impl_->key) == 1 &&
            EVP_DigestSign(ctx, nullptr, &sig_len,
                           reinterpret_cast<const unsigned char*>(input.data()),
                           input.size()) == 1;
  if (ok) {
    sig.resize(sig_len);
    ok = EVP_DigestSign(ctx, reinterpret_cast<unsigned char*>(sig.data()), &sig_len,
                        reinterpret_cast<const unsigned char*>(input.data()), input.size()) == 1;
    sig.resize(sig_len);
  }
  EVP_MD_CTX_free(ctx);
  if (!ok) return OpenSslError("RS256 signing");
  return absl::StrCat(input, ".", Base64UrlEncode(sig));
}

std::string Base64Encode(absl::string_view data) {
  std::string out(4 * ((data.size() + 2) / 3) + 1, '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(data.data()),
                          static_cast<int>(data.size()));
  out.resize(static_cast<size_t>(n));
  return out;
}

std::string Base64UrlEncode(absl::string_view data) {
  std::string out = Base64Encode(data);
  while (!out.empty() && out.back() == '=') out.pop_back();
  std::replace(out.begin(), out.end(), '+', '-');
  std::replace(out.begin(), out.end(), '/', '_');
  return out;
}

absl::StatusOr<std::string> Base64Decode(absl::string_view text) {
  std::string in(text);
  std::replace(in.begin(), in.end(), '-', '+');
  std::replace(in.begin(), in.end(), '_', '/');
  while (in.size() % 4 != 0) in.push_back('=');
  size_t pad = 0;
  for (size_t i = in.size(); i > 0 && in[i - 1] == '=' && pad < 2; --i) ++pad;
  std::string out(in.size() / 4 * 3, '\0');
  int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(in.data()),
                          static_cast<int>(in.size()));
  // EVP_DecodeBlock counts padding as zero bytes; drop them.
  if (n < 0 || static_cast<size_t>(n) < pad) {
    return absl::InvalidArgumentError(absl::StrCat("malformed base64: ", text.substr(0, 40)));
  }
  out.resize(static_cast<size_t>(n) - pad);
  return out;
}

}  // namespace slipway::testing
