#ifndef SLIPWAY_STORAGE_FSCK_H_
#define SLIPWAY_STORAGE_FSCK_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "storage/blob_store.h"
#include "storage/image_index.h"

namespace slipway {

struct FsckOptions {
  bool repair = false;  // delete corrupt blobs and stray files, drop images that lost blobs
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
  std::vector<std::string> actions;       // with repair: one line per change made, in order
  // No corrupt, missing or stray entries and no broken images. Describes what was found, so a
  // repairing run that fixed everything still reports not clean; run again to confirm.
  bool clean() const;
  // Human-readable report, one finding a line, then a summary line.
  std::string ToText() const;
};

// Re-hashes every blob and reconciles the index with the disk. Every list in the report is
// sorted. With repair: corrupt blobs and stray files are deleted (corrupt ones also forgotten
// by the index), and images with a missing or corrupt blob are deleted from the index (they
// cannot be rebuilt from what is on disk; their tags go with them). Unreferenced blobs are left
// to the garbage collector. Errors other than a blob failing verification stop the run.
absl::StatusOr<FsckReport> RunFsck(BlobStore& blobs, ImageIndex& index,
                                   const FsckOptions& options);

}  // namespace slipway

#endif  // SLIPWAY_STORAGE_FSCK_H_
