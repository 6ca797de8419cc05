#ifndef SLIPWAY_CLIENT_STEP_STEP_MAIN_H_
#define SLIPWAY_CLIENT_STEP_STEP_MAIN_H_

#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "client/connection.h"
#include "client/step/step_settings.h"

namespace slipway::client::step {

// The part of `slipway step` before anything runs (step_prepare.cc): parses the settings and
// reports on `err`:
//   a settings error     -> one line "slipway: <message>", exit_code 2, no settings
//   --help               -> the flag list on `out`, exit_code 0, no settings
//   --print-settings     -> DescribeStepSettings (secrets masked) on `out`, exit 0, no settings
//   ignored PLUGIN_* vars -> "slipway: ignored: A, B" (not fatal)
//   AUTO_TAG skip        -> "slipway: <skip reason>", exit_code 0, no settings
// Otherwise the settings, to be run.
struct PreparedStep {
  int exit_code = 0;
  std::optional<StepSettings> settings;
};
PreparedStep PrepareStep(const EnvLookup& env, const std::vector<std::string>& names,
                         const std::vector<std::string>& args, std::ostream& out,
                         std::ostream& err);

// `slipway step [flags]` (and `slipway` with no command inside a CI step): PrepareStep, then
// connects to slipwayd (SLIPWAY_ADDR, ...) and runs step::RunStep. Returns the exit code
// (0 ok, 1 failed, 2 settings error).
int RunStepMain(const EnvLookup& env, const std::vector<std::string>& names,
                const std::vector<std::string>& args);

}  // namespace slipway::client::step

#endif  // SLIPWAY_CLIENT_STEP_STEP_MAIN_H_
