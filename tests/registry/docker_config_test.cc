#include "server/registry/docker_config.h"

#include <stdlib.h>
#include <sys/stat.h>

#include "absl/strings/escaping.h"
#include "gtest/gtest.h"
#include "tests/support/temp_dir.h"

namespace slipway::registry {
namespace {

using ::slipway::testing::TempDir;
using ::slipway::testing::WriteFile;

TEST(DockerConfigTest, AuthsWithBase64AndHubKey) {
  const std::string json = R"({
    "auths": {
      "https://index.docker.io/v1/": {"auth": ")" + absl::Base64Escape("hubuser:hub:pw") + R"("},
      "http://registry.example.com:5000/v2/": {"username": "u2", "password": "p2"},
      "ghcr.io": {"identitytoken": "refresh-123"}
    }
  })";
  auto config = DockerConfig::Parse(json, "config.json");
  ASSERT_TRUE(config.ok()) << config.status();
  auto hub = config->Lookup("docker.io");
  ASSERT_TRUE(hub.ok() && hub->has_value()) << hub.status();
  EXPECT_EQ((*hub)->username, "hubuser");
  EXPECT_EQ((*hub)->password, "hub:pw");  // only the first ':' separates
  auto other = config->Lookup("registry.example.com:5000");
  ASSERT_TRUE(other.ok() && other->has_value());
  EXPECT_EQ((*other)->username, "u2");
  auto gh = config->Lookup("ghcr.io");
  ASSERT_TRUE(gh.ok() && gh->has_value());
  EXPECT_EQ((*gh)->identity_token, "refresh-123");
  auto none = config->Lookup("quay.io");
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());
}

TEST(DockerConfigTest, MalformedEntriesNameTheEntry) {
  auto bad = DockerConfig::Parse(R"({"auths": {"h.io": {"auth": "!!not base64"}}})", "cfg.json");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(bad.status().message().find("h.io"), std::string::npos);
  EXPECT_NE(bad.status().message().find("cfg.json"), std::string::npos);
  EXPECT_FALSE(DockerConfig::Parse("{not json", "cfg.json").ok());
  EXPECT_FALSE(DockerConfig::Parse(R"({"credHelpers": {"h.io": 3}})", "cfg.json").ok());
  EXPECT_EQ(DockerConfig::Load("/nonexistent/config.json").status().code(),
            absl::StatusCode::kNotFound);
}

// A fake docker-credential-test on PATH, answering as the real helpers do.
class CredentialHelperTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string script = dir_.Sub("bin/docker-credential-test");
    WriteFile(script,
              "#!/bin/sh\n"
              "[ \"$1\" = get ] || exit 3\n"
              "read -r server\n"
              "echo \"$server\" >> " + dir_.Sub("asked") + "\n"
              "case \"$server\" in\n"
              "  helped.example.com) echo '{\"ServerURL\":\"helped.example.com\",\"Username\":\"hu\",\"Secret\":\"hs\"}' ;;\n"
              "  https://index.docker.io/v1/) echo '{\"Username\":\"<token>\",\"Secret\":\"idtok\"}' ;;\n"
              "  broken.example.com) echo 'oops'; exit 1 ;;\n"
              "  garbage.example.com) echo 'not json' ;;\n"
              "  *) echo 'credentials not found in native keychain'; exit 1 ;;\n"
              "esac\n");
    ASSERT_EQ(chmod(script.c_str(), 0755), 0);
    const char* path = getenv("PATH");
    old_path_ = path != nullptr ? path : "";
    setenv("PATH", (dir_.Sub("bin") + ":" + old_path_).c_str(), 1);
  }
  void TearDown() override { setenv("PATH", old_path_.c_str(), 1); }

  TempDir dir_;
  std::string old_path_;
};

TEST_F(CredentialHelperTest, CredHelpersAndCredsStore) {
  auto config = DockerConfig::Parse(R"({
    "auths": {"fallback.example.com": {"auth": ")" + absl::Base64Escape("fu:fp") + R"("}},
    "credHelpers": {"helped.example.com": "test", "broken.example.com": "test",
                    "garbage.example.com": "test", "evil.example.com": "../../bin/sh"},
    "credsStore": "test"
  })", "config.json");
  ASSERT_TRUE(config.ok()) << config.status();

  auto helped = config->Lookup("helped.example.com");
  ASSERT_TRUE(helped.ok() && helped->has_value()) << helped.status();
  EXPECT_EQ((*helped)->username, "hu");
  EXPECT_EQ((*helped)->password, "hs");

  // credsStore for Docker Hub, with the hub's server URL on stdin and an identity token back.
  auto hub = config->Lookup("docker.io");
  ASSERT_TRUE(hub.ok() && hub->has_value()) << hub.status();
  EXPECT_EQ((*hub)->identity_token, "idtok");
  EXPECT_TRUE((*hub)->username.empty());

  // Helper says "not found": the auths entry is used; nothing anywhere: anonymous.
  auto fallback = config->Lookup("fallback.example.com");
  ASSERT_TRUE(fallback.ok() && fallback->has_value()) << fallback.status();
  EXPECT_EQ((*fallback)->username, "fu");
  auto anonymous = config->Lookup("nobody.example.com");
  ASSERT_TRUE(anonymous.ok());
  EXPECT_FALSE(anonymous->has_value());

  EXPECT_EQ(config->Lookup("broken.example.com").status().code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(config->Lookup("garbage.example.com").status().code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(config->Lookup("evil.example.com").status().code(),
            absl::StatusCode::kFailedPrecondition);

  std::string asked = ::slipway::testing::ReadFile(dir_.Sub("asked"));
  EXPECT_NE(asked.find("https://index.docker.io/v1/\n"), std::string::npos) << asked;
}

TEST_F(CredentialHelperTest, MissingHelperIsNotFound) {
  auto config = DockerConfig::Parse(R"({"credsStore": "does-not-exist-xyz"})", "c.json");
  ASSERT_TRUE(config.ok());
  EXPECT_EQ(config->Lookup("h.example.com").status().code(), absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace slipway::registry
