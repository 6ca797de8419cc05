// PrepareStep: what `slipway step` prints before running (errors, ignored, skip, help).
#include <sstream>

#include "client/step/step_main.h"
#include "gtest/gtest.h"
#include "tests/step/step_test_env.h"

namespace slipway::client::step {
namespace {

PreparedStep Prepare(const Vars& vars, const std::vector<std::string>& args, std::string* out,
                     std::string* err) {
  std::ostringstream o, e;
  PreparedStep p = PrepareStep(LookupIn(vars), NamesOf(vars), args, o, e);
  *out = o.str();
  *err = e.str();
  return p;
}

TEST(PrepareStepTest, SettingsErrorIsOneLineAndExitTwo) {
  std::string out, err;
  auto p = Prepare({{"PLUGIN_REPO", "r.example/app"}, {"PLUGIN_NO_PUSH", "1"}, {"PLUGIN_PUSH_ONLY", "1"}},
                   {}, &out, &err);
  EXPECT_EQ(p.exit_code, 2);
  EXPECT_FALSE(p.settings.has_value());
  EXPECT_EQ(err, "slipway: inputs no-push and push-only cannot be used together\n");
  EXPECT_EQ(out, "");
}

TEST(PrepareStepTest, IgnoredVariablesAreListedAndTheStepRuns) {
  std::string out, err;
  auto p = Prepare({{"PLUGIN_REPO", "r.example/app"}, {"PLUGIN_MTU", "1400"}, {"PLUGIN_BIP", "x"},
                    {"PLUGIN_PASSWORD", "hunter2"}, {"PLUGIN_USERNAME", "u"}},
                   {}, &out, &err);
  EXPECT_EQ(p.exit_code, 0);
  ASSERT_TRUE(p.settings.has_value());
  EXPECT_EQ(err, "slipway: ignored: PLUGIN_BIP, PLUGIN_MTU\n");
  EXPECT_EQ(err.find("hunter2"), std::string::npos);
}

TEST(PrepareStepTest, AutoTagSkipSucceedsWithoutSettings) {
  std::string out, err;
  auto p = Prepare({{"PLUGIN_REPO", "r.example/app"}, {"PLUGIN_AUTO_TAG", "true"},
                    {"DRONE_COMMIT_REF", "refs/heads/topic"}, {"DRONE_REPO_BRANCH", "main"}},
                   {}, &out, &err);
  EXPECT_EQ(p.exit_code, 0);
  EXPECT_FALSE(p.settings.has_value());
  EXPECT_EQ(err, "slipway: skipping automated docker build for refs/heads/topic\n");
}

TEST(PrepareStepTest, HelpListsTheFlags) {
  std::string out, err;
  auto p = Prepare({}, {"--help"}, &out, &err);
  EXPECT_EQ(p.exit_code, 0);
  EXPECT_FALSE(p.settings.has_value());
  EXPECT_NE(out.find("--push-only"), std::string::npos);
  EXPECT_NE(out.find("--build-args-new V"), std::string::npos);
}

}  // namespace
}  // namespace slipway::client::step
