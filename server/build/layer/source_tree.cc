// TEMPORARY (branch `layer` only): the real SourceTree::Glob is written on another branch; this
// definition exists so the layer library's tests link. Keep the other branch's file at merge.
#include "server/build/layer/source_tree.h"

#include "absl/status/status.h"

namespace slipway::build {

absl::StatusOr<std::vector<std::string>> SourceTree::Glob(absl::string_view pattern) const {
  return absl::UnimplementedError("SourceTree::Glob is not available on this branch");
}

}  // namespace slipway::build
