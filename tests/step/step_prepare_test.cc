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
  auto p = Prepare(
      {{"PLUGIN_REPO", "r.example/app"}, {"PLUGIN_NO_PUSH", "1"}, {"PLUGIN_PUSH_ONLY", "1"}}, {},
      &out, &err);
  EXPECT_EQ(p.exit_code, 2);
  EXPECT_FALSE(p.settings.has_value());
  EXPECT_EQ(err, "slipway: inputs no-push and push-only cannot be used together\n");
  EXPECT_EQ(out, "");
}

TEST(PrepareStepTest, IgnoredVariablesAreListedAndTheStepRuns) {
  std::string out, err;
  auto p = Prepare({{"PLUGIN_REPO", "r.example/app"},
                    {"PLUGIN_MTU", "1400"},
                    {"PLUGIN_BIP", "x"},
                    {"PLUGIN_PASSWORD", "hunter2"},
                    {"PLUGIN_USERNAME", "u"}},
                   {}, &out, &err);
  EXPECT_EQ(p.exit_code, 0);
  ASSERT_TRUE(p.settings.has_value());
  EXPECT_EQ(err, "slipway: ignored: PLUGIN_BIP, PLUGIN_MTU\n");
  EXPECT_EQ(err.find("hunter2"), std::string::npos);
}

TEST(PrepareStepTest, AutoTagSkipSucceedsWithoutSettings) {
  std::string out, err;
  auto p = Prepare({{"PLUGIN_REPO", "r.example/app"},
                    {"PLUGIN_AUTO_TAG", "true"},
                    {"DRONE_COMMIT_REF", "refs/heads/topic"},
                    {"DRONE_REPO_BRANCH", "main"}},
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

TEST(PrepareStepTest, PrintSettingsMasksEverySecret) {
  std::string out, err;
  auto p = Prepare({{"PLUGIN_REPO", "team/app"},
                    {"PLUGIN_USERNAME", "bob"},
                    {"PLUGIN_PASSWORD", "pw-SECRET-1"},
                    {"PLUGIN_BASE_IMAGE_USERNAME", "puller"},
                    {"PLUGIN_BASE_IMAGE_PASSWORD", "pw-SECRET-2"},
                    {"PLUGIN_BUILD_ARGS", "NPM_TOKEN=pw-SECRET-3,VERSION=1.2"},
                    {"PLUGIN_TAGS", "1.2,latest"}},
                   {"--print-settings"}, &out, &err);
  EXPECT_EQ(p.exit_code, 0);
  EXPECT_FALSE(p.settings.has_value());
  EXPECT_EQ(out.find("SECRET"), std::string::npos) << out;
  EXPECT_NE(out.find("mode: build-and-push\n"), std::string::npos) << out;
  EXPECT_NE(out.find("tags: 1.2,latest\n"), std::string::npos) << out;
  EXPECT_NE(out.find("flavour: docker-hub\n"), std::string::npos) << out;
  EXPECT_NE(out.find("credential: basic user=bob password=***\n"), std::string::npos) << out;
  EXPECT_NE(out.find("build_args: NPM_TOKEN=*** VERSION=1.2\n"), std::string::npos) << out;
  EXPECT_NE(out.find("base_credential: docker.io basic user=puller password=***\n"),
            std::string::npos)
      << out;

  const std::string key = R"({"private_key":"pw-SECRET-4"})";
  Prepare({{"PLUGIN_REPO", "p/app"}, {"PLUGIN_JSON_KEY", key}, {"PLUGIN_LOCATION", "us"}},
          {"--print-settings"}, &out, &err);
  EXPECT_NE(out.find("credential: gar location=us json_key=***\n"), std::string::npos) << out;
  EXPECT_EQ(out.find("SECRET"), std::string::npos) << out;
  Prepare({{"PLUGIN_REPO", "a.azurecr.io/app"},
           {"PLUGIN_CLIENT_ID", "c"},
           {"PLUGIN_CLIENT_SECRET", "pw-SECRET-5"},
           {"PLUGIN_TENANT_ID", "t"}},
          {"--print-settings"}, &out, &err);
  EXPECT_EQ(out.find("SECRET"), std::string::npos) << out;
  Prepare({{"PLUGIN_REPO", "1.dkr.ecr.us-east-1.amazonaws.com/app"},
           {"PLUGIN_ACCESS_KEY", "AK"},
           {"PLUGIN_SECRET_KEY", "pw-SECRET-6"},
           {"PLUGIN_SESSION_TOKEN", "pw-SECRET-7"}},
          {"--print-settings"}, &out, &err);
  EXPECT_EQ(out.find("SECRET"), std::string::npos) << out;
  EXPECT_NE(out.find("secret_key=***"), std::string::npos) << out;
}

}  // namespace
}  // namespace slipway::client::step
