#include "storage/image_name.h"

#include <string>
#include <utility>
#include <vector>

#include "gtest/gtest.h"

namespace slipway {
namespace {

TEST(NormalizeTagTest, NormalizesLikeDocker) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"alpine", "docker.io/library/alpine:latest"},
      {"alpine:latest", "docker.io/library/alpine:latest"},
      {"alpine:3.19", "docker.io/library/alpine:3.19"},
      {"library/alpine", "docker.io/library/alpine:latest"},
      {"docker.io/alpine", "docker.io/library/alpine:latest"},
      {"docker.io/library/alpine:latest", "docker.io/library/alpine:latest"},
      {"index.docker.io/library/alpine", "docker.io/library/alpine:latest"},
      {"index.docker.io/team/app:2", "docker.io/team/app:2"},
      {"team/app:1.2", "docker.io/team/app:1.2"},
      {"team/sub/app", "docker.io/team/sub/app:latest"},
      {"localhost/app", "localhost/app:latest"},
      {"localhost:5000/app", "localhost:5000/app:latest"},
      {"localhost:5000/app:v2", "localhost:5000/app:v2"},
      {"host.io/a/b:v1", "host.io/a/b:v1"},
      {"registry.example.com/a/b:v1", "registry.example.com/a/b:v1"},
      {"127.0.0.1:5000/a", "127.0.0.1:5000/a:latest"},
      {"[::1]:5000/a:x", "[::1]:5000/a:x"},
      {"My-Registry.example.com/app", "My-Registry.example.com/app:latest"},
      {"a.b/x__y.z--w/v-1_2:TAG_1.-x", "a.b/x__y.z--w/v-1_2:TAG_1.-x"},
      {"app:" + std::string(128, 'a'), "docker.io/library/app:" + std::string(128, 'a')},
      {"app:_x", "docker.io/library/app:_x"},
  };
  for (const auto& [in, want] : cases) {
    SCOPED_TRACE(in);
    auto got = NormalizeTag(in);
    if (!got.ok()) {
      ADD_FAILURE() << got.status();
      continue;
    }
    EXPECT_EQ(*got, want);
    // Normalizing is idempotent.
    auto again = NormalizeTag(*got);
    ASSERT_TRUE(again.ok()) << again.status();
    EXPECT_EQ(*again, want);
  }
}

TEST(NormalizeTagTest, RejectsWithTheRuleBroken) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"", "empty"},
      {"Alpine", "lowercase"},
      {"team/App", "lowercase"},
      {"host.io/Team/app", "lowercase"},
      {"alpine@sha256:" + std::string(64, 'a'), "digest"},
      {"alpine:3@sha256:" + std::string(64, 'a'), "digest"},
      {"app:" + std::string(129, 'a'), "longer than 128"},
      {"app:", "tag"},
      {"app:-x", "tag"},
      {"app:.x", "tag"},
      {"app:a/b", "registry host"},  // a ":" before the last "/" makes "app:a" a host
      {"app:v+1", "tag"},
      {"team//app", "empty path component"},
      {"/app", "empty path component"},
      {"team/", "empty path component"},
      {"host.io/", "empty path component"},
      {"-app", "path component"},
      {"app-", "path component"},
      {"a..b", "path component"},
      {"a___b", "path component"},
      {"a b", "path component"},
      {"team/app!", "path component"},
      {"host..io/app", "registry host"},
      {"-host.io/app", "registry host"},
      {"host.io:/app", "registry host"},
      {"host.io:50a/app", "registry host"},
      {"[zz]:5000/app", "registry host"},
      {std::string(64, 'a'), "image ID"},
      {"host.io/" + std::string(300, 'a'), "longer than 255"},
      {"team/" + std::string(240, 'a') + "/" + std::string(20, 'b'), "longer than 255"},
  };
  for (const auto& [in, want] : cases) {
    SCOPED_TRACE(in);
    auto got = NormalizeTag(in);
    if (got.ok()) {
      ADD_FAILURE() << "accepted as " << *got;
      continue;
    }
    EXPECT_EQ(got.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_NE(got.status().message().find(want), std::string::npos) << got.status();
    EXPECT_NE(got.status().message().find(in.substr(0, 50)), std::string::npos) << got.status();
  }
}

TEST(FamiliarTagTest, ShortensDockerHubOnly) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"docker.io/library/alpine:latest", "alpine:latest"},
      {"docker.io/team/app:1", "team/app:1"},
      {"docker.io/library/a/b:1", "library/a/b:1"},
      {"localhost:5000/app:latest", "localhost:5000/app:latest"},
      {"host.io/library/app:v1", "host.io/library/app:v1"},
  };
  for (const auto& [in, want] : cases) EXPECT_EQ(FamiliarTag(in), want) << in;
}

TEST(FamiliarTagTest, RoundTripsThroughNormalize) {
  for (const char* name : {"alpine", "alpine:3.19", "team/app:1.2", "localhost:5000/app",
                           "host.io/a/b:v1", "docker.io/library/busybox:musl",
                           "library/a/b:c", "[::1]:5000/a:x"}) {
    SCOPED_TRACE(name);
    auto normalized = NormalizeTag(name);
    ASSERT_TRUE(normalized.ok()) << normalized.status();
    std::string familiar = FamiliarTag(*normalized);
    auto back = NormalizeTag(familiar);
    ASSERT_TRUE(back.ok()) << back.status();
    EXPECT_EQ(*back, *normalized) << "via " << familiar;
  }
}

TEST(NormalizeTagTest, LongHostileInputIsFast) {
  // Pathological for backtracking matchers; must simply be rejected.
  std::string evil = std::string(100000, 'a') + std::string(100000, '-') + "!";
  auto got = NormalizeTag(evil);
  EXPECT_FALSE(got.ok());
}

}  // namespace
}  // namespace slipway
