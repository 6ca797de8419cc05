#include "server/registry/reference.h"

#include "gtest/gtest.h"

namespace slipway::registry {
namespace {

constexpr char kHex[] = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

TEST(ReferenceTest, DockerHubOfficialImage) {
  auto ref = ParseImageReference("alpine");
  ASSERT_TRUE(ref.ok()) << ref.status();
  EXPECT_EQ(ref->domain, "docker.io");
  EXPECT_EQ(ref->repository, "library/alpine");
  EXPECT_EQ(ref->tag, "latest");
  EXPECT_FALSE(ref->digest.has_value());
  EXPECT_EQ(ref->ApiHost(), "registry-1.docker.io");
  EXPECT_EQ(ref->ToString(), "docker.io/library/alpine:latest");
}

TEST(ReferenceTest, PortTagAndDigest) {
  auto ref = ParseImageReference(std::string("localhost:5000/team/app:v1@sha256:") + kHex);
  ASSERT_TRUE(ref.ok()) << ref.status();
  EXPECT_EQ(ref->domain, "localhost:5000");
  EXPECT_EQ(ref->repository, "team/app");
  EXPECT_EQ(ref->tag, "v1");
  ASSERT_TRUE(ref->digest.has_value());
  EXPECT_EQ(ref->ManifestReference(), std::string("sha256:") + kHex);
  EXPECT_EQ(ref->ApiHost(), "localhost:5000");
}

TEST(ReferenceTest, DigestOnlyHasNoTag) {
  auto ref = ParseImageReference(std::string("index.docker.io/user/app@sha256:") + kHex);
  ASSERT_TRUE(ref.ok()) << ref.status();
  EXPECT_EQ(ref->domain, "docker.io");
  EXPECT_EQ(ref->repository, "user/app");
  EXPECT_TRUE(ref->tag.empty());
  EXPECT_EQ(ref->ToString(), std::string("docker.io/user/app@sha256:") + kHex);
}

TEST(ReferenceTest, RejectsBadInput) {
  EXPECT_FALSE(ParseImageReference("Upper/Case").ok());
  EXPECT_FALSE(ParseImageReference("app@sha256:abc").ok());
  EXPECT_FALSE(ParseImageReference("app@md5:0123").ok());
  EXPECT_FALSE(ParseImageReference("").ok());
  auto bad = ParseImageReference("a//b");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(ReferenceTest, MakeFromTargetFields) {
  auto hub = MakeImageReference("docker.io", "nginx", "1.25");
  ASSERT_TRUE(hub.ok()) << hub.status();
  EXPECT_EQ(hub->repository, "library/nginx");
  EXPECT_EQ(hub->tag, "1.25");
  auto local = MakeImageReference("127.0.0.1:5000", "a/b", "");
  ASSERT_TRUE(local.ok()) << local.status();
  EXPECT_EQ(local->repository, "a/b");
  EXPECT_TRUE(local->tag.empty());
  EXPECT_FALSE(MakeImageReference("registry", "a", "t").ok());
}

TEST(ReferenceTest, HostsAndConfigKeys) {
  EXPECT_TRUE(IsLoopbackHost("localhost:5000"));
  EXPECT_TRUE(IsLoopbackHost("127.0.0.1"));
  EXPECT_TRUE(IsLoopbackHost("127.3.4.5:80"));
  EXPECT_TRUE(IsLoopbackHost("[::1]:5000"));
  EXPECT_FALSE(IsLoopbackHost("10.0.0.1:5000"));
  EXPECT_FALSE(IsLoopbackHost("example.com"));
  EXPECT_EQ(HostWithoutPort("[::1]:5000"), "::1");
  EXPECT_EQ(HostWithoutPort("h.example:443"), "h.example");
  EXPECT_EQ(DockerConfigKey("docker.io"), "https://index.docker.io/v1/");
  EXPECT_EQ(DockerConfigKey("ghcr.io"), "ghcr.io");
}

}  // namespace
}  // namespace slipway::registry

namespace slipway::registry {
namespace {

TEST(ReferenceTest, ValidatesUrlParts) {
  EXPECT_TRUE(ValidateRepository("team/app").ok());
  EXPECT_TRUE(ValidateRepository("a").ok());
  for (const char* bad : {"", "../x", "a/../b", "A", "a?b", "a/b#c", "a b", "a//b", "/a"}) {
    EXPECT_EQ(ValidateRepository(bad).code(), absl::StatusCode::kInvalidArgument) << bad;
  }
  EXPECT_TRUE(ValidateManifestReference("v1.2_3-x").ok());
  EXPECT_TRUE(ValidateManifestReference(std::string("sha256:") + std::string(64, 'a')).ok());
  for (const char* bad : {"", "-x", "a/b", "a?b", "sha256:xyz", ".hidden"}) {
    EXPECT_FALSE(ValidateManifestReference(bad).ok()) << bad;
  }
}

}  // namespace
}  // namespace slipway::registry
