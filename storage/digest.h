#ifndef SLIPWAY_STORAGE_DIGEST_H_
#define SLIPWAY_STORAGE_DIGEST_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace slipway {

// A content digest. Only sha256 exists: Parse rejects every other algorithm, upper-case hex,
// wrong lengths and anything else, so a Digest is always safe to use in a path or URL.
class Digest {
 public:
  // "sha256:<64 lowercase hex>" → Digest. INVALID_ARGUMENT naming the text otherwise.
  static absl::StatusOr<Digest> Parse(absl::string_view text);
  // "<64 lowercase hex>" → Digest.
  static absl::StatusOr<Digest> FromHex(absl::string_view hex);

  const std::string& hex() const { return hex_; }
  std::string ToString() const { return "sha256:" + hex_; }

  friend bool operator==(const Digest& a, const Digest& b) { return a.hex_ == b.hex_; }
  friend bool operator!=(const Digest& a, const Digest& b) { return a.hex_ != b.hex_; }
  friend bool operator<(const Digest& a, const Digest& b) { return a.hex_ < b.hex_; }
  template <typename H>
  friend H AbslHashValue(H h, const Digest& d) {
    return H::combine(std::move(h), d.hex_);
  }

 private:
  explicit Digest(std::string hex) : hex_(std::move(hex)) {}
  std::string hex_;
};

// Incremental SHA-256 through OpenSSL's EVP (uses the CPU's SHA extensions). Not thread-safe;
// one hasher per stream.
class Sha256Hasher {
 public:
  Sha256Hasher();
  ~Sha256Hasher();
  Sha256Hasher(const Sha256Hasher&) = delete;
  Sha256Hasher& operator=(const Sha256Hasher&) = delete;

  void Update(const void* data, size_t size);
  void Update(absl::string_view data) { Update(data.data(), data.size()); }
  int64_t bytes() const { return bytes_; }
  // Ends the hash; the hasher must not be used afterwards.
  Digest Finish();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  int64_t bytes_ = 0;
};

// Digest of a whole in-memory buffer (manifests, configs, tests).
Digest Sha256Of(absl::string_view data);

}  // namespace slipway

#endif  // SLIPWAY_STORAGE_DIGEST_H_
