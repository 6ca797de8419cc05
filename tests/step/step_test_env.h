#ifndef SLIPWAY_TESTS_STEP_STEP_TEST_ENV_H_
#define SLIPWAY_TESTS_STEP_STEP_TEST_ENV_H_

#include <map>
#include <string>
#include <vector>

#include "client/step/step_settings.h"

namespace slipway::client::step {

// A fake process environment for ParseStepSettings.
using Vars = std::map<std::string, std::string>;

inline EnvLookup LookupIn(const Vars& vars) {
  return [vars](const std::string& name) -> std::optional<std::string> {
    auto it = vars.find(name);
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
}

inline std::vector<std::string> NamesOf(const Vars& vars) {
  std::vector<std::string> names;
  for (const auto& [k, v] : vars) names.push_back(k);
  return names;
}

inline absl::StatusOr<StepSettings> Parse(const Vars& vars,
                                          const std::vector<std::string>& args = {}) {
  return ParseStepSettings(LookupIn(vars), NamesOf(vars), args);
}

// The error message of a parse that must fail ("<parsed OK>" otherwise).
inline std::string ErrorOf(const Vars& vars, const std::vector<std::string>& args = {}) {
  auto s = Parse(vars, args);
  if (s.ok()) return "<parsed OK>";
  EXPECT_EQ(s.status().code(), absl::StatusCode::kInvalidArgument) << s.status();
  return std::string(s.status().message());
}

}  // namespace slipway::client::step

#endif  // SLIPWAY_TESTS_STEP_STEP_TEST_ENV_H_
