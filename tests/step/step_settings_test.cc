// ParseStepSettings: every plugin variable, alias and flag, modes, conflicts, precedence.
#include "client/step/step_settings.h"

#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/step/step_test_env.h"
#include "tests/support/temp_dir.h"

namespace slipway::client::step {
namespace {

using slipway::testing::TempDir;
using slipway::testing::WriteFile;
using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::Pair;
using ::testing::UnorderedElementsAre;

constexpr char kRepo[] = "reg.example.com/team/app";

TEST(StepSettingsTest, DefaultsForARepoAlone) {
  auto s = Parse({{"PLUGIN_REPO", kRepo}, {"DOCKER_HOST", "tcp://127.0.0.1:2375"}});
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->mode, StepSettings::Mode::kBuildAndPush);
  EXPECT_EQ(s->repo, kRepo);
  EXPECT_EQ(s->registry, "reg.example.com");
  EXPECT_THAT(s->tags, ElementsAre("latest"));
  EXPECT_EQ(s->context, ".");
  EXPECT_EQ(s->dockerfile, "Dockerfile");
  EXPECT_EQ(s->flavour, StepSettings::Flavour::kGeneric);
  EXPECT_EQ(s->credential.registry(), "reg.example.com");
  EXPECT_EQ(s->credential.kind_case(), v1::RegistryCredential::KIND_NOT_SET);
  EXPECT_THAT(s->build_args, IsEmpty());
  EXPECT_THAT(s->labels, IsEmpty());
  EXPECT_FALSE(s->source_date_epoch.has_value());
  EXPECT_EQ(s->push_retry, 0);
  EXPECT_EQ(s->docker_host, "tcp://127.0.0.1:2375");
  EXPECT_THAT(s->ignored, IsEmpty());
  EXPECT_TRUE(s->skip_reason.empty());
}

TEST(StepSettingsTest, DockerfileDefaultIsThePluginsWithAnyContext) {
  auto s = Parse({{"PLUGIN_REPO", kRepo}, {"PLUGIN_CONTEXT", "services/api/"}});
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->context, "services/api/");
  EXPECT_EQ(s->dockerfile, "Dockerfile");  // found by ResolveStepDockerfile
}

// Each string setting by its variable, every alias, the buildah lowercase spelling, the flag
// and the env file.
struct StringCase {
  std::vector<std::string> vars;  // canonical first, then aliases
  std::string flag;               // "" = none
  std::function<std::string(const StepSettings&)> get;
};

std::vector<StringCase> StringCases() {
  return {
      {{"PLUGIN_TARGET"}, "target", [](const StepSettings& s) { return s.target; }},
      {{"PLUGIN_CONTEXT"}, "context", [](const StepSettings& s) { return s.context; }},
      {{"PLUGIN_DOCKERFILE"}, "dockerfile", [](const StepSettings& s) { return s.dockerfile; }},
      {{"PLUGIN_PLATFORM", "PLUGIN_CUSTOM_PLATFORM"},
       "platform",
       [](const StepSettings& s) { return s.platform; }},
      {{"PLUGIN_TAR_PATH", "PLUGIN_DESTINATION_TAR_PATH"},
       "tar-path",
       [](const StepSettings& s) { return s.tar_path; }},
      {{"PLUGIN_OCI_LAYOUT_PATH"},
       "oci-layout-path",
       [](const StepSettings& s) { return s.oci_layout_path; }},
      {{"DRONE_OUTPUT"}, "drone-output", [](const StepSettings& s) { return s.drone_output; }},
      {{"PLUGIN_ARTIFACT_FILE"},
       "artifact-file",
       [](const StepSettings& s) { return s.artifact_file; }},
      {{"PLUGIN_DIGEST_FILE"}, "digest-file", [](const StepSettings& s) { return s.digest_file; }},
      {{"PLUGIN_IMAGE_NAME_WITH_DIGEST_FILE"},
       "image-name-with-digest-file",
       [](const StepSettings& s) { return s.image_name_with_digest_file; }},
      {{"PLUGIN_IMAGE_NAME_TAG_WITH_DIGEST_FILE"},
       "image-name-tag-with-digest-file",
       [](const StepSettings& s) { return s.image_name_tag_with_digest_file; }},
      {{"DOCKER_HOST"}, "docker-host", [](const StepSettings& s) { return s.docker_host; }},
      {{"PLUGIN_REPO"}, "repo", [](const StepSettings& s) { return s.repo; }},
  };
}

// A value each setting accepts.
std::string SampleFor(const std::string& var) {
  if (var == "PLUGIN_PLATFORM" || var == "PLUGIN_CUSTOM_PLATFORM") return "linux/arm64/v8";
  if (var == "PLUGIN_REPO") return "reg.example.com/other/app";
  return "value-for-" + var;
}

