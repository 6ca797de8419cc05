#ifndef SLIPWAY_SERVER_SCAN_MATERIALIZER_H_
#define SLIPWAY_SERVER_SCAN_MATERIALIZER_H_

#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "storage/blob_store.h"
#include "storage/image_index.h"

namespace slipway::scan {

// One image written out for hooks, in a private directory removed when the last holder lets go.
// Thread-safe: the forms are built at most once each, under the entry's own lock.
class MaterializedImage {
 public:
  MaterializedImage(std::string dir, const BlobStore& blobs, ImageIndex& index)
      : dir_(std::move(dir)), blobs_(blobs), index_(index) {}
  ~MaterializedImage();  // removes dir() recursively
  MaterializedImage(const MaterializedImage&) = delete;
  MaterializedImage& operator=(const MaterializedImage&) = delete;

  // <dir>/image.tar: the Docker 25 combined tarball (storage/archive/exporter.h), written on
  // the first call; later calls return the same path (or the same error).
  absl::StatusOr<std::string> Archive(const ImageRecord& image);
  // <dir>/oci: an OCI image layout (oci-layout, index.json, blobs/sha256/*) holding every blob
  // recorded for the image, copied from the store (never hard-linked: a hook must not be able
  // to alter the store), files read-only.
  absl::StatusOr<std::string> OciDir(const ImageRecord& image);
  const std::string& dir() const { return dir_; }

 private:
  const std::string dir_;
  const BlobStore& blobs_;
  ImageIndex& index_;
  absl::Mutex mu_;
  bool archive_tried_ ABSL_GUARDED_BY(mu_) = false;
  absl::StatusOr<std::string> archive_ ABSL_GUARDED_BY(mu_) = absl::UnknownError("unset");
  bool oci_tried_ ABSL_GUARDED_BY(mu_) = false;
  absl::StatusOr<std::string> oci_ ABSL_GUARDED_BY(mu_) = absl::UnknownError("unset");
};

// Hands out one MaterializedImage per manifest digest to every concurrent user, so an image is
// written once however many hooks and scans need it at the same time. Thread-safe.
class Materializer {
 public:
  // `work_dir` is created if needed; stale per-image directories from a crashed process are
  // removed at construction.
  Materializer(const BlobStore& blobs, ImageIndex& index, std::string work_dir);

  // The shared materialization of `manifest` (its directory is created here). INTERNAL when
  // the directory cannot be made.
  absl::StatusOr<std::shared_ptr<MaterializedImage>> Get(const Digest& manifest);

 private:
  const BlobStore& blobs_;
  ImageIndex& index_;
  const std::string work_dir_;
  absl::Mutex mu_;
  std::map<std::string, std::weak_ptr<MaterializedImage>> live_ ABSL_GUARDED_BY(mu_);
  uint64_t next_id_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace slipway::scan

#endif  // SLIPWAY_SERVER_SCAN_MATERIALIZER_H_
