#ifndef SLIPWAY_SERVER_BUILD_LAYER_LAYER_WRITER_H_
#define SLIPWAY_SERVER_BUILD_LAYER_LAYER_WRITER_H_

#include <cstdint>
#include <optional>
#include <vector>

#include "absl/status/statusor.h"
#include "server/build/layer/layer_entry.h"
#include "storage/blob_store.h"
#include "storage/descriptor.h"
#include "storage/digest.h"
#include "storage/image_index.h"

namespace slipway::build {

enum class LayerCompressionKind { kGzip, kZstd };

struct LayerWriteOptions {
  LayerCompressionKind compression = LayerCompressionKind::kGzip;
  int level = 1;  // gzip: ISA-L level (clamped to 3); zstd: zstd level
  // SOURCE_DATE_EPOCH: every mtime later than it is clamped to it (BuildKit's rewrite-timestamp).
  std::optional<int64_t> source_date_epoch;
};

struct WrittenLayer {
  Descriptor blob;            // OCI media type (tar+gzip or tar+zstd), digest, size
  Digest diff_id;             // sha256 of the uncompressed tar
  int64_t uncompressed_size = 0;
};

// Writes `entries` as one deterministic layer straight into the store: entries sorted by path
// (parents first), PAX headers only where needed (long names, large sizes, xattrs, nanosecond
// times are rounded to the nearest second, as Go's archive/tar does), no user/group names, hard links written as links to the
// first path of their group, regular file content streamed from source_path (its size must
// still equal `size`: DATA_LOSS otherwise). The tar is hashed (diff_id), compressed and hashed
// again in one pass; the blob is committed and, with `index`, the diff_id ↔ blob mapping
// recorded. INVALID_ARGUMENT for a bad path, a duplicate path, a hard link to a missing or
// non-regular entry. Thread-safe (no shared state).
absl::StatusOr<WrittenLayer> WriteLayer(std::vector<LayerEntry> entries,
                                        const LayerWriteOptions& options, BlobStore& store,
                                        ImageIndex* index);

}  // namespace slipway::build

#endif  // SLIPWAY_SERVER_BUILD_LAYER_LAYER_WRITER_H_