TEST(StepSettingsTest, EveryStringVariableAliasSpellingFlagAndEnvFile) {
  TempDir dir;
  for (const auto& c : StringCases()) {
    for (const auto& var : c.vars) {
      SCOPED_TRACE(var);
      const std::string value = SampleFor(var);
      Vars base = {{"PLUGIN_REPO", kRepo}};
      // The variable.
      Vars env = base;
      env[var] = value;
      auto s = Parse(env);
      ASSERT_TRUE(s.ok()) << s.status();
      EXPECT_EQ(c.get(*s), value);
      EXPECT_THAT(s->ignored, IsEmpty());
      // The buildah plugin's lowercase spelling.
      if (var.rfind("PLUGIN_", 0) == 0) {
        Vars lower = base;
        std::string name = "PLUGIN_" + absl::AsciiStrToLower(var.substr(7));
        if (var == "PLUGIN_REPO") lower.clear();
        lower[name] = value;
        auto l = Parse(lower);
        ASSERT_TRUE(l.ok()) << l.status();
        EXPECT_EQ(c.get(*l), value) << name;
        EXPECT_THAT(l->ignored, IsEmpty());
      }
      // The env file.
      WriteFile(dir.Sub("step.env"), "# settings\nexport " + var + "=\"" + value + "\"\n");
      Vars with_file = base;
      if (var == "PLUGIN_REPO") with_file.clear();
      with_file["PLUGIN_ENV_FILE"] = dir.Sub("step.env");
      auto f = Parse(with_file);
      ASSERT_TRUE(f.ok()) << f.status();
      EXPECT_EQ(c.get(*f), value);
      // The environment beats the env file, the flag beats both.
      Vars both = with_file;
      both[var] = value + "-env";
      if (var == "PLUGIN_PLATFORM" || var == "PLUGIN_CUSTOM_PLATFORM") both[var] = "linux/s390x";
      if (var == "PLUGIN_REPO") both[var] = "reg.example.com/env/app";
      auto b = Parse(both);
      ASSERT_TRUE(b.ok()) << b.status();
      EXPECT_EQ(c.get(*b), both[var]);
      if (!c.flag.empty()) {
        std::string flag_value =
            var == "PLUGIN_PLATFORM" || var == "PLUGIN_CUSTOM_PLATFORM"
                ? "windows/amd64"
                : (var == "PLUGIN_REPO" ? "flag.example.com/app" : "from-flag");
        auto fl = Parse(both, {"--" + c.flag, flag_value});
        ASSERT_TRUE(fl.ok()) << fl.status();
        EXPECT_EQ(c.get(*fl), flag_value);
        auto eq = Parse(both, {"--" + c.flag + "=" + flag_value});
        ASSERT_TRUE(eq.ok()) << eq.status();
        EXPECT_EQ(c.get(*eq), flag_value);
      }
    }
  }
}

TEST(StepSettingsTest, FirstAliasWinsOverLaterOnes) {
  auto s = Parse({{"PLUGIN_REPO", kRepo},
                  {"PLUGIN_TAR_PATH", "a.tar"},
                  {"PLUGIN_DESTINATION_TAR_PATH", "b.tar"},
                  {"PLUGIN_TAGS", "t1"},
                  {"PLUGIN_TAG", "t2"},
                  {"PLUGIN_LABELS", "a=1"},
                  {"PLUGIN_CUSTOM_LABELS", "b=2"}});
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->tar_path, "a.tar");
  EXPECT_THAT(s->tags, ElementsAre("t1"));
  EXPECT_THAT(s->labels, ElementsAre(Pair("a", "1")));
}

// Each switch: variable values, spellings and flag forms.
struct BoolCase {
  std::vector<std::string> vars;
  std::string flag;
  std::function<bool(const StepSettings&)> get;
};

std::vector<BoolCase> BoolCases() {
  return {
      {{"PLUGIN_NO_CACHE"}, "no-cache", [](const StepSettings& s) { return s.no_cache; }},
      {{"PLUGIN_REPRODUCIBLE"},
       "reproducible",
       [](const StepSettings& s) { return s.reproducible; }},
      {{"PLUGIN_INSECURE"},
       "insecure",
       [](const StepSettings& s) { return s.tls.insecure_http(); }},
      {{"PLUGIN_SKIP_TLS_VERIFY", "PLUGIN_SKIP_TLS_VERIFY_REGISTRY"},
       "skip-tls-verify",
       [](const StepSettings& s) { return s.tls.skip_verify(); }},
      {{"PLUGIN_BUILDX_LOAD"}, "buildx-load", [](const StepSettings& s) { return s.buildx_load; }},
      {{"PLUGIN_DAEMON_OFF"}, "daemon-off", [](const StepSettings& s) { return s.daemon_off; }},
      {{"PLUGIN_JSON"}, "json", [](const StepSettings& s) { return s.json; }},
      {{"PLUGIN_SCAN"}, "scan", [](const StepSettings& s) { return s.scan; }},
      {{"PLUGIN_NO_PUSH", "PLUGIN_DRY_RUN"},
       "no-push",
       [](const StepSettings& s) { return s.mode == StepSettings::Mode::kBuildOnly; }},
      {{"PLUGIN_PUSH_ONLY"},
       "push-only",
       [](const StepSettings& s) { return s.mode == StepSettings::Mode::kPushOnly; }},
  };
}

TEST(StepSettingsTest, EveryBooleanParsesTheSameWay) {
  const std::vector<std::pair<std::string, bool>> values = {
      {"true", true}, {"TRUE", true}, {"True", true},   {"1", true},
      {"yes", true},  {"YES", true},  {"false", false}, {"FALSE", false},
      {"0", false},   {"no", false},  {"No", false},    {" true ", true}};
  for (const auto& c : BoolCases()) {
    for (const auto& var : c.vars) {
      SCOPED_TRACE(var);
      auto unset = Parse({{"PLUGIN_REPO", kRepo}});
      ASSERT_TRUE(unset.ok());
      EXPECT_FALSE(c.get(*unset));
      for (const auto& [text, want] : values) {
        auto s = Parse({{"PLUGIN_REPO", kRepo}, {var, text}});
        ASSERT_TRUE(s.ok()) << text << ": " << s.status();
        EXPECT_EQ(c.get(*s), want) << text;
      }
      auto lower = Parse(
          {{"PLUGIN_REPO", kRepo}, {"PLUGIN_" + absl::AsciiStrToLower(var.substr(7)), "true"}});
      ASSERT_TRUE(lower.ok()) << lower.status();
      EXPECT_TRUE(c.get(*lower));
      EXPECT_EQ(ErrorOf({{"PLUGIN_REPO", kRepo}, {var, "maybe"}}),
                var + ": \"maybe\" is not a boolean (true/false/1/0/yes/no)");
      // Flags: alone, =true, =false (beating the variable).
      auto flag = Parse({{"PLUGIN_REPO", kRepo}}, {"--" + c.flag});
      ASSERT_TRUE(flag.ok()) << flag.status();
      EXPECT_TRUE(c.get(*flag));
      auto off = Parse({{"PLUGIN_REPO", kRepo}, {var, "true"}}, {"--" + c.flag + "=false"});
      ASSERT_TRUE(off.ok()) << off.status();
      EXPECT_FALSE(c.get(*off));
      EXPECT_EQ(ErrorOf({{"PLUGIN_REPO", kRepo}}, {"--" + c.flag + "=perhaps"}),
                "--" + c.flag + ": \"perhaps\" is not a boolean (true/false/1/0/yes/no)");
    }
  }
}

