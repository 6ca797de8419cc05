#ifndef SLIPWAY_CLIENT_STEP_STEP_OUTPUTS_H_
#define SLIPWAY_CLIENT_STEP_STEP_OUTPUTS_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "client/step/step_settings.h"

namespace slipway::client::step {

// What a finished step produced, for the output files.
struct StepResult {
  std::string digest;                 // manifest digest, "sha256:…"
  std::vector<std::string> images;    // "name:tag" pushed (or stored, with nothing pushed)
  std::string tar_path;               // the tarball written, if any
};

// Harness's registryType for the settings' flavour: "ECR", "GAR", "ACR", else "Docker".
std::string RegistryType(const StepSettings& settings);

// The texts written by WriteStepOutputs (exposed for tests):
// DRONE_OUTPUT lines to append: "digest=sha256:…\n" [+ "IMAGE_TAR_PATH=…\n"].
std::string DroneOutputLines(const StepResult& result);
// {"kind":"docker/v1","data":{"registryType":…,"registryUrl":…,"images":[{"image","digest"}]}}
std::string ArtifactJson(const StepSettings& settings, const StepResult& result);
// "name@sha256:…" per distinct name in result.images, one a line.
std::string ImageNameWithDigest(const StepResult& result);
// "name:tag@sha256:…" per image, one a line.
std::string ImageNameTagWithDigest(const StepResult& result);

// Writes every output the settings name: DRONE_OUTPUT (existing content kept, lines appended),
// ARTIFACT_FILE, DIGEST_FILE (the digest alone, as kaniko writes it),
// IMAGE_NAME_WITH_DIGEST_FILE, IMAGE_NAME_TAG_WITH_DIGEST_FILE. Each is replaced atomically
// (parents created). Stops at the first failure, naming the variable and the file.
absl::Status WriteStepOutputs(const StepSettings& settings, const StepResult& result);

}  // namespace slipway::client::step

#endif  // SLIPWAY_CLIENT_STEP_STEP_OUTPUTS_H_
