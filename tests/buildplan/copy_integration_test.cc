// COPY/ADD through PlanCopy with the real collaborators: SourceTree's default Glob (wildcards),
// IgnoreMatcher (--exclude), IsExtractableArchive/ExtractArchive (ADD of local archives) and
// DownloadUrl. Built only when their sources exist (see tests/CMakeLists.txt).

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/build/copy_planner.h"
#include "server/build/layer/layer_entry.h"
#include "server/build/layer/layer_writer.h"
#include "storage/blob_store.h"
#include "storage/digest.h"
#include "tests/buildplan/memory_tree.h"
#include "tests/buildplan/plan_helpers.h"
#include "tests/support/run_command.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_http_server.h"

namespace slipway::testing {
namespace {

using build::CopyCommand;
using build::CopyPlanRequest;
using build::EntryType;
using build::LayerEntry;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

class CopyIntegrationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    context_ = std::make_unique<MemoryTree>(files_.path());
    context_->File("home.txt", "h1\n")
        .File("homer.md", "h2\n")
        .File("hom1.txt", "h3\n")
        .File("README.md", "readme\n")
        .File("notes.md", "notes\n")
        .Dir("homedir")
        .File("homedir/inner", "i\n")
        .Dir("src")
        .File("src/main.c", "int main;\n")
        .File("src/gen/out.o", "obj\n")
        .File("src/gen/keep.h", "h\n")
        .File("fake.tar.gz", "not an archive at all\n");
    FillRootfs(rootfs_);
  }

  absl::StatusOr<std::vector<LayerEntry>> Plan(const CopyCommand& cmd) {
    CopyPlanRequest request;
    request.command = &cmd;
    request.source = context_.get();
    request.rootfs = &rootfs_;
    request.workdir = "/";
    return build::PlanCopy(request, staging_.path());
  }
  static CopyCommand Copy(std::vector<std::string> sources, std::string dest) {
    CopyCommand cmd;
    cmd.sources = std::move(sources);
    cmd.destination = std::move(dest);
    return cmd;
  }
  // A tar made by GNU tar from a small tree (with a hard link and a symlink), optionally gzipped.
  std::string MakeTar(bool gzip) {
    std::string root = tars_.Sub(gzip ? "tgz" : "tar");
    WriteFile(root + "/pkg/bin/tool", "elf\n");
    WriteFile(root + "/pkg/share/doc", "doc\n");
    std::string archive = root + (gzip ? ".tar.gz" : ".tar");
    CommandResult made = RunCommand(
        "cd " + ShellQuote(root) + " && ln pkg/bin/tool pkg/bin/tool2 && ln -s tool pkg/bin/t" +
        " && chmod 0751 pkg/bin && tar --owner=7 --group=8 --numeric-owner -c" +
        (gzip ? "z" : "") + "f " + ShellQuote(archive) + " pkg");
    EXPECT_EQ(made.exit_code, 0) << made.output;
    context_->File(gzip ? "pkg.tar.gz" : "pkg.tar", ReadFile(archive));
    return archive;
  }

  TempDir files_, tars_, staging_;
  std::unique_ptr<MemoryTree> context_;
  MemoryTree rootfs_;
};

TEST_F(CopyIntegrationTest, WildcardCopiesEveryMatchIntoTheDirectory) {
  auto entries = Plan(Copy({"hom*"}, "/mydir/"));
  ASSERT_TRUE(entries.ok()) << entries.status();
  // A matched directory contributes its contents (Docker's rule for every directory source).
  EXPECT_THAT(Shape(*entries), ElementsAre("mydir:d", "mydir/hom1.txt:f", "mydir/home.txt:f",
                                           "mydir/homer.md:f", "mydir/inner:f"));
}

TEST_F(CopyIntegrationTest, QuestionMarkMatchesOneCharacter) {
  auto entries = Plan(Copy({"hom?.txt"}, "/mydir/"));
  ASSERT_TRUE(entries.ok()) << entries.status();
  EXPECT_THAT(Shape(*entries), ElementsAre("mydir:d", "mydir/hom1.txt:f", "mydir/home.txt:f"));
}

