#ifndef SLIPWAY_CLIENT_STEP_DOCKERFILE_PATH_H_
#define SLIPWAY_CLIENT_STEP_DOCKERFILE_PATH_H_

#include <string>

#include "absl/status/statusor.h"

namespace slipway::client {

// Where the step's Dockerfile is, the way the plugins find it: an absolute `dockerfile` is
// taken as is; a relative one is looked up in `working_dir` first (docker and buildah pass
// it to `-f`, which resolves against the working directory) and then inside `context`
// (kaniko's fallback). `dockerfile` is the setting (default "Dockerfile"); `context` may be
// relative to `working_dir`.
//
// Returns the path to use (relative paths stay relative to `working_dir`), or NOT_FOUND
// naming every place it looked.
absl::StatusOr<std::string> ResolveStepDockerfile(const std::string& dockerfile,
                                                  const std::string& context,
                                                  const std::string& working_dir);

}  // namespace slipway::client

#endif  // SLIPWAY_CLIENT_STEP_DOCKERFILE_PATH_H_
