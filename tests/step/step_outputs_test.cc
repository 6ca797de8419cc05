// The step's output files and push targets (pure code plus real files in a temp dir).
#include "client/step/step_outputs.h"

#include <filesystem>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "client/step/step_targets.h"
#include "nlohmann/json.hpp"
#include "tests/support/temp_dir.h"

namespace slipway::client::step {
namespace {

using ::slipway::testing::ReadFile;
using ::slipway::testing::TempDir;
using ::slipway::testing::WriteFile;

constexpr char kDigest[] = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

StepResult Result() {
  StepResult r;
  r.digest = kDigest;
  r.images = {"reg.example.com/team/app:1.0", "reg.example.com/team/app:latest",
              "mirror.example.com:5000/app:1.0"};
  return r;
}

TEST(StepOutputsTest, ArtifactIsHarnessDockerV1WithTheFlavoursRegistryType) {
  StepSettings s;
  s.repo = "reg.example.com/team/app";
  s.flavour = StepSettings::Flavour::kEcr;
  auto j = nlohmann::json::parse(ArtifactJson(s, Result()));
  EXPECT_EQ(j["kind"], "docker/v1");
  EXPECT_EQ(j["data"]["registryType"], "ECR");
  EXPECT_EQ(j["data"]["registryUrl"], "reg.example.com");
  ASSERT_EQ(j["data"]["images"].size(), 3u);
  EXPECT_EQ(j["data"]["images"][0]["image"], "reg.example.com/team/app:1.0");
  EXPECT_EQ(j["data"]["images"][2]["digest"], kDigest);
  s.flavour = StepSettings::Flavour::kGeneric;
  s.registry = "other.example.com";
  j = nlohmann::json::parse(ArtifactJson(s, Result()));
  EXPECT_EQ(j["data"]["registryType"], "Docker");
  EXPECT_EQ(j["data"]["registryUrl"], "other.example.com");
}

TEST(StepOutputsTest, NameFilesListEachNameOnceAndEachTag) {
  EXPECT_EQ(ImageNameWithDigest(Result()),
            std::string("reg.example.com/team/app@") + kDigest + "\n" +
                "mirror.example.com:5000/app@" + kDigest + "\n");
  EXPECT_EQ(ImageNameTagWithDigest(Result()),
            std::string("reg.example.com/team/app:1.0@") + kDigest + "\n" +
                "reg.example.com/team/app:latest@" + kDigest + "\n" +
                "mirror.example.com:5000/app:1.0@" + kDigest + "\n");
}

TEST(StepOutputsTest, WritesEveryNamedFileAppendsToDroneOutputAndCreatesParents) {
  TempDir dir;
  StepSettings s;
  s.repo = "reg.example.com/team/app";
  s.drone_output = dir.Sub("drone.env");
  s.digest_file = dir.Sub("a/b/digest");
  s.artifact_file = dir.Sub("artifact.json");
  WriteFile(s.drone_output, "KEEP=me");
  StepResult r = Result();
  r.tar_path = "/out/image.tar";
  ASSERT_TRUE(WriteStepOutputs(s, r).ok());
  EXPECT_EQ(ReadFile(s.drone_output),
            std::string("KEEP=me\ndigest=") + kDigest + "\nIMAGE_TAR_PATH=/out/image.tar\n");
  EXPECT_EQ(ReadFile(s.digest_file), kDigest);
  EXPECT_TRUE(nlohmann::json::parse(ReadFile(s.artifact_file)).is_object());
  for (const auto& e : std::filesystem::directory_iterator(dir.path())) {
    EXPECT_EQ(e.path().filename().string().find(".tmp-"), std::string::npos) << e.path();
  }
}

TEST(StepOutputsTest, AnUnwritableOutputNamesTheVariableAndTheFile) {
  TempDir dir;
  WriteFile(dir.Sub("file"), "x");
  StepSettings s;
  s.digest_file = dir.Sub("file/digest");  // a parent that is a file
  absl::Status st = WriteStepOutputs(s, Result());
  ASSERT_FALSE(st.ok());
  EXPECT_THAT(std::string(st.message()),
              ::testing::StartsWith("PLUGIN_DIGEST_FILE " + dir.Sub("file/digest")));
}

TEST(StepTargetsTest, RepoAndDestinationsBecomeTargetsWithCredentialsOnTheirRegistry) {
  StepSettings s;
  s.repo = "team/app";
  s.tags = {"1.0", "latest"};
  s.destinations = {"mirror.example.com:5000/copy", "ghcr.io/org/app:edge"};
  s.credential.set_registry("mirror.example.com:5000");
  s.credential.mutable_basic()->set_username("u");
  s.tls.set_insecure_http(true);
  auto targets = PushTargets(s);
  ASSERT_TRUE(targets.ok()) << targets.status();
  ASSERT_EQ(targets->size(), 3u);
  EXPECT_EQ((*targets)[0].registry(), "docker.io");
  EXPECT_EQ((*targets)[0].repository(), "team/app");
  EXPECT_EQ((*targets)[0].tags_size(), 2);
  EXPECT_TRUE((*targets)[0].credential().has_basic());  // the main target always
  EXPECT_EQ((*targets)[1].registry(), "mirror.example.com:5000");
  EXPECT_TRUE((*targets)[1].credential().has_basic());
  EXPECT_EQ((*targets)[2].tags_size(), 1);
  EXPECT_EQ((*targets)[2].tags(0), "edge");
  EXPECT_FALSE((*targets)[2].credential().has_basic());  // another registry: anonymous
  EXPECT_TRUE((*targets)[2].tls().insecure_http());
  EXPECT_EQ(TargetImages(*targets, s),
            (std::vector<std::string>{"team/app:1.0", "team/app:latest",
                                      "mirror.example.com:5000/copy:1.0",
                                      "mirror.example.com:5000/copy:latest",
                                      "ghcr.io/org/app:edge"}));
}

TEST(StepTargetsTest, DestinationsOnOtherRegistriesTakeTheirHostsBaseCredential) {
  StepSettings s;
  s.repo = "reg-a.example.com/app";
  s.destinations = {"reg-b.example.com:5000/copy", "reg-c.example.com/other"};
  s.credential.set_registry("reg-a.example.com");
  s.credential.mutable_basic()->set_username("a");
  v1::RegistryCredential b;
  b.set_registry("reg-b.example.com:5000");
  b.set_token("tok-b");
  v1::RegistryCredential hub;
  hub.set_registry("docker.io");
  hub.mutable_basic()->set_username("hub");
  s.base_credentials = {hub, b};
  auto targets = PushTargets(s);
  ASSERT_TRUE(targets.ok()) << targets.status();
  ASSERT_EQ(targets->size(), 3u);
  EXPECT_EQ((*targets)[0].credential().basic().username(), "a");
  EXPECT_EQ((*targets)[1].credential().registry(), "reg-b.example.com:5000");
  EXPECT_EQ((*targets)[1].credential().token(), "tok-b");
  EXPECT_FALSE((*targets)[2].has_credential());  // no credential for reg-c anywhere
}

TEST(StepTargetsTest, MalformedNamesAreRefusedNamingTheSetting) {
  StepSettings s;
  s.repo = "Team/App";
  auto bad_repo = PushTargets(s);
  ASSERT_FALSE(bad_repo.ok());
  EXPECT_THAT(std::string(bad_repo.status().message()), ::testing::StartsWith("PLUGIN_REPO: "));
  s.repo = "team/app";
  s.destinations = {"reg.example.com/app@sha256:abc"};
  auto bad_dest = PushTargets(s);
  ASSERT_FALSE(bad_dest.ok());
  EXPECT_THAT(std::string(bad_dest.status().message()),
              ::testing::StartsWith("PLUGIN_DESTINATIONS: "));
  EXPECT_EQ(StoreTags(StepSettings{}), std::vector<std::string>{});
}

}  // namespace
}  // namespace slipway::client::step
