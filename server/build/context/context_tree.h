#ifndef SLIPWAY_SERVER_BUILD_CONTEXT_CONTEXT_TREE_H_
#define SLIPWAY_SERVER_BUILD_CONTEXT_CONTEXT_TREE_H_

#include <map>
#include <string>
#include <vector>

#include "server/build/layer/source_tree.h"

namespace slipway::build {

// A received build context as a SourceTree: an in-memory listing whose regular files read from
// store blobs. Immutable after construction, so thread-safe for concurrent reads.
class ContextTree final : public SourceTree {
 public:
  // One listed entry. Hard links are given as kFile copies of their target (source_path,
  // content_digest, size) with `link_group` = the path of the group's first listed member;
  // every other entry has an empty link_group. Parent directories that were not listed are
  // added as 0755 root-owned directories. Paths must already be validated (ContextReceiver).
  struct Node {
    LayerEntry entry;
    std::string link_group;
  };
  explicit ContextTree(std::map<std::string, Node> nodes);

  // Stat of a hard link returns the regular file (its data), so COPY of one path copies a file.
  absl::StatusOr<LayerEntry> Stat(absl::string_view path, bool follow) const override;
  // Hard links come back as kHardlink to the first member (in path order) inside the subtree.
  absl::StatusOr<std::vector<LayerEntry>> Walk(absl::string_view dir) const override;
  absl::StatusOr<std::string> ReadFile(absl::string_view path, int64_t max_size) const override;

 private:
  // Resolves `path` to the key of an existing node ("" = root). Intermediate symlinks are always
  // followed, the final one only with `follow`; never leaves the root. NOT_FOUND when absent,
  // INVALID_ARGUMENT for a symlink loop.
  absl::StatusOr<std::string> Resolve(absl::string_view path, bool follow) const;

  std::map<std::string, Node> nodes_;
};

}  // namespace slipway::build

#endif  // SLIPWAY_SERVER_BUILD_CONTEXT_CONTEXT_TREE_H_
