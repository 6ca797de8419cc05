#include "absl/strings/str_join.h"
#include "client/step/step_flags.h"
#include "client/step/step_main.h"
#include "client/step/step_summary.h"

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
  std::vector<std::string> rest;
  bool print_only = false;
  for (const auto& arg : args) {
    if (arg == "--print-settings") {
      print_only = true;
    } else {
      rest.push_back(arg);
    }
  }
  auto settings = ParseStepSettings(env, names, rest);
  if (!settings.ok()) {
    err << "slipway: " << settings.status().message() << "\n";
    result.exit_code = 2;
    return result;
  }
  if (!settings->ignored.empty()) {
    err << "slipway: ignored: " << absl::StrJoin(settings->ignored, ", ") << "\n";
  }
  if (print_only) {
    out << DescribeStepSettings(*settings);
    if (!settings->skip_reason.empty()) out << "skip: " << settings->skip_reason << "\n";
    return result;
  }
  if (!settings->skip_reason.empty()) {
    err << "slipway: " << settings->skip_reason << "\n";
    return result;
  }
  result.settings = std::move(*settings);
  return result;
}

}  // namespace slipway::client::step
