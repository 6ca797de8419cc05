#ifndef SLIPWAY_STORAGE_SQLITE_IMAGE_INDEX_H_
#define SLIPWAY_STORAGE_SQLITE_IMAGE_INDEX_H_

// Internal to storage/: callers use ImageIndex through OpenSqliteImageIndex (image_index.h).
// The implementation is split by concern: sqlite_image_index.cc (images, tags, opening) and
// sqlite_image_index_blobs.cc (layer compression, leases, liveness, blob use).
//
// One SQLite connection guarded by a mutex. One connection keeps the locking story simple
// (SQLite serializes writers anyway) and index calls are short; other processes or instances on
// the same file are handled by WAL + busy_timeout + BEGIN IMMEDIATE.

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "storage/image_index.h"
#include "storage/sqlite_db.h"

namespace slipway {

class SqliteImageIndex final : public ImageIndex {
 public:
  SqliteImageIndex(std::unique_ptr<SqliteDb> db, std::function<int64_t()> now_unix, int version)
      : now_unix_(std::move(now_unix)), version_(version), db_(std::move(db)) {}

  absl::Status PutImage(const ImageRecord& image, const std::vector<Descriptor>& blobs) override;
  absl::StatusOr<ImageRecord> Resolve(absl::string_view ref) const override;
  absl::StatusOr<std::vector<ImageRecord>> List() const override;
  absl::Status Tag(absl::string_view tag, const Digest& manifest) override;
  absl::Status Untag(absl::string_view tag) override;
  absl::StatusOr<std::vector<std::string>> DeleteImage(const Digest& manifest) override;
  absl::Status RecordLayerCompression(const LayerCompression& mapping) override;
  absl::StatusOr<LayerCompression> FindByDiffId(const Digest& diff_id) const override;
  absl::StatusOr<LayerCompression> FindByCompressed(const Digest& compressed) const override;
  absl::StatusOr<Lease> CreateLease(int64_t ttl_seconds) override;
  absl::Status AddToLease(absl::string_view lease_id, const std::vector<Digest>& digests) override;
  absl::Status ReleaseLease(absl::string_view lease_id) override;
  absl::StatusOr<std::vector<Digest>> LiveBlobs(int64_t now_unix) const override;
  absl::Status TouchBlobs(const std::vector<Digest>& digests, int64_t now_unix) override;
  absl::StatusOr<int64_t> LastUsed(const Digest& digest) const override;
  absl::Status ForgetBlob(const Digest& digest) override;
  absl::StatusOr<std::vector<Digest>> ReferencedBlobs() const override;
  absl::StatusOr<std::vector<Descriptor>> ImageBlobs(const Digest& manifest) const override;
  absl::Status RecordBlobLocation(absl::string_view registry, absl::string_view repository,
                                  const Digest& digest) override;
  absl::StatusOr<std::vector<std::string>> FindBlobLocations(
      absl::string_view registry, const Digest& digest) const override;
  absl::Status PutBuildCache(const BuildCacheEntry& entry) override;
  absl::StatusOr<BuildCacheEntry> FindBuildCache(absl::string_view key) const override;
  absl::Status RecordScanResult(const ScanResultRecord& result) override;
  absl::StatusOr<std::vector<ScanResultRecord>> ScanResults(const Digest& manifest) const override;
  int schema_version() const override { return version_; }

  // A digest read back from our own rows; a malformed one means the file was damaged or edited
  // (DATA_LOSS naming `where`).
  static absl::StatusOr<Digest> StoredDigest(absl::string_view text, absl::string_view where);

 private:
  // Loads one image with its layers and tags; NOT_FOUND if absent.
  absl::StatusOr<ImageRecord> LoadLocked(const std::string& manifest) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::StatusOr<bool> ImageExistsLocked(const std::string& manifest) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status TouchLocked(const std::vector<Digest>& digests, int64_t now_unix)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::StatusOr<LayerCompression> FindCompressionLocked(absl::string_view sql,
                                                         const Digest& key) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::StatusOr<std::vector<Digest>> DigestColumnLocked(SqliteStatement& stmt,
                                                         absl::string_view where) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const std::function<int64_t()> now_unix_;
  const int version_;
  mutable absl::Mutex mu_;
  std::unique_ptr<SqliteDb> db_ ABSL_GUARDED_BY(mu_);
};

}  // namespace slipway

#endif  // SLIPWAY_STORAGE_SQLITE_IMAGE_INDEX_H_