TEST(StepSettingsTest, ModeFlagAliases) {
  auto dry = Parse({}, {"--dry-run"});
  ASSERT_TRUE(dry.ok()) << dry.status();
  EXPECT_EQ(dry->mode, StepSettings::Mode::kBuildOnly);
  auto dry_lower = Parse({{"PLUGIN_dry_run", "true"}, {"PLUGIN_tar_path", "out.tar"}});
  ASSERT_TRUE(dry_lower.ok()) << dry_lower.status();
  EXPECT_EQ(dry_lower->mode, StepSettings::Mode::kBuildOnly);
  EXPECT_EQ(dry_lower->tar_path, "out.tar");
  auto push_only = Parse(
      {{"PLUGIN_REPO", kRepo}, {"PLUGIN_push_only", "true"}, {"PLUGIN_source_tar_path", "in.tar"}});
  ASSERT_TRUE(push_only.ok()) << push_only.status();
  EXPECT_EQ(push_only->mode, StepSettings::Mode::kPushOnly);
  EXPECT_EQ(push_only->source_tar_path, "in.tar");
  auto retag = Parse({{"PLUGIN_REPO", kRepo},
                      {"PLUGIN_PUSH_ONLY", "true"},
                      {"PLUGIN_SOURCE_IMAGE", "local/app:1"}});
  ASSERT_TRUE(retag.ok()) << retag.status();
  EXPECT_EQ(retag->source_image, "local/app:1");
  auto explicit_off =
      Parse({{"PLUGIN_REPO", kRepo}, {"PLUGIN_NO_PUSH", "true"}, {"PLUGIN_PUSH_ONLY", "false"}});
  ASSERT_TRUE(explicit_off.ok()) << explicit_off.status();
  EXPECT_EQ(explicit_off->mode, StepSettings::Mode::kBuildOnly);
}

TEST(StepSettingsTest, BuildOnlyNeedsNoRepo) {
  auto s = Parse({{"PLUGIN_NO_PUSH", "true"}});
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->repo, "");
  EXPECT_THAT(s->tags, ElementsAre("latest"));
}

