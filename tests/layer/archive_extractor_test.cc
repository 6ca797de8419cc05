#include "server/build/layer/archive_extractor.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "tests/layer/layer_fixture.h"

namespace slipway::build {
namespace {

using ::slipway::testing::ReadFile;
using ::slipway::testing::WriteFile;

class ArchiveExtractorTest : public LayerTest {
 protected:
  // A tree with every kind of entry ADD keeps, as a tar made by GNU tar.
  std::string SampleTar() {
    std::string src = dir_.Sub("sample");
    WriteFile(src + "/app/run.sh", "#!/bin/sh\necho hi\n");
    WriteFile(src + "/app/data/blob", std::string(200000, 'z'));
    Sh("cd " + Q(src) + " && chmod 0750 app/run.sh && chown 1000:1001 app/run.sh"
       " && touch -h -d @1400000000 app/run.sh && ln app/run.sh app/again"
       " && ln -s data/blob app/link && chmod 0700 app/data");
    return TarDir(src, "sample");
  }
  // `tar` compressed with `tool` into a file without a telling extension.
  std::string Compressed(const std::string& tar, const std::string& tool) {
    std::string out = dir_.Sub("input-" + tool + ".bin");
    Sh((tool == "cat" ? tool : tool + " -c") + " < " + Q(tar) + " > " + Q(out));
    return out;
  }
};

TEST_F(ArchiveExtractorTest, EveryCompressionIsDetectedByContentAndExtracted) {
  std::string tar = SampleTar();
  for (const std::string tool : {"cat", "gzip", "bzip2", "xz", "zstd"}) {
    SCOPED_TRACE(tool);
    std::string archive = Compressed(tar, tool);
    auto is = IsExtractableArchive(archive);
    ASSERT_TRUE(is.ok()) << is.status();
    EXPECT_TRUE(*is);
    auto tree = ExtractArchive(archive, dir_.Sub("staging-" + tool));
    ASSERT_TRUE(tree.ok()) << tree.status();
    auto walk = (*tree)->Walk("");
    ASSERT_TRUE(walk.ok()) << walk.status();
    std::string paths;
    for (const LayerEntry& e : *walk) paths += e.path + "\n";
    EXPECT_EQ(paths, "app\napp/again\napp/data\napp/data/blob\napp/link\napp/run.sh\n");
    auto run = (*tree)->Stat("app/run.sh", false);
    ASSERT_TRUE(run.ok()) << run.status();
    // app/again sorts first, so it is the group's file and run.sh its link.
    EXPECT_EQ((*walk)[1].type, EntryType::kFile);
    EXPECT_EQ((*walk)[5].type, EntryType::kHardlink);
    EXPECT_EQ((*walk)[5].link_target, "app/again");
    EXPECT_EQ(run->mode, 0750u);
    EXPECT_EQ(run->uid, 1000u);
    EXPECT_EQ(run->gid, 1001u);
    EXPECT_EQ(run->mtime_unix_nanos, 1400000000LL * 1000000000LL);
    EXPECT_EQ((*walk)[2].mode, 0700u);
    EXPECT_EQ((*walk)[4].type, EntryType::kSymlink);
    EXPECT_EQ((*walk)[4].link_target, "data/blob");
    auto blob = (*tree)->ReadFile("app/link", 1 << 20);
    ASSERT_TRUE(blob.ok()) << blob.status();
    EXPECT_EQ(*blob, std::string(200000, 'z'));
  }
}

TEST_F(ArchiveExtractorTest, NonArchivesAreNotExtractable) {
  std::string text = dir_.Sub("notes.tar.gz");  // the name does not matter
  WriteFile(text, "just some text, long enough to have a byte 257 ..." + std::string(600, '.'));
  std::string gz_text = dir_.Sub("text.gz");
  Sh("gzip -c < " + Q(text) + " > " + Q(gz_text));
  std::string empty = dir_.Sub("empty");
  WriteFile(empty, "");
  std::string garbage = dir_.Sub("garbage");
  WriteFile(garbage, std::string("\x1f\x8b\x08\x00", 4) + std::string(700, 'q'));
  for (const std::string& path : {text, gz_text, empty, garbage}) {
    auto is = IsExtractableArchive(path);
    ASSERT_TRUE(is.ok()) << path << ": " << is.status();
    EXPECT_FALSE(*is) << path;
  }
  EXPECT_FALSE(IsExtractableArchive(dir_.Sub("missing")).ok());
  auto r = ExtractArchive(garbage, dir_.Sub("staging"));
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << r.status();
  EXPECT_NE(r.status().message().find(garbage), std::string::npos) << r.status();
}

TEST_F(ArchiveExtractorTest, CorruptGzipIsInvalidArgumentNamingTheArchive) {
  std::string src = dir_.Sub("big");
  Sh("mkdir -p " + Q(src) + " && head -c 3000000 /dev/urandom > " + Q(src + "/random"));
  std::string archive = Compressed(TarDir(src, "big"), "gzip");
  std::string bytes = ReadFile(archive);
  std::string truncated = dir_.Sub("truncated.tgz");
  WriteFile(truncated, bytes.substr(0, bytes.size() / 2));
  auto is = IsExtractableArchive(truncated);
  ASSERT_TRUE(is.ok()) << is.status();
  EXPECT_TRUE(*is) << "the first header still decompresses";
  auto r = ExtractArchive(truncated, dir_.Sub("staging1"));
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << r.status();
  EXPECT_NE(r.status().message().find(truncated), std::string::npos) << r.status();
  std::string flipped = dir_.Sub("flipped.tgz");
  for (size_t i = bytes.size() / 2; i < bytes.size() / 2 + 64; ++i) bytes[i] = ~bytes[i];
  WriteFile(flipped, bytes);
  r = ExtractArchive(flipped, dir_.Sub("staging2"));
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << r.status();
  EXPECT_NE(r.status().message().find(flipped), std::string::npos) << r.status();
}

TEST_F(ArchiveExtractorTest, EscapeAttemptsAreConfined) {
  std::string outside = dir_.Sub("outside");
  WriteFile(outside + "/sentinel", "original\n");
  std::string src = dir_.Sub("hostile");
  WriteFile(src + "/payload", "pwned\n");
  WriteFile(src + "/x/sentinel", "pwned\n");
  Sh("ln -s " + Q(outside) + " " + Q(src + "/link"));
  std::string staging = dir_.Sub("staging");

  // An absolute name lands inside the staging directory (Docker's rule).
  std::string abs_tar = dir_.Sub("abs.tar");
  Sh("tar -P -cf " + Q(abs_tar) + " --transform " + Q("s|^payload|" + outside + "/sentinel|") +
     " -C " + Q(src) + " payload");
  auto tree = ExtractArchive(abs_tar, staging + "/abs");
  ASSERT_TRUE(tree.ok()) << tree.status();
  auto inside = (*tree)->ReadFile(outside + "/sentinel", 100);
  ASSERT_TRUE(inside.ok()) << inside.status();
  EXPECT_EQ(*inside, "pwned\n");
  EXPECT_EQ(ReadFile(staging + "/abs" + outside + "/sentinel"), "pwned\n");
  EXPECT_EQ(ReadFile(outside + "/sentinel"), "original\n");

  // ".." inside the tree is resolved; climbing out is refused.
  std::string inner_tar = dir_.Sub("inner.tar");
  Sh("tar -P -cf " + Q(inner_tar) + " --transform 's|^payload|a/../b|' -C " + Q(src) + " payload");
  tree = ExtractArchive(inner_tar, staging + "/inner");
  ASSERT_TRUE(tree.ok()) << tree.status();
  EXPECT_EQ(ReadFile(staging + "/inner/b"), "pwned\n");
  std::string out_tar = dir_.Sub("dotdot.tar");
  Sh("tar -P -cf " + Q(out_tar) + " --transform 's|^payload|../../outside/sentinel|' -C " + Q(src) +
     " payload");
  auto r = ExtractArchive(out_tar, staging + "/dotdot");
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << r.status();
  EXPECT_NE(r.status().message().find("../../outside/sentinel"), std::string::npos) << r.status();

  // Writing through a symlink the archive itself planted.
  std::string link_tar = dir_.Sub("link.tar");
  Sh("tar -cf " + Q(link_tar) + " --transform 's|^x/sentinel|link/sentinel|' -C " + Q(src) +
     " link x/sentinel");
  r = ExtractArchive(link_tar, staging + "/link");
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << r.status();
  EXPECT_NE(r.status().message().find("link/sentinel"), std::string::npos) << r.status();

  EXPECT_EQ(ReadFile(outside + "/sentinel"), "original\n");
  EXPECT_EQ(Sh("ls -A " + Q(outside)), "sentinel\n");
  EXPECT_EQ(Sh("ls -A " + Q(dir_.path()) + " | grep -c escape || true"), "0\n");
}

}  // namespace
}  // namespace slipway::build
