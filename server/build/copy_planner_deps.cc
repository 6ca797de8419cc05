// PlanCopy with the production collaborators. Kept apart from the planner so the planner's own
// object file needs neither the archive extractor nor the path-pattern matcher.

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "server/build/copy_planner.h"
#include "server/build/copy_planner_internal.h"
#include "server/build/layer/archive_extractor.h"
#include "server/build/url_source.h"
#include "storage/path_pattern.h"
#include "storage/status_macros.h"

namespace slipway::build {

CopyPlannerDeps DefaultCopyPlannerDeps() {
  CopyPlannerDeps deps;
  deps.make_exclude_filter =
      [](const std::vector<std::string>& patterns) -> absl::StatusOr<ExcludeFilter> {
    SLIPWAY_ASSIGN_OR_RETURN(IgnoreMatcher matcher, IgnoreMatcher::FromPatterns(patterns));
    auto shared = std::make_shared<const IgnoreMatcher>(std::move(matcher));
    return ExcludeFilter([shared](absl::string_view path, bool is_dir) {
      if (!shared->Excluded(path)) return false;
      // A directory an exception may re-enter is kept; its excluded children are not.
      return !is_dir || shared->CanSkipDirectory(path);
    });
  };
  deps.is_archive = [](const std::string& path) { return IsExtractableArchive(path); };
  deps.extract_archive = [](const std::string& path, const std::string& staging_dir,
                            std::optional<LayerEntry>* root) {
    return ExtractArchive(path, staging_dir, root);
  };
  deps.download_url = [](const UrlDownloadRequest& request) { return DownloadUrl(request); };
  return deps;
}

absl::StatusOr<std::vector<LayerEntry>> PlanCopy(const CopyPlanRequest& request,
                                                 const std::string& staging_dir) {
  return PlanCopyWithDeps(request, staging_dir, DefaultCopyPlannerDeps());
}

}  // namespace slipway::build
