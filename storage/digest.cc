#include "storage/digest.h"

#include <openssl/evp.h>

#include "absl/strings/str_cat.h"

namespace slipway {
namespace {

bool IsLowerHex(absl::string_view s) {
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

// Error text quotes at most a short, printable prefix of untrusted input.
std::string Quote(absl::string_view text) {
  std::string out;
  for (char c : text.substr(0, 80)) out.push_back((c >= 0x20 && c < 0x7f) ? c : '?');
  if (text.size() > 80) out += "...";
  return absl::StrCat("\"", out, "\"");
}

}  // namespace

absl::StatusOr<Digest> Digest::FromHex(absl::string_view hex) {
  if (hex.size() != 64 || !IsLowerHex(hex)) {
    return absl::InvalidArgumentError(
        absl::StrCat("invalid digest ", Quote(hex), ": want 64 lowercase hex characters"));
  }
  return Digest(std::string(hex));
}

absl::StatusOr<Digest> Digest::Parse(absl::string_view text) {
  constexpr absl::string_view kPrefix = "sha256:";
  if (text.substr(0, kPrefix.size()) != kPrefix) {
    return absl::InvalidArgumentError(
        absl::StrCat("invalid digest ", Quote(text), ": only sha256:<hex> is supported"));
  }
  absl::string_view hex = text.substr(kPrefix.size());
  if (hex.size() != 64 || !IsLowerHex(hex)) {
    return absl::InvalidArgumentError(
        absl::StrCat("invalid digest ", Quote(text), ": want sha256: and 64 lowercase hex characters"));
  }
  return Digest(std::string(hex));
}

struct Sha256Hasher::Impl {
  EVP_MD_CTX* ctx = nullptr;
};

Sha256Hasher::Sha256Hasher() : impl_(std::make_unique<Impl>()) {
  impl_->ctx = EVP_MD_CTX_new();
  EVP_DigestInit_ex(impl_->ctx, EVP_sha256(), nullptr);
}

Sha256Hasher::~Sha256Hasher() { EVP_MD_CTX_free(impl_->ctx); }

void Sha256Hasher::Update(const void* data, size_t size) {
  EVP_DigestUpdate(impl_->ctx, data, size);
  bytes_ += static_cast<int64_t>(size);
}

Digest Sha256Hasher::Finish() {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_DigestFinal_ex(impl_->ctx, md, &len);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string hex;
  hex.reserve(len * 2);
  for (unsigned int i = 0; i < len; ++i) {
    hex.push_back(kHex[md[i] >> 4]);
    hex.push_back(kHex[md[i] & 0xf]);
  }
  return Digest::FromHex(hex).value();
}

Digest Sha256Of(absl::string_view data) {
  Sha256Hasher h;
  h.Update(data);
  return h.Finish();
}

}  // namespace slipway
