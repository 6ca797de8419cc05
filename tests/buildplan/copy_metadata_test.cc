// COPY metadata: created and preserved parent directories, ownership, --chmod, mtimes and
// SOURCE_DATE_EPOCH, symlinks and hard links, and the planner's errors.

#include <algorithm>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/build/copy_planner_internal.h"
#include "tests/buildplan/memory_tree.h"
#include "tests/buildplan/plan_helpers.h"
#include "tests/support/temp_dir.h"

namespace slipway::testing {
namespace {

using build::CopyCommand;
using build::CopyPlanRequest;
using build::EntryType;
using build::LayerEntry;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

class CopyMetadataTest : public ::testing::Test {
 protected:
  void SetUp() override {
    FillContext(context_);
    FillRootfs(rootfs_);
  }

  absl::StatusOr<std::vector<LayerEntry>> Plan(const CopyCommand& cmd, bool with_rootfs = true) {
    CopyPlanRequest request;
    request.command = &cmd;
    request.source = &context_;
    request.rootfs = with_rootfs ? &rootfs_ : nullptr;
    request.workdir = workdir_;
    request.owner = owner_;
    request.source_date_epoch = epoch_;
    return build::PlanCopyWithDeps(request, staging_.path(), deps_);
  }

  static CopyCommand Copy(std::vector<std::string> sources, std::string dest) {
    CopyCommand cmd;
    cmd.sources = std::move(sources);
    cmd.destination = std::move(dest);
    return cmd;
  }

