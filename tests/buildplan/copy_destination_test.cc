// Docker's COPY destination rules, table-driven: where each source lands, which directories the
// layer creates and which it re-emits from the stage.

#include <string>
#include <vector>

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
using ::testing::ElementsAreArray;

struct DestCase {
  std::string name;
  std::vector<std::string> sources;
  std::string destination;
  std::string workdir = "/";
  bool link = false;  // --link: no stage filesystem
  std::vector<std::string> shape;
};

class CopyDestinationTest : public ::testing::TestWithParam<DestCase> {};

TEST_P(CopyDestinationTest, LandsWhereDockerPutsIt) {
  const DestCase& c = GetParam();
  MemoryTree context, rootfs;
  FillContext(context);
  FillRootfs(rootfs);
  CopyCommand cmd;
  cmd.sources = c.sources;
  cmd.destination = c.destination;
  cmd.link = c.link;
  CopyPlanRequest request;
  request.command = &cmd;
  request.source = &context;
  request.rootfs = c.link ? nullptr : &rootfs;
  request.workdir = c.workdir;
  TempDir staging;
  auto entries = build::PlanCopyWithDeps(request, staging.path(), TestDeps());
  ASSERT_TRUE(entries.ok()) << entries.status();
  EXPECT_THAT(Shape(*entries), ElementsAreArray(c.shape));
  for (const build::LayerEntry& e : *entries) {
    EXPECT_FALSE(e.path.empty());
    EXPECT_NE(e.path.front(), '/') << e.path;
    EXPECT_NE(e.path.back(), '/') << e.path;
  }
}

INSTANTIATE_TEST_SUITE_P(
    DockerExamples, CopyDestinationTest,
    ::testing::Values(
        // A file to a new name is renamed.
        DestCase{"FileRenamed", {"a.txt"}, "/dst", "/", false, {"dst:f"}},
        // A trailing slash makes a directory, created with its parents.
        DestCase{"TrailingSlashMakesDir", {"a.txt"}, "/dst/", "/", false,
                 {"dst:d", "dst/a.txt:f"}},
        // A file to an existing directory goes into it (no trailing slash needed).
        DestCase{"IntoExistingDir", {"a.txt"}, "/app", "/", false, {"app:d", "app/a.txt:f"}},
        // Relative destinations are under WORKDIR ("COPY test.txt relativeDir/").
        DestCase{"RelativeUnderWorkdir", {"a.txt"}, "rel", "/work", false,
                 {"work:d", "work/rel:f"}},
        DestCase{"RelativeDirUnderWorkdir", {"a.txt"}, "rel/", "/work", false,
                 {"work:d", "work/rel:d", "work/rel/a.txt:f"}},
        DestCase{"DotIsWorkdir", {"a.txt"}, ".", "/app", false, {"app:d", "app/a.txt:f"}},
        DestCase{"DotOnNewWorkdir", {"a.txt"}, ".", "/new/wd", false,
                 {"new:d", "new/wd:d", "new/wd/a.txt:f"}},
        // Several sources make a directory even without the slash.
        DestCase{"SeveralSourcesMakeDir", {"a.txt", "b.txt"}, "/multi", "/", false,
                 {"multi:d", "multi/a.txt:f", "multi/b.txt:f"}},
        // A directory source copies its contents, not itself.
        DestCase{"DirContents", {"dir"}, "/out", "/", false,
                 {"out:d", "out/link:l", "out/sub:d", "out/sub/y:f", "out/x:f"}},
        DestCase{"DirContentsIntoExisting", {"dir"}, "/app/", "/", false,
                 {"app:d", "app/link:l", "app/sub:d", "app/sub/y:f", "app/x:f"}},
        DestCase{"FileToRoot", {"a.txt"}, "/", "/", false, {"a.txt:f"}},
        DestCase{"LeadingSlashSourceIsContextRelative", {"/a.txt"}, "/x/y/z", "/", false,
                 {"x:d", "x/y:d", "x/y/z:f"}},
        DestCase{"DotDotCannotLeaveContext", {"../a.txt"}, "/d", "/", false, {"d:f"}},
        // The stage's symlinks in the destination are followed, relative and absolute.
        DestCase{"DestThroughRelativeSymlink", {"a.txt"}, "/srv/", "/", false,
                 {"app:d", "app/a.txt:f"}},
        DestCase{"DestThroughAbsoluteSymlink", {"a.txt"}, "/abs/sub/f", "/", false,
                 {"app:d", "app/sub:d", "app/sub/f:f"}},
        DestCase{"OverwritesExistingFile", {"a.txt"}, "/existing.txt", "/", false,
                 {"existing.txt:f"}},
        // A named symlink is followed: the copy is the target's content under the link's name.
        DestCase{"NamedSymlinkFollowed", {"linkfile"}, "/l/", "/", false,
                 {"l:d", "l/linkfile:f"}},
        DestCase{"NamedDirSymlinkFollowed", {"linkdir"}, "/ld", "/", false,
                 {"ld:d", "ld/link:l", "ld/sub:d", "ld/sub/y:f", "ld/x:f"}},
        // The whole context.
        DestCase{"WholeContextDir", {"."}, "/ctx", "/", false,
                 {"ctx:d", "ctx/a.txt:f", "ctx/b.txt:f", "ctx/clash:d", "ctx/clash/app:f",
                  "ctx/dangling:l", "ctx/dir:d", "ctx/dir/link:l", "ctx/dir/sub:d",
                  "ctx/dir/sub/y:f", "ctx/dir/x:f", "ctx/dir2:d", "ctx/dir2/x:f", "ctx/hl:d",
                  "ctx/hl/one:f", "ctx/hl/two:h", "ctx/linkdir:l", "ctx/linkfile:l",
                  "ctx/other:d", "ctx/other/one:f"}},
        // --link: no stage filesystem, so /app is not known to be a directory.
        DestCase{"LinkRenamesOntoUnknownPath", {"a.txt"}, "/app", "/", true, {"app:f"}},
        DestCase{"LinkTrailingSlash", {"a.txt"}, "/app/", "/", true, {"app:d", "app/a.txt:f"}},
        // A later source replaces an earlier one at the same path.
        DestCase{"LaterSourceWins", {"dir", "dir2"}, "/m/", "/", false,
                 {"m:d", "m/link:l", "m/sub:d", "m/sub/y:f", "m/x:f"}}),
    [](const ::testing::TestParamInfo<DestCase>& info) { return info.param.name; });

}  // namespace
}  // namespace slipway::testing