// Every conflict, with its exact message.
TEST(StepSettingsTest, ConflictsFailFastWithThePluginsWording) {
  const std::vector<std::pair<Vars, std::string>> cases = {
      {{{"PLUGIN_REPO", kRepo}, {"PLUGIN_NO_PUSH", "true"}, {"PLUGIN_PUSH_ONLY", "true"}},
       "inputs no-push and push-only cannot be used together"},
      {{{"PLUGIN_REPO", kRepo}, {"PLUGIN_DRY_RUN", "true"}, {"PLUGIN_push_only", "1"}},
       "inputs no-push and push-only cannot be used together"},
      {{{"PLUGIN_REPO", kRepo}, {"PLUGIN_PUSH_ONLY", "true"}, {"PLUGIN_TAR_PATH", "o.tar"}},
       "PLUGIN_TAR_PATH is a build output; it cannot be used with push-only"},
      {{{"PLUGIN_REPO", kRepo},
        {"PLUGIN_PUSH_ONLY", "true"},
        {"PLUGIN_DESTINATION_TAR_PATH", "o.tar"}},
       "PLUGIN_DESTINATION_TAR_PATH is a build output; it cannot be used with push-only"},
      {{{"PLUGIN_REPO", kRepo}, {"PLUGIN_PUSH_ONLY", "true"}, {"PLUGIN_OCI_LAYOUT_PATH", "o"}},
       "PLUGIN_OCI_LAYOUT_PATH is a build output; it cannot be used with push-only"},
      {{{"PLUGIN_REPO", kRepo},
        {"PLUGIN_PUSH_ONLY", "true"},
        {"PLUGIN_SOURCE_TAR_PATH", "i.tar"},
        {"PLUGIN_SOURCE_IMAGE", "x:1"}},
       "PLUGIN_SOURCE_TAR_PATH and PLUGIN_SOURCE_IMAGE cannot be used together"},
      {{{"PLUGIN_NO_PUSH", "true"}, {"PLUGIN_SOURCE_TAR_PATH", "i.tar"}},
       "PLUGIN_SOURCE_TAR_PATH is a push-only input; it cannot be used with no-push"},
      {{{"PLUGIN_NO_PUSH", "true"}, {"PLUGIN_SOURCE_IMAGE", "x:1"}},
       "PLUGIN_SOURCE_IMAGE is a push-only input; it cannot be used with no-push"},
      {{{"PLUGIN_REPO", kRepo}, {"PLUGIN_SOURCE_TAR_PATH", "i.tar"}},
       "PLUGIN_SOURCE_TAR_PATH is a push-only input; set PLUGIN_PUSH_ONLY=true"},
      {{}, "repository name to publish image must be specified"},
      {{{"PLUGIN_PUSH_ONLY", "true"}}, "repository name to publish image must be specified"},
      {{{"PLUGIN_REPO", kRepo}, {"PLUGIN_AUTO_TAG", "true"}, {"PLUGIN_EXPAND_TAG", "true"}},
       "the auto-tag flag conflicts with the expand-tag flag"},
      {{{"PLUGIN_REPO", kRepo}, {"PLUGIN_AUTO_TAG", "true"}, {"PLUGIN_TAGS", "1.0,dev"}},
       "the auto-tag flag does not work with user provided tags 1.0,dev"},
      {{{"PLUGIN_REPO", kRepo}, {"PLUGIN_USERNAME", "u"}},
       "PLUGIN_USERNAME is set but PLUGIN_PASSWORD is not: password must be specified"},
      {{{"PLUGIN_REPO", kRepo}, {"PLUGIN_PASSWORD", "p"}},
       "PLUGIN_PASSWORD is set but PLUGIN_USERNAME is not: username must be specified"},
      {{{"PLUGIN_REPO", kRepo}, {"PLUGIN_BASE_IMAGE_USERNAME", "u"}},
       "PLUGIN_BASE_IMAGE_USERNAME is set but PLUGIN_BASE_IMAGE_PASSWORD is not: password must "
       "be specified"},
      {{{"PLUGIN_REPO", kRepo}, {"PLUGIN_REGION", "eu-west-1"}, {"PLUGIN_JSON_KEY", "{}"}},
       "PLUGIN_REGION (ECR) and PLUGIN_JSON_KEY (GAR) select different registry credential "
       "flavours; set only one"},
      {{{"PLUGIN_REPO", kRepo}, {"PLUGIN_LOCATION", "us"}, {"PLUGIN_CLIENT_ID", "c"}},
       "PLUGIN_LOCATION (GAR) and PLUGIN_CLIENT_ID (ACR) select different registry credential "
       "flavours; set only one"},
      {{{"PLUGIN_REPO", kRepo}, {"PLUGIN_ACCESS_KEY", "AK"}, {"PLUGIN_TENANT_ID", "t"}},
       "PLUGIN_ACCESS_KEY (ECR) and PLUGIN_TENANT_ID (ACR) select different registry credential "
       "flavours; set only one"},
      {{{"PLUGIN_REPO", "reg.example.com/app:1.0"}},
       "PLUGIN_REPO \"reg.example.com/app:1.0\" must be a repository name without scheme, tag or "
       "digest (tags go in PLUGIN_TAGS)"},
      {{{"PLUGIN_REPO", kRepo}, {"PLUGIN_TAGS", "ok,not ok"}},
       "PLUGIN_TAGS: \"not ok\" is not a valid image tag"},
      {{{"PLUGIN_REPO", kRepo}, {"PLUGIN_PLATFORM", "linux/amd64,linux/arm64"}},
       "PLUGIN_PLATFORM: \"linux/amd64,linux/arm64\": one platform per step (multi-platform "
       "builds are not supported)"},
      {{{"PLUGIN_REPO", kRepo}, {"PLUGIN_PLATFORM", "amd64"}},
       "PLUGIN_PLATFORM: \"amd64\" is not os/arch[/variant]"},
      {{{"PLUGIN_REPO", kRepo}, {"PLUGIN_PUSH_RETRY", "three"}},
       "PLUGIN_PUSH_RETRY: \"three\" is not a non-negative integer"},
      {{{"PLUGIN_REPO", kRepo}, {"PLUGIN_PUSH_RETRY", "-1"}},
       "PLUGIN_PUSH_RETRY: \"-1\" is not a non-negative integer"},
      {{{"PLUGIN_REPO", kRepo}, {"PLUGIN_SCAN_REQUIRE", "most"}},
       "PLUGIN_SCAN_REQUIRE: \"most\" is not any or all"},
      {{{"PLUGIN_REPO", kRepo}, {"PLUGIN_MAX_SEVERITY", "severe"}},
       "PLUGIN_MAX_SEVERITY: \"severe\" is not none, low, medium, high or critical"},
      {{{"PLUGIN_REPO", kRepo},
        {"PLUGIN_REPRODUCIBLE", "true"},
        {"SOURCE_DATE_EPOCH", "yesterday"}},
       "SOURCE_DATE_EPOCH: \"yesterday\" is not a non-negative integer"},
      {{{"PLUGIN_REPO", kRepo}, {"PLUGIN_BUILD_ARGS", "A=1,=2"}},
       "PLUGIN_BUILD_ARGS: malformed entry \"=...\" (want KEY=VALUE)"},
      {{{"PLUGIN_REPO", kRepo}, {"PLUGIN_BUILD_ARGS_NEW", "A=1;B C=2"}},
       "PLUGIN_BUILD_ARGS_NEW: malformed entry \"B C=...\" (want KEY=VALUE)"},
      {{{"PLUGIN_REPO", kRepo}, {"PLUGIN_CUSTOM_LABELS", "=x"}},
       "PLUGIN_CUSTOM_LABELS: malformed entry \"=...\" (want KEY=VALUE)"},
      {{{"PLUGIN_ENV_FILE", "/nonexistent/step.env"}},
       "PLUGIN_ENV_FILE=/nonexistent/step.env: cannot open"},
      {{{"PLUGIN_REPO", kRepo}, {"PLUGIN_REGISTRY_CERTIFICATE", "/nonexistent/ca.pem"}},
       "PLUGIN_REGISTRY_CERTIFICATE=/nonexistent/ca.pem: cannot open"},
  };
  for (const auto& [vars, message] : cases) {
    EXPECT_EQ(ErrorOf(vars), message);
  }
}

TEST(StepSettingsTest, FlagErrors) {
  EXPECT_EQ(ErrorOf({{"PLUGIN_REPO", kRepo}}, {"--frobnicate"}), "unknown flag --frobnicate");
  EXPECT_EQ(ErrorOf({{"PLUGIN_REPO", kRepo}}, {"--target"}), "--target needs a value");
  EXPECT_EQ(ErrorOf({{"PLUGIN_REPO", kRepo}}, {"build"}),
            "unexpected argument \"build\" (settings are --flags or PLUGIN_* variables)");
  EXPECT_EQ(ErrorOf({}, {"--no-push", "--push-only"}),
            "inputs no-push and push-only cannot be used together");
}