  MemoryTree context_, rootfs_;
  TempDir staging_;
  build::CopyPlannerDeps deps_ = TestDeps();
  std::string workdir_ = "/";
  build::Ownership owner_;
  std::optional<int64_t> epoch_;
};

TEST_F(CopyMetadataTest, CreatedParentsAre0755RootOwnedWithTheStepTime) {
  auto entries = Plan(Copy({"a.txt"}, "/x/y/f"));
  ASSERT_TRUE(entries.ok()) << entries.status();
  auto by = ByPath(*entries);
  for (const char* dir : {"x", "x/y"}) {
    EXPECT_EQ(by[dir].type, EntryType::kDirectory);
    EXPECT_EQ(by[dir].mode, 0755u) << dir;
    EXPECT_EQ(by[dir].uid, 0u);
    EXPECT_EQ(by[dir].gid, 0u);
    EXPECT_EQ(by[dir].mtime_unix_nanos, kNow);
  }
}

TEST_F(CopyMetadataTest, CreatedParentsBelongToTheChownOwner) {
  CopyCommand cmd = Copy({"a.txt"}, "/x/y/");
  cmd.chown = "1000:50";
  owner_ = {1000, 50};
  auto entries = Plan(cmd);
  ASSERT_TRUE(entries.ok()) << entries.status();
  auto by = ByPath(*entries);
  EXPECT_EQ(by["x"].uid, 1000u);
  EXPECT_EQ(by["x"].gid, 50u);
  EXPECT_EQ(by["x/y"].uid, 1000u);
  EXPECT_EQ(by["x/y/a.txt"].uid, 1000u);
  EXPECT_EQ(by["x/y/a.txt"].gid, 50u);
}

TEST_F(CopyMetadataTest, ExistingParentKeepsItsMetadataDespiteChownChmodAndEpoch) {
  CopyCommand cmd = Copy({"a.txt"}, "/app/");
  cmd.chown = "1";
  cmd.chmod = 0751;
  owner_ = {1, 1};
  epoch_ = 1;
  auto entries = Plan(cmd);
  ASSERT_TRUE(entries.ok()) << entries.status();
  auto by = ByPath(*entries);
  EXPECT_EQ(by["app"].mode, 0700u);
  EXPECT_EQ(by["app"].uid, 1000u);
  EXPECT_EQ(by["app"].gid, 1000u);
  EXPECT_EQ(by["app"].mtime_unix_nanos, 7000000000);
  EXPECT_EQ(by["app/a.txt"].mode, 0751u);
}

TEST_F(CopyMetadataTest, ContextFilesBecomeRootOwnedKeepingModeAndMtime) {
  auto entries = Plan(Copy({"dir"}, "/out"));
  ASSERT_TRUE(entries.ok()) << entries.status();
  auto by = ByPath(*entries);
  EXPECT_EQ(by["out/x"].uid, 0u);
  EXPECT_EQ(by["out/x"].gid, 0u);
  EXPECT_EQ(by["out/x"].mode, 0600u);
  EXPECT_EQ(by["out/x"].mtime_unix_nanos, 2000000000);
  EXPECT_EQ(by["out/sub"].mode, 0700u);
  EXPECT_EQ(by["out/sub"].mtime_unix_nanos, 1000000000);
  EXPECT_EQ(by["out/sub/y"].mode, 0755u);
  // The destination the step creates for the contents is a plain 0755 directory.
  EXPECT_EQ(by["out"].mode, 0755u);
  EXPECT_EQ(by["out"].mtime_unix_nanos, kNow);
}

TEST_F(CopyMetadataTest, FromStageFilesKeepTheirOwner) {
  CopyCommand cmd = Copy({"dir"}, "/out");
  cmd.from = "builder";
  auto entries = Plan(cmd);
  ASSERT_TRUE(entries.ok()) << entries.status();
  auto by = ByPath(*entries);
  EXPECT_EQ(by["out/x"].uid, 501u);
  EXPECT_EQ(by["out/x"].gid, 20u);
  EXPECT_EQ(by["out/link"].uid, 501u);
  // What the step creates itself is still root's.
  EXPECT_EQ(by["out"].uid, 0u);
}

TEST_F(CopyMetadataTest, ChownAppliesToEveryCopiedEntryIncludingSymlinks) {
  CopyCommand cmd = Copy({"dir"}, "/out");
  cmd.from = "builder";
  cmd.chown = "2000:2001";
  owner_ = {2000, 2001};
  auto entries = Plan(cmd);
  ASSERT_TRUE(entries.ok()) << entries.status();
  for (const LayerEntry& e : *entries) {
    EXPECT_EQ(e.uid, 2000u) << e.path;
    EXPECT_EQ(e.gid, 2001u) << e.path;
  }
}

TEST_F(CopyMetadataTest, ChmodAppliesToCopiedFilesAndDirectoriesNotSymlinksOrCreatedParents) {
  CopyCommand cmd = Copy({"dir"}, "/p/out");
  cmd.chmod = 04751;
  auto entries = Plan(cmd);
  ASSERT_TRUE(entries.ok()) << entries.status();
  auto by = ByPath(*entries);
  EXPECT_EQ(by["p/out/x"].mode, 04751u);
  EXPECT_EQ(by["p/out/sub"].mode, 04751u);
  EXPECT_EQ(by["p/out/sub/y"].mode, 04751u);
  EXPECT_EQ(by["p/out/link"].mode, 0777u);
  EXPECT_EQ(by["p"].mode, 0755u) << ::testing::PrintToString(Shape(*entries));
  EXPECT_EQ(by["p/out"].mode, 0755u);
}

TEST_F(CopyMetadataTest, SourceDateEpochClampsNewerMtimesOnly) {
  epoch_ = 1;  // 1 s: before the 2 s file mtimes, after nothing we copy
  auto entries = Plan(Copy({"dir"}, "/new/"));
  ASSERT_TRUE(entries.ok()) << entries.status();
  for (const LayerEntry& e : *entries) EXPECT_LE(e.mtime_unix_nanos, 1000000000) << e.path;
  epoch_ = 3;  // between the file mtimes (2 s) and the step time (5 s)
  entries = Plan(Copy({"dir"}, "/new/"));
  ASSERT_TRUE(entries.ok()) << entries.status();
  auto by = ByPath(*entries);
  EXPECT_EQ(by["new"].mtime_unix_nanos, 3000000000);
  EXPECT_EQ(by["new/x"].mtime_unix_nanos, 2000000000);
}

TEST_F(CopyMetadataTest, NamedSymlinkCopiesTargetContentUnderItsOwnName) {
  auto entries = Plan(Copy({"linkfile"}, "/copy"));
  ASSERT_TRUE(entries.ok()) << entries.status();
  ASSERT_EQ(entries->size(), 1u);
  const LayerEntry& e = (*entries)[0];
  EXPECT_EQ(e.path, "copy");
  EXPECT_EQ(e.type, EntryType::kFile);
  EXPECT_EQ(e.source_path, "mem:a.txt");
  EXPECT_EQ(e.size, 6);
}

TEST_F(CopyMetadataTest, SymlinksInsideADirectoryStaySymlinks) {
  auto entries = Plan(Copy({"dir"}, "/out"));
  ASSERT_TRUE(entries.ok()) << entries.status();
  auto by = ByPath(*entries);
  EXPECT_EQ(by["out/link"].type, EntryType::kSymlink);
  EXPECT_EQ(by["out/link"].link_target, "x");
}

TEST_F(CopyMetadataTest, HardLinksKeepTheirGroupUnderTheDestination) {
  auto entries = Plan(Copy({"hl"}, "/h"));
  ASSERT_TRUE(entries.ok()) << entries.status();
  auto by = ByPath(*entries);
  EXPECT_EQ(by["h/one"].type, EntryType::kFile);
  EXPECT_EQ(by["h/two"].type, EntryType::kHardlink);
  EXPECT_EQ(by["h/two"].link_target, "h/one");
  EXPECT_EQ(by["h/two"].uid, 0u);
}

TEST_F(CopyMetadataTest, HardLinkWhoseFileIsReplacedLaterBecomesACopy) {
  auto entries = Plan(Copy({"hl", "other"}, "/h/"));
  ASSERT_TRUE(entries.ok()) << entries.status();
  auto by = ByPath(*entries);
  EXPECT_EQ(by["h/one"].source_path, "mem:other/one");
  EXPECT_EQ(by["h/two"].type, EntryType::kFile);
  EXPECT_EQ(by["h/two"].source_path, "mem:hl/one");
}

TEST_F(CopyMetadataTest, NamedHardLinkIsCopiedAsAFile) {
  auto entries = Plan(Copy({"hl/two"}, "/t"));
  ASSERT_TRUE(entries.ok()) << entries.status();
  ASSERT_EQ(entries->size(), 1u);
  EXPECT_EQ((*entries)[0].type, EntryType::kFile);
  EXPECT_EQ((*entries)[0].source_path, "mem:hl/one");
  EXPECT_EQ((*entries)[0].path, "t");
}

TEST_F(CopyMetadataTest, EntriesAreSortedAndUnique) {
  auto entries = Plan(Copy({"dir", "dir2", "hl", "other", "a.txt"}, "/z/"));
  ASSERT_TRUE(entries.ok()) << entries.status();
  std::vector<std::string> paths;
  for (const LayerEntry& e : *entries) paths.push_back(e.path);
  EXPECT_TRUE(std::is_sorted(paths.begin(), paths.end()));
  EXPECT_EQ(std::adjacent_find(paths.begin(), paths.end()), paths.end());
}

// --exclude through a stand-in filter (the real IgnoreMatcher is in copy_integration_test).
TEST_F(CopyMetadataTest, ExcludeFilterSeesSourceRelativePaths) {
  std::vector<std::string> seen;
  deps_.make_exclude_filter = [&seen](const std::vector<std::string>& patterns)
      -> absl::StatusOr<build::ExcludeFilter> {
    EXPECT_THAT(patterns, ElementsAre("sub"));
    return build::ExcludeFilter([&seen](absl::string_view path, bool) {
      seen.emplace_back(path);
      return path == "sub" || absl::StartsWith(path, "sub/");
    });
  };
  CopyCommand cmd = Copy({"dir"}, "/out");
  cmd.excludes = {"sub"};
  auto entries = Plan(cmd);
  ASSERT_TRUE(entries.ok()) << entries.status();
  EXPECT_THAT(Shape(*entries), ElementsAre("out:d", "out/link:l", "out/x:f"));
  EXPECT_THAT(seen, ::testing::Contains("sub/y"));
  EXPECT_THAT(seen, ::testing::Contains("dir"));  // the named source itself, context-relative
}

TEST_F(CopyMetadataTest, ExcludedGroupFileHandsContentToTheNextLink) {
  deps_.make_exclude_filter = [](const std::vector<std::string>&)
      -> absl::StatusOr<build::ExcludeFilter> {
    return build::ExcludeFilter([](absl::string_view path, bool) { return path == "one"; });
  };
  CopyCommand cmd = Copy({"hl"}, "/h");
  cmd.excludes = {"one"};
  auto entries = Plan(cmd);
  ASSERT_TRUE(entries.ok()) << entries.status();
  EXPECT_THAT(Shape(*entries), ElementsAre("h:d", "h/two:f"));
  EXPECT_EQ(ByPath(*entries)["h/two"].source_path, "mem:hl/one");
}

// ---- errors ----

TEST_F(CopyMetadataTest, MissingSourceIsNotFoundNamingIt) {
  auto entries = Plan(Copy({"nope.txt"}, "/d"));
  EXPECT_EQ(entries.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(entries.status().message(), HasSubstr("\"nope.txt\""));
  EXPECT_THAT(entries.status().message(), HasSubstr("COPY failed"));
}

TEST_F(CopyMetadataTest, DanglingNamedSymlinkIsNotFound) {
  auto entries = Plan(Copy({"dangling"}, "/d"));
  EXPECT_EQ(entries.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(entries.status().message(), HasSubstr("dangling"));
}

TEST_F(CopyMetadataTest, NoSourcesAtAllIsNotFound) {
  auto entries = Plan(Copy({}, "/d"));
  EXPECT_EQ(entries.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(entries.status().message(), HasSubstr("no source files were specified"));
}

TEST_F(CopyMetadataTest, DirectoryOntoExistingFileFails) {
  auto entries = Plan(Copy({"dir"}, "/existing.txt"));
  EXPECT_EQ(entries.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(entries.status().message(), HasSubstr("/existing.txt"));
}

TEST_F(CopyMetadataTest, SeveralSourcesOntoExistingFileFail) {
  auto entries = Plan(Copy({"a.txt", "b.txt"}, "/existing.txt"));
  EXPECT_EQ(entries.status().code(), absl::StatusCode::kFailedPrecondition);
}

TEST_F(CopyMetadataTest, ParentThatIsAFileInTheStageFails) {
  auto entries = Plan(Copy({"a.txt"}, "/existing.txt/inside"));
  EXPECT_EQ(entries.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(entries.status().message(), HasSubstr("/existing.txt"));
}

TEST_F(CopyMetadataTest, FileOverAStageDirectoryInsideACopiedTreeFails) {
  auto entries = Plan(Copy({"clash"}, "/"));
  EXPECT_EQ(entries.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(entries.status().message(), HasSubstr("/app"));
}

TEST_F(CopyMetadataTest, WithLinkNothingIsCheckedAgainstTheStage) {
  auto entries = Plan(Copy({"clash"}, "/"), /*with_rootfs=*/false);
  ASSERT_TRUE(entries.ok()) << entries.status();
  EXPECT_THAT(Shape(*entries), ElementsAre("app:f"));
}

TEST_F(CopyMetadataTest, ChecksumOnALocalSourceIsRejected) {
  CopyCommand cmd = Copy({"a.txt"}, "/d");
  cmd.is_add = true;
  cmd.checksum = "sha256:" + std::string(64, 'a');
  auto entries = Plan(cmd);
  EXPECT_EQ(entries.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(entries.status().message(), HasSubstr("a.txt"));
}

TEST_F(CopyMetadataTest, NoCommandIsInvalid) {
  CopyPlanRequest request;
  auto entries = build::PlanCopyWithDeps(request, staging_.path(), deps_);
  EXPECT_EQ(entries.status().code(), absl::StatusCode::kInvalidArgument);
}

// ---- path helpers ----

TEST(CopyPathsTest, CleanPath) {
  using build::CleanPath;
  EXPECT_EQ(CleanPath("/a/./b/../c/"), "a/c");
  EXPECT_EQ(CleanPath("../../x"), "x");
  EXPECT_EQ(CleanPath("/"), "");
  EXPECT_EQ(CleanPath("."), "");
  EXPECT_EQ(CleanPath("a//b"), "a/b");
}

TEST(CopyPathsTest, HasWildcard) {
  using build::copy_internal::HasWildcard;
  EXPECT_TRUE(HasWildcard("*.txt"));
  EXPECT_TRUE(HasWildcard("a/b?"));
  EXPECT_TRUE(HasWildcard("[ab]"));
  EXPECT_FALSE(HasWildcard("plain/path.txt"));
  EXPECT_FALSE(HasWildcard("lit\\*eral"));
}

TEST(CopyPathsTest, ResolveInTreeStaysInsideTheRoot) {
  MemoryTree t;
  t.Dir("real").File("real/f", "x").Symlink("up", "../../../real").Symlink("loop", "loop")
      .Symlink("abs", "/real/f");
  using build::copy_internal::ResolveInTree;
  EXPECT_EQ(*ResolveInTree(t, "up/f", true), "real/f");
  EXPECT_EQ(*ResolveInTree(t, "abs", true), "real/f");
  EXPECT_EQ(*ResolveInTree(t, "abs", false), "abs");
  EXPECT_EQ(*ResolveInTree(t, "missing/../real/./g", true), "real/g");
  EXPECT_EQ(ResolveInTree(t, "loop", true).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace slipway::testing
