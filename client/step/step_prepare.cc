#include "absl/strings/str_join.h"
#include "client/step/step_flags.h"
#include "client/step/step_main.h"

namespace slipway::client::step {

PreparedStep PrepareStep(const EnvLookup& env, const std::vector<std::string>& names,
                         const std::vector<std::string>& args, std::ostream& out,
                         std::ostream& err) {
  PreparedStep result;
  for (const auto& arg : args) {
    if (arg == "--help" || arg == "-h") {
      out << "usage: slipway step [flags]   (or PLUGIN_* variables; see docs/STEP.md)\n"
          << StepFlagsUsage();
      return result;
    }
  }
  auto settings = ParseStepSettings(env, names, args);
  if (!settings.ok()) {
    err << "slipway: " << settings.status().message() << "\n";
    result.exit_code = 2;
    return result;
  }
  if (!settings->ignored.empty()) {
    err << "slipway: ignored: " << absl::StrJoin(settings->ignored, ", ") << "\n";
  }
  if (!settings->skip_reason.empty()) {
    err << "slipway: " << settings->skip_reason << "\n";
    return result;
  }
  result.settings = std::move(*settings);
  return result;
}

}  // namespace slipway::client::step
