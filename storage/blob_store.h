#ifndef SLIPWAY_STORAGE_BLOB_STORE_H_
#define SLIPWAY_STORAGE_BLOB_STORE_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "storage/digest.h"

namespace slipway {

// A blob after its bytes were hashed and counted.
struct BlobInfo {
  Digest digest;
  int64_t size = 0;
};

// Streams one blob into the store. Bytes go to a private temp file and are hashed as they are
// appended. Nothing is visible to readers until Publish() (or Commit()) succeeds; a writer
// destroyed before that removes its temp file. Not thread-safe: one writer, one thread.
class BlobWriter {
 public:
  virtual ~BlobWriter() = default;

  virtual absl::Status Append(absl::string_view data) = 0;
  virtual int64_t bytes_written() const = 0;

  // Flushes and fsyncs the temp file and checks the bytes against the expected digest and size
  // given at creation. Returns the blob's digest and size; the blob is still invisible.
  // DATA_LOSS when the digest or size differs from the expectation; RESOURCE_EXHAUSTED on a full
  // disk. After an error the writer can only be destroyed.
  virtual absl::StatusOr<BlobInfo> Finish() = 0;

  // Makes a finished blob visible at blobs/sha256/<hex>: rename then fsync of the directory.
  // Idempotent for content that is already present (another writer won the race: the temp file
  // is dropped and OK is returned). FAILED_PRECONDITION if Finish() has not succeeded.
  virtual absl::Status Publish() = 0;

  // Finish() then Publish().
  absl::StatusOr<BlobInfo> Commit() {
    auto info = Finish();
    if (!info.ok()) return info;
    absl::Status s = Publish();
    if (!s.ok()) return s;
    return info;
  }
};

// Reads one stored blob from the start. Not thread-safe.
class BlobReader {
 public:
  virtual ~BlobReader() = default;
  virtual int64_t size() const = 0;
  // Reads up to `n` bytes into `buf`; returns 0 at the end. With verification on, the read that
  // reaches the end returns DATA_LOSS if the bytes do not hash to the blob's digest.
  virtual absl::StatusOr<size_t> Read(char* buf, size_t n) = 0;
};

struct BlobWriterOptions {
  std::optional<Digest> expected_digest;
  std::optional<int64_t> expected_size;
};

// Content-addressable blob storage. All methods are thread-safe; any number of writers may
// write the same digest at once and exactly one copy becomes visible.
class BlobStore {
 public:
  virtual ~BlobStore() = default;

  // Size of a visible blob, or NOT_FOUND.
  virtual absl::StatusOr<int64_t> Stat(const Digest& digest) const = 0;
  bool Contains(const Digest& digest) const { return Stat(digest).ok(); }
  // The subset of `digests` that is not visible, in input order.
  virtual std::vector<Digest> FindMissing(const std::vector<Digest>& digests) const = 0;

  virtual absl::StatusOr<std::unique_ptr<BlobWriter>> NewWriter(
      const BlobWriterOptions& options = {}) = 0;
  // NOT_FOUND when absent. With `verify`, the reader re-hashes (see BlobReader::Read).
  virtual absl::StatusOr<std::unique_ptr<BlobReader>> NewReader(const Digest& digest,
                                                                bool verify = false) const = 0;
  // Convenience for small blobs (manifests, configs): refuses blobs over `max_size`
  // with RESOURCE_EXHAUSTED.
  absl::StatusOr<std::string> ReadSmall(const Digest& digest, int64_t max_size) const;
  // Convenience: stores an in-memory buffer (Commit of one Append).
  absl::StatusOr<BlobInfo> PutSmall(absl::string_view data);

  // Removes a blob. OK if it was already absent.
  virtual absl::Status Delete(const Digest& digest) = 0;

  struct ListedBlob {
    Digest digest;
    int64_t size = 0;
    int64_t mtime_unix = 0;  // last write or last touch
  };
  // Calls `fn` for every visible blob. Entries whose names are not valid digests are reported by
  // `on_stray` (with their file name) and otherwise ignored.
  virtual absl::Status List(const std::function<void(const ListedBlob&)>& fn,
                            const std::function<void(const std::string&)>& on_stray = {}) const = 0;

  // Absolute path of a visible blob, for zero-copy senders (sendfile, curl upload from file).
  virtual std::string PathOf(const Digest& digest) const = 0;
};

struct FsBlobStoreOptions {
  std::string root;  // the store: <root>/blobs/sha256/<hex>, temp files in <root>/tmp
};

// BlobStore on a local filesystem, laid out as an OCI image layout (it writes oci-layout too).
// Create() makes the directories and removes temp files that a crashed process left behind.
class FsBlobStore : public BlobStore {
 public:
  static absl::StatusOr<std::unique_ptr<FsBlobStore>> Create(const FsBlobStoreOptions& options);
  ~FsBlobStore() override;

  absl::StatusOr<int64_t> Stat(const Digest& digest) const override;
  std::vector<Digest> FindMissing(const std::vector<Digest>& digests) const override;
  absl::StatusOr<std::unique_ptr<BlobWriter>> NewWriter(
      const BlobWriterOptions& options = {}) override;
  absl::StatusOr<std::unique_ptr<BlobReader>> NewReader(const Digest& digest,
                                                        bool verify = false) const override;
  absl::Status Delete(const Digest& digest) override;
  absl::Status List(const std::function<void(const ListedBlob&)>& fn,
                    const std::function<void(const std::string&)>& on_stray = {}) const override;
  std::string PathOf(const Digest& digest) const override;

  // Temp files removed by Create() (abandoned by a crash).
  int removed_temp_files() const { return removed_temp_files_; }
  const std::string& root() const { return root_; }

 private:
  explicit FsBlobStore(std::string root);
  std::string root_;
  int removed_temp_files_ = 0;
};

}  // namespace slipway

#endif  // SLIPWAY_STORAGE_BLOB_STORE_H_
