// TEST-ONLY stand-in, linked into buildplan_tests only while server/build/layer/source_tree.cc
// (the real default SourceTree::Glob) is absent from the tree: it knows exact paths only, which
// is all the planner unit tests use. Never part of a production target.

#include "absl/status/status.h"
#include "server/build/copy_planner_internal.h"
#include "server/build/layer/source_tree.h"

namespace slipway::build {

absl::StatusOr<std::vector<std::string>> SourceTree::Glob(absl::string_view pattern) const {
  if (copy_internal::HasWildcard(pattern)) {
    return absl::UnimplementedError("test stand-in Glob: wildcards need source_tree.cc");
  }
  absl::StatusOr<LayerEntry> entry = Stat(pattern, false);
  if (absl::IsNotFound(entry.status())) return std::vector<std::string>{};
  if (!entry.ok()) return entry.status();
  return std::vector<std::string>{copy_internal::CleanPath(pattern)};
}

}  // namespace slipway::build
