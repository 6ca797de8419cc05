#ifndef SLIPWAY_CLIENT_STEP_STEP_TARGETS_H_
#define SLIPWAY_CLIENT_STEP_STEP_TARGETS_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "client/step/step_settings.h"
#include "slipway/v1/slipway.pb.h"

namespace slipway::client::step {

// An image name split the way a registry sees it: "team/app:1" → {"docker.io", "team/app",
// "1"}; `tag` is empty when the name carries none.
struct ImageName {
  std::string registry;
  std::string repository;
  std::string tag;
};

// INVALID_ARGUMENT naming `name` when it is not a valid image name (storage/image_name.h rules)
// or carries a digest.
absl::StatusOr<ImageName> ParseImageName(absl::string_view name);

// The tags the step gives the image in the store: "<repo>:<tag>" for each settings tag
// ("latest" when there are none). Empty when settings.repo is empty.
std::vector<std::string> StoreTags(const StepSettings& settings);

// The settings' tags, or {"latest"}.
std::vector<std::string> EffectiveTags(const StepSettings& settings);

// Where the step pushes: settings.repo with every tag first, then each of
// settings.destinations (its own tag, else the settings' tags). The credential goes to every
// main target and to each destination on its registry (settings.credential.registry(), or
// every destination when that is empty); a destination on another registry gets the first
// settings.base_credentials entry for its host (PLUGIN_CONFIG auths, base-image variables),
// else none. TLS options go to all. INVALID_ARGUMENT naming a malformed repo or destination.
absl::StatusOr<std::vector<v1::PushTarget>> PushTargets(const StepSettings& settings);

// "name:tag" for every tag of every target, in target order (what was pushed).
std::vector<std::string> TargetImages(const std::vector<v1::PushTarget>& targets,
                                      const StepSettings& settings);

}  // namespace slipway::client::step

#endif  // SLIPWAY_CLIENT_STEP_STEP_TARGETS_H_
