#ifndef SLIPWAY_CLIENT_STEP_STEP_RUNNER_H_
#define SLIPWAY_CLIENT_STEP_STEP_RUNNER_H_

#include <ostream>

#include "client/connection.h"
#include "client/step/step_settings.h"

namespace slipway::client::step {

// Runs one CI step: build-and-push, build-only (+ tarball, OCI layout, Docker Engine load),
// push-only (from the store by repo:tag, from SOURCE_TAR_PATH, or SOURCE_IMAGE retagged), with
// an optional scan before the push, and writes the outputs (DRONE_OUTPUT, ARTIFACT_FILE, digest
// files) in every mode. Progress goes to `out` (human lines, or JSON events with
// settings.json); the one-line cause of a failure to `err`. Returns 0 only on full success.
int RunStep(Connection& conn, const StepSettings& settings, std::ostream& out,
            std::ostream& err);

}  // namespace slipway::client::step

#endif  // SLIPWAY_CLIENT_STEP_STEP_RUNNER_H_
