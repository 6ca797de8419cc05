#ifndef SLIPWAY_STORAGE_FSCK_H_
#define SLIPWAY_STORAGE_FSCK_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "storage/blob_store.h"
#include "storage/image_index.h"

namespace slipway {

struct FsckOptions {
  bool repair = false;  // delete corrupt blobs and stray files, forget index rows for missing blobs
};

struct FsckReport {
  int blobs_checked = 0;
  int64_t bytes_checked = 0;
  std::vector<std::string> corrupt;       // "sha256:..." whose bytes hash to something else
  std::vector<std::string> missing;       // referenced by an image but absent on disk
  std::vector<std::string> stray;         // files in blobs/sha256 that are not digests
  std::vector<std::string> unreferenced;  // valid blobs nothing refers to (GC's business; not errors)
  std::vector<std::string> broken_images; // images with a missing or corrupt blob
  int repaired = 0;
  // No corrupt, missing or stray entries and no broken images.
  bool clean() const;
  // Human-readable report, one finding a line, then a summary line.
  std::string ToText() const;
};

// Re-hashes every blob and reconciles the index with the disk.
absl::StatusOr<FsckReport> RunFsck(BlobStore& blobs, ImageIndex& index, const FsckOptions& options);

}  // namespace slipway

#endif  // SLIPWAY_STORAGE_FSCK_H_