TEST(StepSettingsTest, TagsAreACommaList) {
  auto s = Parse({{"PLUGIN_REPO", kRepo}, {"PLUGIN_TAGS", " 1.0, latest,,dev_1 "}});
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_THAT(s->tags, ElementsAre("1.0", "latest", "dev_1"));
  auto tag = Parse({{"PLUGIN_REPO", kRepo}, {"PLUGIN_TAG", "v2"}});
  ASSERT_TRUE(tag.ok()) << tag.status();
  EXPECT_THAT(tag->tags, ElementsAre("v2"));
  auto flags = Parse({{"PLUGIN_REPO", kRepo}, {"PLUGIN_TAGS", "env"}},
                     {"--tag", "a", "--tags=b,c", "--tag", "d"});
  ASSERT_TRUE(flags.ok()) << flags.status();
  EXPECT_THAT(flags->tags, ElementsAre("a", "b", "c", "d"));
}

TEST(StepSettingsTest, AutoTagFollowsThePlugins) {
  struct Case {
    Vars vars;
    std::vector<std::string> tags;
  };
  const std::vector<Case> cases = {
      {{{"DRONE_COMMIT_REF", "refs/tags/v1.2.3"}}, {"1", "1.2", "1.2.3"}},
      {{{"DRONE_COMMIT_REF", "refs/tags/1.2.3"}}, {"1", "1.2", "1.2.3"}},
      {{{"DRONE_COMMIT_REF", "refs/tags/v0.4.1"}}, {"0.4", "0.4.1"}},
      {{{"DRONE_COMMIT_REF", "refs/tags/v2020.06.01"}}, {"2020", "2020.06", "2020.06.01"}},
      {{{"DRONE_COMMIT_REF", "refs/tags/v1.2.3-rc.1"}}, {"1.2.3-rc.1"}},
      {{{"DRONE_COMMIT_REF", "refs/tags/v1.2.3"}, {"PLUGIN_AUTO_TAG_SUFFIX", "linux-amd64"}},
       {"1-linux-amd64", "1.2-linux-amd64", "1.2.3-linux-amd64"}},
      {{{"DRONE_COMMIT_REF", "refs/heads/main"}, {"DRONE_REPO_BRANCH", "main"}}, {"latest"}},
      {{{"DRONE_COMMIT_REF", "refs/heads/main"},
        {"DRONE_REPO_BRANCH", "main"},
        {"PLUGIN_DEFAULT_SUFFIX", "arm"}},
       {"arm"}},
      // Without DRONE_COMMIT_REF: DRONE_TAG, then DRONE_COMMIT_BRANCH.
      {{{"DRONE_TAG", "v3.1.4"}, {"DRONE_COMMIT_SHA", "abc"}}, {"3", "3.1", "3.1.4"}},
      {{{"DRONE_COMMIT_BRANCH", "trunk"}, {"DRONE_REPO_BRANCH", "trunk"}}, {"latest"}},
      // "latest" alone is the plugins' default value, not a user tag.
      {{{"DRONE_COMMIT_REF", "refs/tags/v1.0.0"}, {"PLUGIN_TAGS", "latest"}},
       {"1", "1.0", "1.0.0"}},
  };
  for (const auto& c : cases) {
    Vars vars = c.vars;
    vars["PLUGIN_REPO"] = kRepo;
    vars["PLUGIN_AUTO_TAG"] = "true";
    auto s = Parse(vars);
    ASSERT_TRUE(s.ok()) << s.status();
    EXPECT_EQ(s->tags, c.tags) << ::testing::PrintToString(c.vars);
    EXPECT_EQ(s->skip_reason, "");
  }
  // PLUGIN_DEFAULT_TAGS is the older name; --auto-tag and --commit-ref the flags.
  auto old_name = Parse({{"PLUGIN_REPO", kRepo},
                         {"PLUGIN_DEFAULT_TAGS", "true"},
                         {"DRONE_COMMIT_REF", "refs/tags/v5.0.0"}});
  ASSERT_TRUE(old_name.ok()) << old_name.status();
  EXPECT_THAT(old_name->tags, ElementsAre("5", "5.0", "5.0.0"));
  auto flags = Parse({{"PLUGIN_REPO", kRepo}}, {"--auto-tag", "--commit-ref", "refs/tags/v6.1.0"});
  ASSERT_TRUE(flags.ok()) << flags.status();
  EXPECT_THAT(flags->tags, ElementsAre("6", "6.1", "6.1.0"));
}

TEST(StepSettingsTest, AutoTagSkipsOtherBranchesAndRejectsBadVersions) {
  auto s = Parse({{"PLUGIN_REPO", kRepo},
                  {"PLUGIN_AUTO_TAG", "true"},
                  {"DRONE_COMMIT_REF", "refs/heads/feature"},
                  {"DRONE_REPO_BRANCH", "main"}});
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->skip_reason, "skipping automated docker build for refs/heads/feature");
  EXPECT_THAT(s->tags, IsEmpty());
  EXPECT_EQ(ErrorOf({{"PLUGIN_REPO", kRepo},
                     {"PLUGIN_AUTO_TAG", "true"},
                     {"DRONE_COMMIT_REF", "refs/tags/release-7"}}),
            "invalid semantic version when auto detecting the tag from refs/tags/release-7 (want "
            "refs/tags/[v]MAJOR.MINOR.PATCH)");
  EXPECT_EQ(ErrorOf({{"PLUGIN_REPO", kRepo},
                     {"PLUGIN_AUTO_TAG", "true"},
                     {"DRONE_COMMIT_REF", "refs/tags/v1.2"}}),
            "invalid semantic version when auto detecting the tag from refs/tags/v1.2 (want "
            "refs/tags/[v]MAJOR.MINOR.PATCH)");
}

TEST(StepSettingsTest, ExpandTagTurnsSemverTagsIntoTheirPrefixes) {
  auto s = Parse({{"PLUGIN_REPO", kRepo},
                  {"PLUGIN_EXPAND_TAG", "true"},
                  {"PLUGIN_TAGS", "v1.2.3,latest,1.2.4,v2.0.0-beta_1,1.2"}});
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_THAT(s->tags,
              ElementsAre("1", "1.2", "1.2.3", "latest", "1.2.4", "2.0.0-beta-1", "1.2.0"));
}

