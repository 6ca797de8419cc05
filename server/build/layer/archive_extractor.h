#ifndef SLIPWAY_SERVER_BUILD_LAYER_ARCHIVE_EXTRACTOR_H_
#define SLIPWAY_SERVER_BUILD_LAYER_ARCHIVE_EXTRACTOR_H_

#include <memory>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "server/build/layer/source_tree.h"

namespace slipway::build {

// Whether the file at `path` is a local archive ADD unpacks: a tar, plain or compressed with
// gzip, bzip2, xz or zstd (detected by content, never by name, as Docker does).
absl::StatusOr<bool> IsExtractableArchive(const std::string& path);

// Extracts the archive at `path` into `staging_dir` (created; owned by the caller, who removes
// it) and returns a tree over the result that keeps the tar's modes, ownership, mtimes, symlinks
// and hard links. Nothing can escape staging_dir: absolute names and ".." are confined the way
// Docker confines them, and no entry is written through a symlink. INVALID_ARGUMENT naming the
// entry for a corrupt archive.
// When the archive has a root entry ("./"), `root` (if given) receives its metadata as a
// directory entry with an empty path: Docker and buildah apply it to the destination directory.
absl::StatusOr<std::unique_ptr<SourceTree>> ExtractArchive(const std::string& path,
                                                           const std::string& staging_dir,
                                                           std::optional<LayerEntry>* root =
                                                               nullptr);

}  // namespace slipway::build

#endif  // SLIPWAY_SERVER_BUILD_LAYER_ARCHIVE_EXTRACTOR_H_
