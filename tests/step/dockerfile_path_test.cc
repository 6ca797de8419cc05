#include "client/step/dockerfile_path.h"

#include <filesystem>

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/temp_dir.h"

namespace slipway::client {
namespace {

using ::slipway::testing::TempDir;
using ::testing::HasSubstr;

class ResolveStepDockerfileTest : public ::testing::Test {
 protected:
  void Touch(const std::string& relative) {
    const std::filesystem::path path = dir_.path() + "/" + relative;
    std::filesystem::create_directories(path.parent_path());
    slipway::testing::WriteFile(path.string(), "FROM scratch\n");
  }
  absl::StatusOr<std::string> Resolve(const std::string& dockerfile, const std::string& context) {
    return ResolveStepDockerfile(dockerfile, context, dir_.path());
  }
  TempDir dir_;
};

TEST_F(ResolveStepDockerfileTest, TheWorkingDirectoryComesFirstAsWithDockerAndBuildah) {
  Touch("Dockerfile");
  Touch("services/api/Dockerfile");
  EXPECT_EQ(*Resolve("Dockerfile", "services/api"), "Dockerfile");
  EXPECT_EQ(*Resolve("", "services/api/"), "Dockerfile");
}

TEST_F(ResolveStepDockerfileTest, ThenTheContextAsKanikoFallsBack) {
  Touch("services/api/Dockerfile");
  Touch("services/api/docker/Dockerfile.prod");
  EXPECT_EQ(*Resolve("Dockerfile", "services/api/"), "services/api/Dockerfile");
  EXPECT_EQ(*Resolve("docker/Dockerfile.prod", "services/api"),
            "services/api/docker/Dockerfile.prod");
}

TEST_F(ResolveStepDockerfileTest, AnExplicitPathRelativeToTheWorkingDirectory) {
  Touch("build/Dockerfile.ci");
  EXPECT_EQ(*Resolve("build/Dockerfile.ci", "services/api"), "build/Dockerfile.ci");
  EXPECT_EQ(*Resolve("build/Dockerfile.ci", "."), "build/Dockerfile.ci");
}

TEST_F(ResolveStepDockerfileTest, AbsolutePathsAreTakenAsIs) {
  Touch("abs/Dockerfile");
  const std::string absolute = dir_.path() + "/abs/Dockerfile";
  EXPECT_EQ(*Resolve(absolute, "services/api"), absolute);
  auto missing = Resolve(dir_.path() + "/nope/Dockerfile", ".");
  ASSERT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(missing.status().message(), HasSubstr("/nope/Dockerfile does not exist"));
}

TEST_F(ResolveStepDockerfileTest, MissingEverywhereNamesEachPlaceLooked) {
  Touch("services/api/Dockerfile/keep");  // a directory named Dockerfile is not a Dockerfile
  auto r = Resolve("Dockerfile", "services/api");
  ASSERT_EQ(r.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(r.status().message(),
              HasSubstr("PLUGIN_DOCKERFILE: no Dockerfile (looked for Dockerfile and "
                        "services/api/Dockerfile in " + dir_.path() + ")"));
  auto dot = Resolve("", ".");
  ASSERT_EQ(dot.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(dot.status().message(), HasSubstr("(looked for Dockerfile in "));
}

}  // namespace
}  // namespace slipway::client