TEST(StepSettingsTest, BuildArgsCommaAndSemicolonListsKeepEqualsInValues) {
  auto s = Parse({{"PLUGIN_REPO", kRepo},
                  {"PLUGIN_BUILD_ARGS", "A=1,B=x=y, C = spaced ,FROM_ENV"},
                  {"PLUGIN_BUILD_ARGS_NEW", "D=a,b;E=k=v==;A=override"},
                  {"PLUGIN_BUILD_ARGS_FROM_ENV", "GOPROXY,UNSET_VAR"},
                  {"PLUGIN_MULTIPLE_BUILD_ARGS", "true"},
                  {"FROM_ENV", "env-value"},
                  {"GOPROXY", "https://proxy.example"}});
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_THAT(s->build_args,
              UnorderedElementsAre(Pair("A", "override"), Pair("B", "x=y"), Pair("C", " spaced"),
                                   Pair("FROM_ENV", "env-value"), Pair("D", "a,b"),
                                   Pair("E", "k=v=="), Pair("GOPROXY", "https://proxy.example")));
  EXPECT_THAT(s->ignored, IsEmpty());
  auto flags = Parse({{"PLUGIN_REPO", kRepo}, {"PLUGIN_BUILD_ARGS", "A=env"}},
                     {"--build-arg", "A=flag", "--build-arg=B=2", "--build-args-new", "C=3,4"});
  ASSERT_TRUE(flags.ok()) << flags.status();
  EXPECT_THAT(flags->build_args,
              UnorderedElementsAre(Pair("A", "flag"), Pair("B", "2"), Pair("C", "3,4")));
}

TEST(StepSettingsTest, LabelsSchemaAndAutoLabels) {
  auto s = Parse({{"PLUGIN_REPO", kRepo},
                  {"PLUGIN_CUSTOM_LABELS", "team=core,empty,org.opencontainers.image.url=mine"},
                  {"PLUGIN_LABEL_SCHEMA", "version=1.0,vcs-url=https://git"},
                  {"DRONE_COMMIT_SHA", "0123abc"},
                  {"DRONE_REMOTE_URL", "https://git.example.com/team/app.git"},
                  {"DRONE_REPO_LINK", "https://git.example.com/team/app"}});
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_THAT(s->labels,
              UnorderedElementsAre(
                  Pair("team", "core"), Pair("empty", ""), Pair("org.label-schema.version", "1.0"),
                  Pair("org.label-schema.vcs-url", "https://git"),
                  Pair("org.opencontainers.image.revision", "0123abc"),
                  Pair("org.opencontainers.image.source", "https://git.example.com/team/app.git"),
                  Pair("org.opencontainers.image.url", "mine")));
  auto off = Parse({{"PLUGIN_REPO", kRepo},
                    {"PLUGIN_AUTO_LABEL", "false"},
                    {"DRONE_COMMIT_SHA", "0123abc"},
                    {"PLUGIN_LABELS", "a=b"}});
  ASSERT_TRUE(off.ok()) << off.status();
  EXPECT_THAT(off->labels, ElementsAre(Pair("a", "b")));
}

TEST(StepSettingsTest, ReproducibleSourceDateEpoch) {
  auto zero = Parse({{"PLUGIN_REPO", kRepo}, {"PLUGIN_REPRODUCIBLE", "true"}});
  ASSERT_TRUE(zero.ok());
  EXPECT_EQ(zero->source_date_epoch, 0);
  auto env = Parse({{"PLUGIN_REPO", kRepo},
                    {"PLUGIN_REPRODUCIBLE", "true"},
                    {"SOURCE_DATE_EPOCH", "1700000000"}});
  ASSERT_TRUE(env.ok());
  EXPECT_EQ(env->source_date_epoch, 1700000000);
  // SOURCE_DATE_EPOCH alone (set for other tools) does not change a plain build.
  auto plain = Parse({{"PLUGIN_REPO", kRepo}, {"SOURCE_DATE_EPOCH", "1700000000"}});
  ASSERT_TRUE(plain.ok());
  EXPECT_FALSE(plain->source_date_epoch.has_value());
  auto flag = Parse({{"PLUGIN_REPO", kRepo}}, {"--source-date-epoch", "42"});
  ASSERT_TRUE(flag.ok());
  EXPECT_EQ(flag->source_date_epoch, 42);
}

TEST(StepSettingsTest, TransportSettings) {
  auto s = Parse({{"PLUGIN_REPO", kRepo},
                  {"PLUGIN_REGISTRY_MIRRORS", "mirror.example.com/, https://m2.example"},
                  {"PLUGIN_PUSH_RETRY", "3"},
                  {"PLUGIN_DESTINATIONS", "reg2.example.com/a:1, reg3.example.com/b"}});
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_THAT(s->mirrors, ElementsAre("mirror.example.com", "https://m2.example"));
  EXPECT_EQ(s->push_retry, 3);
  EXPECT_THAT(s->destinations, ElementsAre("reg2.example.com/a:1", "reg3.example.com/b"));
  auto mirror = Parse({{"PLUGIN_REPO", kRepo}, {"PLUGIN_MIRROR", "https://mirror.gcr.io"}},
                      {"--push-retry=5"});
  ASSERT_TRUE(mirror.ok()) << mirror.status();
  EXPECT_THAT(mirror->mirrors, ElementsAre("https://mirror.gcr.io"));
  EXPECT_EQ(mirror->push_retry, 5);
}

constexpr char kPem[] =
    "-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIU\n-----END CERTIFICATE-----\n";