TEST_F(CopyIntegrationTest, WildcardWithOneMatchAndNoSlashRenames) {
  auto entries = Plan(Copy({"READ*"}, "/r"));
  ASSERT_TRUE(entries.ok()) << entries.status();
  EXPECT_THAT(Shape(*entries), ElementsAre("r:f"));
}

TEST_F(CopyIntegrationTest, WildcardMatchingNothingIsNotFoundNamingIt) {
  auto entries = Plan(Copy({"*.rs"}, "/d/"));
  EXPECT_EQ(entries.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(entries.status().message(), HasSubstr("no source files were specified"));
  EXPECT_THAT(entries.status().message(), HasSubstr("*.rs"));
}

TEST_F(CopyIntegrationTest, ExcludeDropsMatchedSources) {
  CopyCommand cmd = Copy({"hom*"}, "/mydir/");
  cmd.excludes = {"*.txt"};
  auto entries = Plan(cmd);
  ASSERT_TRUE(entries.ok()) << entries.status();
  EXPECT_THAT(Shape(*entries), ElementsAre("mydir:d", "mydir/homer.md:f", "mydir/inner:f"));
}

TEST_F(CopyIntegrationTest, ExcludeInsideADirectoryWithAnException) {
  CopyCommand cmd = Copy({"src"}, "/s");
  cmd.excludes = {"gen", "!gen/keep.h"};
  auto entries = Plan(cmd);
  ASSERT_TRUE(entries.ok()) << entries.status();
  EXPECT_THAT(Shape(*entries), ElementsAre("s:d", "s/gen:d", "s/gen/keep.h:f", "s/main.c:f"));
}

TEST_F(CopyIntegrationTest, ExcludeWithExceptionForMarkdown) {
  CopyCommand cmd = Copy({"."}, "/all/");
  cmd.excludes = {"*.md", "!README.md", "src", "homedir", "*.gz", "hom*"};
  auto entries = Plan(cmd);
  ASSERT_TRUE(entries.ok()) << entries.status();
  EXPECT_THAT(Shape(*entries), ElementsAre("all:d", "all/README.md:f"));
}

TEST_F(CopyIntegrationTest, AddUnpacksATarKeepingLinksAndOwners) {
  MakeTar(/*gzip=*/false);
  CopyCommand cmd = Copy({"pkg.tar"}, "/opt");
  cmd.is_add = true;
  auto entries = Plan(cmd);
  ASSERT_TRUE(entries.ok()) << entries.status();
  EXPECT_THAT(Shape(*entries),
              ElementsAre("opt:d", "opt/pkg:d", "opt/pkg/bin:d", "opt/pkg/bin/t:l",
                          "opt/pkg/bin/tool:f", "opt/pkg/bin/tool2:h", "opt/pkg/share:d",
                          "opt/pkg/share/doc:f"));
  auto by = ByPath(*entries);
  EXPECT_EQ(by["opt/pkg/bin"].mode, 0751u);
  EXPECT_EQ(by["opt/pkg/bin/tool"].uid, 7u);
  EXPECT_EQ(by["opt/pkg/bin/tool"].gid, 8u);
  EXPECT_EQ(by["opt/pkg/bin/tool2"].link_target, "opt/pkg/bin/tool");
  EXPECT_EQ(by["opt/pkg/bin/t"].link_target, "tool");
  EXPECT_EQ(ReadFile(by["opt/pkg/bin/tool"].source_path), "elf\n");
}

TEST_F(CopyIntegrationTest, AddUnpacksAGzippedTar) {
  MakeTar(/*gzip=*/true);
  CopyCommand cmd = Copy({"pkg.tar.gz"}, "/opt/");
  cmd.is_add = true;
  auto entries = Plan(cmd);
  ASSERT_TRUE(entries.ok()) << entries.status();
  auto by = ByPath(*entries);
  ASSERT_EQ(by.count("opt/pkg/share/doc"), 1u) << ::testing::PrintToString(Shape(*entries));
  EXPECT_EQ(by["opt/pkg/share/doc"].type, EntryType::kFile);
  EXPECT_EQ(ReadFile(by["opt/pkg/share/doc"].source_path), "doc\n");
  EXPECT_EQ(by.count("pkg.tar.gz"), 0u);
}

TEST_F(CopyIntegrationTest, ArchivesAreDetectedByContentNotName) {
  CopyCommand cmd = Copy({"fake.tar.gz"}, "/opt/");
  cmd.is_add = true;
  auto entries = Plan(cmd);
  ASSERT_TRUE(entries.ok()) << entries.status();
  EXPECT_THAT(Shape(*entries), ElementsAre("opt:d", "opt/fake.tar.gz:f"));
}

TEST_F(CopyIntegrationTest, CopyDoesNotUnpack) {
  MakeTar(/*gzip=*/false);
  auto entries = Plan(Copy({"pkg.tar"}, "/opt/"));
  ASSERT_TRUE(entries.ok()) << entries.status();
  EXPECT_THAT(Shape(*entries), ElementsAre("opt:d", "opt/pkg.tar:f"));
}

TEST_F(CopyIntegrationTest, AddUrlThroughTheProductionWiring) {
  auto server = TestHttpServer::Start([](const HttpRequest&) {
    HttpResponse r;
    r.body = "payload";
    return r;
  });
  ASSERT_TRUE(server.ok());
  CopyCommand cmd = Copy({(*server)->url() + "/x/file.bin"}, "/dl/");
  cmd.is_add = true;
  cmd.checksum = Sha256Of("payload").ToString();
  auto entries = Plan(cmd);
  ASSERT_TRUE(entries.ok()) << entries.status();
  EXPECT_THAT(Shape(*entries), ElementsAre("dl:d", "dl/file.bin:f"));
}

// The planner's output is what WriteLayer accepts: unique relative paths, parents present, hard
// links to files of the same layer, sizes matching the content files. GNU tar reads the result.
TEST_F(CopyIntegrationTest, PlannedEntriesWriteALayerGnuTarReads) {
  context_->Dir("tree", 0750, 501, 20)
      .File("tree/f", "content\n", 0640, 501, 20)
      .Hardlink("tree/g", "tree/f")
      .Symlink("tree/l", "f");
  CopyCommand cmd = Copy({"tree", "home.txt"}, "/app/deep/");
  cmd.chown = "app";
  CopyPlanRequest request;
  request.command = &cmd;
  request.source = context_.get();
  request.rootfs = &rootfs_;
  auto owner = build::ResolveChown(cmd.chown, &rootfs_);
  ASSERT_TRUE(owner.ok()) << owner.status();
  request.owner = *owner;
  auto entries = build::PlanCopy(request, staging_.path());
  ASSERT_TRUE(entries.ok()) << entries.status();

  TempDir store_dir;
  auto store = FsBlobStore::Create({store_dir.path()});
  ASSERT_TRUE(store.ok()) << store.status();
  auto layer = build::WriteLayer(*entries, {}, **store, nullptr);
  ASSERT_TRUE(layer.ok()) << layer.status();
  CommandResult listed = RunCommand("tar -tvzf " +
                                    ShellQuote((*store)->PathOf(layer->blob.digest)));
  ASSERT_EQ(listed.exit_code, 0) << listed.output;
  EXPECT_THAT(listed.output, HasSubstr("drwx------ 1000/1000"));  // /app kept as it is
  EXPECT_THAT(listed.output, HasSubstr("app/deep/g link to app/deep/f"));
  EXPECT_THAT(listed.output, HasSubstr("app/deep/l -> f"));
  EXPECT_THAT(listed.output, HasSubstr("-rw-r----- 1000/1001"));  // app:appgrp, mode kept
  EXPECT_THAT(listed.output, HasSubstr("app/deep/home.txt"));
}

}  // namespace
}  // namespace slipway::testing
