#ifndef SLIPWAY_STORAGE_ARCHIVE_EXPORTER_H_
#define SLIPWAY_STORAGE_ARCHIVE_EXPORTER_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "storage/archive/byte_stream.h"
#include "storage/blob_store.h"
#include "storage/image_index.h"

namespace slipway {

enum class ArchiveFormat {
  kDockerCombined,  // Docker 25+: oci-layout, index.json, blobs/sha256/*, manifest.json (RepoTags)
  kDockerLegacy,    // docker-archive: <id>/layer.tar (uncompressed), <config>.json, manifest.json, repositories
  kOciArchive,      // OCI image layout only
};

struct ExportOptions {
  ArchiveFormat format = ArchiveFormat::kDockerCombined;
  std::vector<std::string> repo_tags;  // names written into manifest.json / index.json
};

// Streams `image` as a tar to `sink`. Entry order and metadata are deterministic (sorted where
// the format allows, mtime 0, uid/gid 0, mode 0644/0755), so the same image exports to the same
// bytes. Blobs are streamed from the store, never held whole; legacy exports decompress layers.
// Legacy exports need each layer's uncompressed size before its bytes (it goes in the tar
// header): taken from the index's LayerCompression when known, else counted by decompressing
// once (the diff_id is verified against the config) and recorded in `index` for next time.
// `repo_tags` empty means the image's own tags. An image index (multi-platform): OCI and
// combined archives hold the index and every blob recorded for it (index.json points at the
// index; a combined archive's manifest.json describes the linux/amd64 child, else the first);
// a legacy docker-archive holds only that one child (FAILED_PRECONDITION if the index lists no
// image manifest).
// Errors: DATA_LOSS when a blob is missing or fails verification (digest, or a layer whose
// uncompressed digest differs from the config's diff_id); INVALID_ARGUMENT for a bad repo tag;
// the sink's errors.
absl::Status ExportArchive(const ImageRecord& image, const ExportOptions& options,
                           const BlobStore& blobs, ImageIndex& index, ByteSink& sink);

}  // namespace slipway

#endif  // SLIPWAY_STORAGE_ARCHIVE_EXPORTER_H_