TEST(StepSettingsTest, RegistryCertificateFromTextOrFile) {
  auto text = Parse({{"PLUGIN_REPO", kRepo}, {"PLUGIN_REGISTRY_CERTIFICATE", kPem}});
  ASSERT_TRUE(text.ok()) << text.status();
  EXPECT_EQ(text->tls.ca_pem(), kPem);
  TempDir dir;
  WriteFile(dir.Sub("ca.pem"), kPem);
  auto file = Parse({{"PLUGIN_REPO", kRepo}, {"PLUGIN_REGISTRY_CERTIFICATE", dir.Sub("ca.pem")}});
  ASSERT_TRUE(file.ok()) << file.status();
  EXPECT_EQ(file->tls.ca_pem(), kPem);
  WriteFile(dir.Sub("notes.txt"), "not a certificate");
  EXPECT_EQ(
      ErrorOf({{"PLUGIN_REPO", kRepo}, {"PLUGIN_REGISTRY_CERTIFICATE", dir.Sub("notes.txt")}}),
      "PLUGIN_REGISTRY_CERTIFICATE=" + dir.Sub("notes.txt") + ": not a PEM certificate");
}

TEST(StepSettingsTest, ScanSettings) {
  auto s = Parse({{"PLUGIN_REPO", kRepo},
                  {"PLUGIN_SCANNERS", "trivy, grype"},
                  {"PLUGIN_SCAN_REQUIRE", "ALL"},
                  {"PLUGIN_MAX_SEVERITY", "High"}});
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_TRUE(s->scan);  // naming scanners asks for a scan
  EXPECT_THAT(s->scanners, ElementsAre("trivy", "grype"));
  EXPECT_EQ(s->gate.require(), v1::ScanGate::ALL);
  EXPECT_EQ(s->gate.max_severity(), "high");
  auto off = Parse({{"PLUGIN_REPO", kRepo},
                    {"PLUGIN_SCAN", "false"},
                    {"PLUGIN_SCANNERS", "trivy"},
                    {"PLUGIN_SCAN_REQUIRE", "any"}});
  ASSERT_TRUE(off.ok()) << off.status();
  EXPECT_FALSE(off->scan);
  EXPECT_EQ(off->gate.require(), v1::ScanGate::ANY);
}

TEST(StepSettingsTest, UnknownPluginVariablesAreIgnoredNotFatal) {
  auto s = Parse({{"PLUGIN_REPO", kRepo},
                  {"PLUGIN_STORAGE_DRIVER", "overlay2"},
                  {"PLUGIN_snapshot_mode", "redo"},
                  {"PLUGIN_MTU", "1400"},
                  {"DRONE_BUILD_NUMBER", "7"},
                  {"HOME", "/root"}});
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_THAT(s->ignored,
              ElementsAre("PLUGIN_MTU", "PLUGIN_STORAGE_DRIVER", "PLUGIN_snapshot_mode"));
}

TEST(StepSettingsTest, ExpandRepoPrefixesTheRegistry) {
  auto s = Parse({{"PLUGIN_REPO", "team/app"},
                  {"PLUGIN_REGISTRY", "https://reg.example.com/"},
                  {"PLUGIN_EXPAND_REPO", "true"}});
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->repo, "reg.example.com/team/app");
  EXPECT_EQ(s->registry, "reg.example.com");
  auto already = Parse({{"PLUGIN_REPO", "reg.example.com/team/app"},
                        {"PLUGIN_REGISTRY", "reg.example.com"},
                        {"PLUGIN_EXPAND_REPO", "true"}});
  ASSERT_TRUE(already.ok()) << already.status();
  EXPECT_EQ(already->repo, "reg.example.com/team/app");
  auto without = Parse({{"PLUGIN_REPO", "team/app"}, {"PLUGIN_REGISTRY", "reg.example.com"}});
  ASSERT_TRUE(without.ok()) << without.status();
  EXPECT_EQ(without->repo, "team/app");
}

