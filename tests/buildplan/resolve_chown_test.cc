// --chown resolution against the stage's /etc/passwd and /etc/group.

#include <string>

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/build/copy_planner.h"
#include "tests/buildplan/memory_tree.h"
#include "tests/buildplan/plan_helpers.h"

namespace slipway::testing {
namespace {

using ::testing::HasSubstr;

struct ChownCase {
  std::string name;
  std::string spec;
  uint32_t uid, gid;
};

class ResolveChownTest : public ::testing::TestWithParam<ChownCase> {};

TEST_P(ResolveChownTest, Resolves) {
  MemoryTree rootfs;
  FillRootfs(rootfs);
  auto owner = build::ResolveChown(GetParam().spec, &rootfs);
  ASSERT_TRUE(owner.ok()) << owner.status();
  EXPECT_EQ(owner->uid, GetParam().uid);
  EXPECT_EQ(owner->gid, GetParam().gid);
}

INSTANTIATE_TEST_SUITE_P(
    Specs, ResolveChownTest,
    ::testing::Values(ChownCase{"Empty", "", 0, 0},
                      ChownCase{"NumericUidAloneAlsoNamesGid", "1000", 1000, 1000},
                      ChownCase{"NumericPair", "1000:50", 1000, 50},
                      ChownCase{"NameAloneTakesPrimaryGroup", "app", 1000, 1001},
                      ChownCase{"NamePair", "app:staff", 1000, 50},
                      ChownCase{"NumericUidNamedGroup", "7:staff", 7, 50},
                      ChownCase{"NamedUserNumericGroup", "svc:60", 2000, 60},
                      ChownCase{"Root", "root:root", 0, 0}),
    [](const ::testing::TestParamInfo<ChownCase>& info) { return info.param.name; });

TEST(ResolveChownErrors, UnknownUserIsNamed) {
  MemoryTree rootfs;
  FillRootfs(rootfs);
  auto owner = build::ResolveChown("ghost", &rootfs);
  EXPECT_EQ(owner.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(owner.status().message(), HasSubstr("ghost"));
}

TEST(ResolveChownErrors, UnknownGroupIsNamed) {
  MemoryTree rootfs;
  FillRootfs(rootfs);
  auto owner = build::ResolveChown("app:wheelz", &rootfs);
  EXPECT_EQ(owner.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(owner.status().message(), HasSubstr("wheelz"));
}

TEST(ResolveChownErrors, NameWithoutPasswdFile) {
  MemoryTree empty;
  auto owner = build::ResolveChown("app", &empty);
  EXPECT_EQ(owner.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(owner.status().message(), HasSubstr("/etc/passwd"));
  EXPECT_EQ(build::ResolveChown("app", nullptr).status().code(),
            absl::StatusCode::kInvalidArgument);
  // Numeric ids need no file at all.
  auto numeric = build::ResolveChown("5:6", nullptr);
  ASSERT_TRUE(numeric.ok());
  EXPECT_EQ(numeric->gid, 6u);
}

TEST(ResolveChownErrors, MalformedSpecs) {
  for (const char* spec : {":5", "5:", "a:b:c:"}) {
    MemoryTree rootfs;
    FillRootfs(rootfs);
    EXPECT_EQ(build::ResolveChown(spec, &rootfs).status().code(),
              absl::StatusCode::kInvalidArgument)
        << spec;
  }
}

}  // namespace
}  // namespace slipway::testing
