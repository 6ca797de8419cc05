#ifndef SLIPWAY_SERVER_BUILD_LAYER_SOURCE_TREE_H_
#define SLIPWAY_SERVER_BUILD_LAYER_SOURCE_TREE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "server/build/layer/layer_entry.h"

namespace slipway::build {

// Lexically cleans a path inside a tree: no leading "/", "." and empty components dropped, ".."
// pops a component and stays at the root ("../../x" is "x"). "" is the root.
std::string CleanPath(absl::string_view path);

// A read-only tree COPY/ADD take files from: the build context, a stage's or an image's
// filesystem, an extracted archive. Paths are relative to the tree's root ("a/b"; a leading "/"
// is accepted and ignored); resolution never leaves the root (".." at the root stays at the
// root, absolute symlink targets resolve against the root). Implementations are thread-safe for
// concurrent reads.
class SourceTree {
 public:
  virtual ~SourceTree() = default;

  // The entry at `path` ("" = the root, returned as a directory with path ""). Symlinks in
  // intermediate components are always resolved; a final symlink only with `follow`.
  // NOT_FOUND when absent.
  virtual absl::StatusOr<LayerEntry> Stat(absl::string_view path, bool follow) const = 0;

  // Every entry strictly below the directory `dir` (recursively), paths relative to the tree
  // root, sorted by path. Hard links inside the subtree come back as kHardlink to the first
  // path (in sorted order) of the group. NOT_FOUND / FAILED_PRECONDITION (not a directory).
  virtual absl::StatusOr<std::vector<LayerEntry>> Walk(absl::string_view dir) const = 0;

  // Contents of a regular file (symlinks followed), RESOURCE_EXHAUSTED above max_size.
  virtual absl::StatusOr<std::string> ReadFile(absl::string_view path, int64_t max_size) const = 0;

  // Paths matching `pattern` with Docker's COPY wildcard rules (Go filepath.Match per path
  // component: '*', '?', '[...]', '\\'), sorted. A pattern without wildcards yields itself
  // when it exists. Default: built on Stat and Walk.
  virtual absl::StatusOr<std::vector<std::string>> Glob(absl::string_view pattern) const;
};

}  // namespace slipway::build

#endif  // SLIPWAY_SERVER_BUILD_LAYER_SOURCE_TREE_H_