// Every variable docs/STEP.md documents is read by the parser: none of them is ever reported
// as ignored, in any spelling.
TEST(StepSettingsTest, NoDocumentedVariableIsIgnored) {
  const Vars known = {{"PLUGIN_REPO", "reg.example.com/app"},
                      {"PLUGIN_REGISTRY", "reg.example.com"},
                      {"PLUGIN_EXPAND_REPO", "false"},
                      {"PLUGIN_TAGS", "a"},
                      {"PLUGIN_TAG", "b"},
                      {"PLUGIN_AUTO_TAG", "false"},
                      {"PLUGIN_DEFAULT_TAGS", "false"},
                      {"PLUGIN_AUTO_TAG_SUFFIX", "s"},
                      {"PLUGIN_DEFAULT_SUFFIX", "s"},
                      {"PLUGIN_EXPAND_TAG", "false"},
                      {"PLUGIN_CONTEXT", "."},
                      {"PLUGIN_DOCKERFILE", "Dockerfile"},
                      {"PLUGIN_BUILD_ARGS", "A=1"},
                      {"PLUGIN_BUILD_ARGS_NEW", "B=2"},
                      {"PLUGIN_BUILD_ARGS_FROM_ENV", "HOME"},
                      {"PLUGIN_MULTIPLE_BUILD_ARGS", "true"},
                      {"PLUGIN_TARGET", "t"},
                      {"PLUGIN_LABELS", "a=b"},
                      {"PLUGIN_CUSTOM_LABELS", "c=d"},
                      {"PLUGIN_LABEL_SCHEMA", "e=f"},
                      {"PLUGIN_AUTO_LABEL", "true"},
                      {"PLUGIN_REPO_LINK", "u"},
                      {"PLUGIN_PLATFORM", "linux/amd64"},
                      {"PLUGIN_CUSTOM_PLATFORM", "linux/amd64"},
                      {"PLUGIN_NO_CACHE", "true"},
                      {"PLUGIN_REPRODUCIBLE", "true"},
                      {"PLUGIN_SOURCE_DATE_EPOCH", "1"},
                      {"PLUGIN_USERNAME", "u"},
                      {"PLUGIN_PASSWORD", "p"},
                      {"PLUGIN_CONFIG", "{}"},
                      {"PLUGIN_BASE_IMAGE_REGISTRY", "r"},
                      {"PLUGIN_BASE_IMAGE_USERNAME", "u"},
                      {"PLUGIN_BASE_IMAGE_PASSWORD", "p"},
                      {"PLUGIN_DOCKER_REGISTRY", "r"},
                      {"PLUGIN_DOCKER_USERNAME", "u"},
                      {"PLUGIN_DOCKER_PASSWORD", "p"},
                      {"PLUGIN_INSECURE", "false"},
                      {"PLUGIN_SKIP_TLS_VERIFY", "false"},
                      {"PLUGIN_SKIP_TLS_VERIFY_REGISTRY", "false"},
                      {"PLUGIN_REGISTRY_CERTIFICATE", kPem},
                      {"PLUGIN_REGISTRY_MIRRORS", "m"},
                      {"PLUGIN_MIRROR", "m"},
                      {"PLUGIN_PUSH_RETRY", "1"},
                      {"PLUGIN_DESTINATIONS", "r.example/x"},
                      {"PLUGIN_NO_PUSH", "false"},
                      {"PLUGIN_DRY_RUN", "false"},
                      {"PLUGIN_PUSH_ONLY", "false"},
                      {"PLUGIN_TAR_PATH", "t"},
                      {"PLUGIN_DESTINATION_TAR_PATH", "t"},
                      {"PLUGIN_OCI_LAYOUT_PATH", "o"},
                      {"PLUGIN_BUILDX_LOAD", "false"},
                      {"PLUGIN_DAEMON_OFF", "true"},
                      {"PLUGIN_SCAN", "true"},
                      {"PLUGIN_SCANNERS", "s"},
                      {"PLUGIN_SCAN_REQUIRE", "any"},
                      {"PLUGIN_MAX_SEVERITY", "high"},
                      {"PLUGIN_ARTIFACT_FILE", "a"},
                      {"PLUGIN_DIGEST_FILE", "d"},
                      {"PLUGIN_IMAGE_NAME_WITH_DIGEST_FILE", "n"},
                      {"PLUGIN_IMAGE_NAME_TAG_WITH_DIGEST_FILE", "n"},
                      {"PLUGIN_JSON", "false"}};
  auto s = Parse(known);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_THAT(s->ignored, IsEmpty());
  Vars lower;
  for (const auto& [k, v] : known) lower["PLUGIN_" + absl::AsciiStrToLower(k.substr(7))] = v;
  auto l = Parse(lower);
  ASSERT_TRUE(l.ok()) << l.status();
  EXPECT_THAT(l->ignored, IsEmpty());
  // Each cloud flavour's variables (one flavour at a time).
  for (const Vars& flavour : std::vector<Vars>{
           {{"PLUGIN_REGION", "us-east-1"},
            {"PLUGIN_ACCESS_KEY", "a"},
            {"PLUGIN_SECRET_KEY", "s"},
            {"PLUGIN_SESSION_TOKEN", "t"},
            {"PLUGIN_ASSUME_ROLE", "r"},
            {"PLUGIN_EXTERNAL_ID", "e"},
            {"PLUGIN_CREATE_REPOSITORY", "true"},
            {"PLUGIN_REPO", "1.dkr.ecr.us-east-1.amazonaws.com/app"}},
           {{"GCR_JSON_KEY", "{}"}, {"PLUGIN_LOCATION", "us"}, {"PLUGIN_REPO", "p/app"}},
           {{"PLUGIN_CLIENT_ID", "c"},
            {"PLUGIN_CLIENT_SECRET", "s"},
            {"PLUGIN_TENANT_ID", "t"},
            {"PLUGIN_REPO", "a.azurecr.io/app"}}}) {
    auto f = Parse(flavour);
    ASSERT_TRUE(f.ok()) << f.status();
    EXPECT_THAT(f->ignored, IsEmpty());
    EXPECT_NE(f->flavour, StepSettings::Flavour::kGeneric);
  }
  auto config_alias =
      Parse({{"PLUGIN_REPO", "r.example/app"},
             {"DOCKER_PLUGIN_CONFIG", R"({"auths":{"r.example":{"identitytoken":"x"}}})"}});
  ASSERT_TRUE(config_alias.ok()) << config_alias.status();
  EXPECT_EQ(config_alias->credential.token(), "x");
}

// Runs `body` with the working directory set to `dir`, then restores it.
void InDirectory(const std::string& dir, const std::function<void()>& body) {
  std::error_code ec;
  auto previous = std::filesystem::current_path(ec);
  ASSERT_FALSE(ec);
  std::filesystem::current_path(dir, ec);
  ASSERT_FALSE(ec);
  body();
  std::filesystem::current_path(previous, ec);
  ASSERT_FALSE(ec);
}

TEST(StepSettingsTest, DotTagsFileStandsInForUnsetTags) {
  TempDir dir;
  WriteFile(dir.Sub(".tags"), "1.0.0,1.0\nlatest\n");
  InDirectory(dir.path(), [] {
    auto s = Parse({{"PLUGIN_REPO", kRepo}});
    ASSERT_TRUE(s.ok()) << s.status();
    EXPECT_THAT(s->tags, ElementsAre("1.0.0", "1.0", "latest"));
    auto env = Parse({{"PLUGIN_REPO", kRepo}, {"PLUGIN_TAGS", "env"}});
    ASSERT_TRUE(env.ok()) << env.status();
    EXPECT_THAT(env->tags, ElementsAre("env"));
  });
  WriteFile(dir.Sub(".tags"), "ok,bad tag\n");
  InDirectory(dir.path(), [] {
    EXPECT_EQ(ErrorOf({{"PLUGIN_REPO", kRepo}}), ".tags: \"bad tag\" is not a valid image tag");
  });
}

}  // namespace
}  // namespace slipway::client::step
