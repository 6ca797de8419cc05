#ifndef SLIPWAY_TESTS_SUPPORT_STORED_IMAGE_H_
#define SLIPWAY_TESTS_SUPPORT_STORED_IMAGE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "storage/blob_store.h"
#include "storage/descriptor.h"
#include "storage/image_index.h"

namespace slipway::testing {

// A fake single-platform image whose blobs are in a real BlobStore and whose record is in a
// real ImageIndex. The blob contents are not real JSON/tar; the index and GC do not read them.
struct StoredImage {
  ImageRecord record;
  std::vector<Descriptor> blobs;  // manifest, config, layers
};

// Publishes a blob with `content` and returns its descriptor; aborts the test on failure.
Descriptor PutBlob(BlobStore& store, absl::string_view content, absl::string_view media_type);

// Stores manifest, config and `layers` layer blobs derived from `name` (distinct names give
// disjoint blobs; `layer_size` bytes each) and records the image. Aborts the test on failure.
StoredImage PutStoredImage(BlobStore& store, ImageIndex& index, absl::string_view name,
                           int layers = 2, int64_t layer_size = 1000);

// Sets a file's modification time (blob age for the garbage collector).
void SetMtime(const std::string& path, int64_t mtime_unix);

}  // namespace slipway::testing

#endif  // SLIPWAY_TESTS_SUPPORT_STORED_IMAGE_H_
