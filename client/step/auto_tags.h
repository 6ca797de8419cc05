#ifndef SLIPWAY_CLIENT_STEP_AUTO_TAGS_H_
#define SLIPWAY_CLIENT_STEP_AUTO_TAGS_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace slipway::client::step {

// AUTO_TAG, following the Drone docker/buildx plugins:
//   - `commit_ref` "refs/tags/<v>" with <v> = [v]MAJOR.MINOR.PATCH: tags MAJOR, MAJOR.MINOR,
//     MAJOR.MINOR.PATCH (no MAJOR alone for 0.x; leading zeros of each part are kept, so
//     v2020.06.01 gives 2020, 2020.06, 2020.06.01); with a pre-release or build part only the
//     full version (1.2.3-rc.1).
//   - any other ref on the default branch (refs/heads/<default_branch>, or no ref): "latest".
//   - a ref on another branch: std::nullopt (the plugins skip the build and succeed).
// A non-empty `suffix` turns "latest" into the suffix and every other tag into "<tag>-<suffix>".
// Errors: INVALID_ARGUMENT for a tag ref that is not a semantic version.
absl::StatusOr<std::optional<std::vector<std::string>>> AutoTags(const std::string& commit_ref,
                                                                 const std::string& default_branch,
                                                                 const std::string& suffix);

// EXPAND_TAG (kaniko plugin): a tag that is a semantic version ("v1.2.3", "1.2.3", also the
// short "1.2" / "v1") becomes MAJOR, MAJOR.MINOR, MAJOR.MINOR.PATCH (a build part "+b" is kept
// on each); a pre-release becomes the one full version without "v"; anything else is unchanged.
std::vector<std::string> ExpandTag(const std::string& tag);

}  // namespace slipway::client::step

#endif  // SLIPWAY_CLIENT_STEP_AUTO_TAGS_H_
