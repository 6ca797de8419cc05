#ifndef SLIPWAY_SERVER_BUILD_RUN_TREE_MATERIALIZER_H_
#define SLIPWAY_SERVER_BUILD_RUN_TREE_MATERIALIZER_H_

#include <string>

#include "absl/status/status.h"
#include "server/build/layer/source_tree.h"

namespace slipway::build {

// Writes the subtree `path` of `tree` (the build context or a stage's filesystem) to the new
// path `dest`, for RUN --mount=type=bind: directories, files (content copied from their
// source_path), symlinks and hard links with modes, ownership (when root) and mtimes. When
// `path` is a regular file, `dest` becomes that file. `dest` must not exist; its parent must.
// Entries never leave `dest` (tree paths are clean and relative). NOT_FOUND naming `path` when
// the tree lacks it; INTERNAL naming the file for I/O errors.
absl::Status MaterializeTree(const SourceTree& tree, const std::string& path,
                             const std::string& dest);

}  // namespace slipway::build

#endif  // SLIPWAY_SERVER_BUILD_RUN_TREE_MATERIALIZER_H_
