#ifndef SLIPWAY_TESTS_BUILDPLAN_MEMORY_TREE_H_
#define SLIPWAY_TESTS_BUILDPLAN_MEMORY_TREE_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "server/build/layer/layer_entry.h"
#include "server/build/layer/source_tree.h"

namespace slipway::testing {

// A SourceTree over entries held in memory, for COPY planner tests. Its symlink resolution is
// written independently of the planner's. Files get a source_path: a real file under
// `backing_dir` when one is given (ADD archive detection reads it), else "mem:<path>".
// Glob is not overridden: the tree uses SourceTree's default.
class MemoryTree : public build::SourceTree {
 public:
  explicit MemoryTree(std::string backing_dir = "") : backing_dir_(std::move(backing_dir)) {}

  MemoryTree& Dir(const std::string& path, uint32_t mode = 0755, uint32_t uid = 0,
                  uint32_t gid = 0, int64_t mtime = 1000000000);
  MemoryTree& File(const std::string& path, const std::string& content, uint32_t mode = 0644,
                   uint32_t uid = 0, uint32_t gid = 0, int64_t mtime = 2000000000);
  MemoryTree& Symlink(const std::string& path, const std::string& target, uint32_t uid = 0,
                      uint32_t gid = 0);
  // A hard link to the file `target` (the first path of its group).
  MemoryTree& Hardlink(const std::string& path, const std::string& target);
  // Parent directories are added (0755, 0:0) when missing.

  absl::StatusOr<build::LayerEntry> Stat(absl::string_view path, bool follow) const override;
  absl::StatusOr<std::vector<build::LayerEntry>> Walk(absl::string_view dir) const override;
  absl::StatusOr<std::string> ReadFile(absl::string_view path, int64_t max_size) const override;

 private:
  // Follows symlinks (the final one only with follow); "" = root. NOT_FOUND when absent.
  absl::StatusOr<std::string> Resolve(absl::string_view path, bool follow, int depth) const;
  void AddParents(const std::string& path);

  std::string backing_dir_;
  int next_file_ = 0;
  std::map<std::string, build::LayerEntry> entries_;
  std::map<std::string, std::string> contents_;
};

}  // namespace slipway::testing

#endif  // SLIPWAY_TESTS_BUILDPLAN_MEMORY_TREE_H_
