#include "server/build/layer/layer_writer.h"

#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <algorithm>
#include <random>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "server/build/layer/layer_compressor.h"
#include "storage/media_types.h"
#include "tests/layer/layer_fixture.h"

namespace slipway::build {
namespace {

using ::slipway::testing::WriteFile;

class LayerWriterTest : public LayerTest {
 protected:
  LayerEntry File(const std::string& path, const std::string& content, uint32_t mode = 0644) {
    std::string source = dir_.Sub("src/" + std::to_string(next_source_++));
    WriteFile(source, content);
    LayerEntry e;
    e.path = path;
    e.type = EntryType::kFile;
    e.mode = mode;
    e.size = static_cast<int64_t>(content.size());
    e.source_path = source;
    e.mtime_unix_nanos = 1600000000LL * 1000000000LL + 123456789;
    return e;
  }
  static LayerEntry Entry(const std::string& path, EntryType type, uint32_t mode = 0755) {
    LayerEntry e;
    e.path = path;
    e.type = type;
    e.mode = mode;
    e.mtime_unix_nanos = 1600000000LL * 1000000000LL;
    return e;
  }
  // An uncompressed copy of the blob, via the real gzip/zstd command line.
  std::string Decompress(const WrittenLayer& layer) {
    std::string tool = layer.blob.media_type == media::kOciLayerZstd ? "zstd" : "gzip";
    std::string tar = dir_.Sub("layer-" + layer.diff_id.hex().substr(0, 12) + ".tar");
    Sh(tool + " -dc " + Q(blobs_->PathOf(layer.blob.digest)) + " > " + Q(tar));
    return tar;
  }
  // Checks the blob digest, size and diff_id against independent tools.
  void VerifyDigests(const WrittenLayer& layer) {
    std::string blob = blobs_->PathOf(layer.blob.digest);
    EXPECT_EQ(FirstWord(Sh("sha256sum " + Q(blob))), layer.blob.digest.hex());
    std::string tar = Decompress(layer);
    EXPECT_EQ(FirstWord(Sh("sha256sum " + Q(tar))), layer.diff_id.hex());
    EXPECT_EQ(FirstWord(Sh("stat -c %s " + Q(tar))), std::to_string(layer.uncompressed_size));
    EXPECT_EQ(FirstWord(Sh("stat -c %s " + Q(blob))), std::to_string(layer.blob.size));
  }

  std::vector<LayerEntry> RichEntries() {
    std::vector<LayerEntry> v;
    LayerEntry a = Entry("a", EntryType::kDirectory, 0750);
    a.uid = 1000;
    a.gid = 1001;
    v.push_back(a);
    LayerEntry f = File("a/f", "hello world\n", 0640);
    f.uid = 33;
    f.gid = 34;
    f.xattrs["user.note"] = "x\0y";  // binary value survives
    f.xattrs["user.note"].assign("x\0y", 3);
    v.push_back(f);
    LayerEntry hl = Entry("a/e", EntryType::kHardlink);  // sorts before its target a/f
    hl.link_target = "a/f";
    v.push_back(hl);
    LayerEntry hl2 = Entry("z/hl", EntryType::kHardlink);
    hl2.link_target = "a/e";  // a link to a link: same group
    v.push_back(hl2);
    v.push_back(Entry("z", EntryType::kDirectory));
    LayerEntry l = Entry("a/l", EntryType::kSymlink, 0777);
    l.link_target = "../z/hl";
    v.push_back(l);
    LayerEntry cd = Entry("dev/null", EntryType::kCharDevice, 0666);
    cd.dev_major = 1;
    cd.dev_minor = 3;
    v.push_back(cd);
    LayerEntry bd = Entry("dev/sda", EntryType::kBlockDevice, 0660);
    bd.dev_major = 8;
    bd.dev_minor = 0;
    v.push_back(bd);
    v.push_back(Entry("dev", EntryType::kDirectory));
    v.push_back(Entry("dev/fifo", EntryType::kFifo, 0600));
    v.push_back(File("suid", "#!/bin/sh\n", 04755));
    v.push_back(File("big", BigContent()));  // several copy chunks
    LayerEntry big_ids = File("bigids", "ids past ustar's 7 octal digits\n");
    big_ids.uid = 3000000;
    big_ids.gid = 4000000;
    v.push_back(big_ids);
    v.push_back(File(long_dir_ + "/file", "deep\n"));
    std::string d;
    for (const std::string& part : {std::string(100, 'd'), std::string(100, 'e'),
                                    std::string(94, 'f')}) {
      d += (d.empty() ? "" : "/") + part;
      v.push_back(Entry(d, EntryType::kDirectory));
    }
    return v;
  }

  static std::string BigContent() {
    std::string s;
    for (int i = 0; s.size() < (5u << 19); ++i) s += std::to_string(i) + ",";
    return s;
  }

  int next_source_ = 0;
  // 100 + 1 + 100 + 1 + 94 + "/file" = 301 characters.
  std::string long_dir_ = std::string(100, 'd') + "/" + std::string(100, 'e') + "/" +
                          std::string(94, 'f');
};

TEST_F(LayerWriterTest, GzipLayerExtractsWithGnuTarExactly) {
  auto layer = WriteLayer(RichEntries(), {}, *blobs_, index_.get());
  ASSERT_TRUE(layer.ok()) << layer.status();
  EXPECT_EQ(layer->blob.media_type, media::kOciLayerGzip);
  VerifyDigests(*layer);
  ASSERT_EQ((long_dir_ + "/file").size(), 301u);

  std::string tar = Decompress(*layer);
  std::string listing = Sh("tar -tvv --numeric-owner -f " + Q(tar));
  EXPECT_NE(listing.find("drwxr-x--- 1000/1001"), std::string::npos) << listing;
  EXPECT_NE(listing.find("-rw-r----- 33/34"), std::string::npos) << listing;
  EXPECT_NE(listing.find("a/f link to a/e"), std::string::npos) << listing;
  EXPECT_NE(listing.find("z/hl link to a/e"), std::string::npos) << listing;
  EXPECT_NE(listing.find("a/l -> ../z/hl"), std::string::npos) << listing;
  EXPECT_NE(listing.find("-rwsr-xr-x 0/0"), std::string::npos) << listing;
  EXPECT_EQ(listing.find("root"), std::string::npos) << "no user names: " << listing;
  // Sorted, parents first.
  EXPECT_LT(listing.find(" a/\n"), listing.find(" a/e\n")) << listing;
  EXPECT_LT(listing.find(" dev/\n"), listing.find(" dev/fifo\n")) << listing;

  std::string out = dir_.Sub("out");
  Sh("mkdir " + Q(out) + " && tar -x --xattrs --xattrs-include='*' --numeric-owner -p -f " +
     Q(tar) + " -C " + Q(out));
  struct stat a = Lstat(out + "/a");
  EXPECT_TRUE(S_ISDIR(a.st_mode));
  EXPECT_EQ(a.st_mode & 07777, 0750u);
  EXPECT_EQ(a.st_uid, 1000u);
  EXPECT_EQ(a.st_gid, 1001u);
  EXPECT_EQ(a.st_mtime, 1600000000);
  struct stat f = Lstat(out + "/a/f");
  struct stat e = Lstat(out + "/a/e");
  struct stat hl = Lstat(out + "/z/hl");
  EXPECT_EQ(f.st_ino, e.st_ino);
  EXPECT_EQ(f.st_ino, hl.st_ino);
  EXPECT_EQ(f.st_nlink, 3u);
  EXPECT_EQ(f.st_mode & 07777, 0640u);
  EXPECT_EQ(f.st_uid, 33u);
  EXPECT_EQ(f.st_mtime, 1600000000);
  EXPECT_EQ(f.st_mtim.tv_nsec, 0) << "whole seconds only";
  EXPECT_EQ(::slipway::testing::ReadFile(out + "/z/hl"), "hello world\n");
  EXPECT_EQ(Xattr(out + "/a/f", "user.note"), std::string("x\0y", 3));
  EXPECT_EQ(Sh("readlink " + Q(out + "/a/l")), "../z/hl\n");
  struct stat null = Lstat(out + "/dev/null");
  EXPECT_TRUE(S_ISCHR(null.st_mode));
  EXPECT_EQ(major(null.st_rdev), 1u);
  EXPECT_EQ(minor(null.st_rdev), 3u);
  struct stat sda = Lstat(out + "/dev/sda");
  EXPECT_TRUE(S_ISBLK(sda.st_mode));
  EXPECT_EQ(major(sda.st_rdev), 8u);
  EXPECT_TRUE(S_ISFIFO(Lstat(out + "/dev/fifo").st_mode));
  EXPECT_EQ(Lstat(out + "/suid").st_mode & 07777, 04755u);
  EXPECT_EQ(::slipway::testing::ReadFile(out + "/big"), BigContent());
  EXPECT_EQ(Lstat(out + "/bigids").st_uid, 3000000u);
  EXPECT_EQ(Lstat(out + "/bigids").st_gid, 4000000u);
  EXPECT_EQ(::slipway::testing::ReadFile(out + "/" + long_dir_ + "/file"), "deep\n");

  auto mapping = index_->FindByDiffId(layer->diff_id);
  ASSERT_TRUE(mapping.ok()) << mapping.status();
  EXPECT_EQ(mapping->compressed.digest, layer->blob.digest);
  EXPECT_EQ(mapping->uncompressed_size, layer->uncompressed_size);
}

TEST_F(LayerWriterTest, XattrsAreSchilyPaxRecords) {
  auto layer = WriteLayer(RichEntries(), {}, *blobs_, nullptr);
  ASSERT_TRUE(layer.ok()) << layer.status();
  std::string tar = Decompress(*layer);
  EXPECT_EQ(Sh("grep -c -a 'SCHILY.xattr.user.note' " + Q(tar)), "1\n");
  EXPECT_EQ(Sh("grep -c -a 'LIBARCHIVE.xattr' " + Q(tar) + " || true"), "0\n");
  std::string listing = Sh("tar --xattrs --xattrs-include='*' -tvv -f " + Q(tar));
  EXPECT_NE(listing.find("-rw-r-----*"), std::string::npos) << listing;
}

TEST_F(LayerWriterTest, ZstdLayerMatchesZstdCommandLine) {
  LayerWriteOptions options;
  options.compression = LayerCompressionKind::kZstd;
  options.level = 9;
  auto layer = WriteLayer(RichEntries(), options, *blobs_, index_.get());
  ASSERT_TRUE(layer.ok()) << layer.status();
  EXPECT_EQ(layer->blob.media_type, media::kOciLayerZstd);
  VerifyDigests(*layer);
  Sh("zstd -t -q " + Q(blobs_->PathOf(layer->blob.digest)));  // checksummed frame
  options.level = 99;
  EXPECT_EQ(WriteLayer(RichEntries(), options, *blobs_, nullptr).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(LayerWriterTest, InputOrderDoesNotChangeDigests) {
  for (LayerCompressionKind kind : {LayerCompressionKind::kGzip, LayerCompressionKind::kZstd}) {
    LayerWriteOptions options;
    options.compression = kind;
    std::vector<LayerEntry> entries = RichEntries();
    auto first = WriteLayer(entries, options, *blobs_, nullptr);
    ASSERT_TRUE(first.ok()) << first.status();
    std::mt19937 rng(42);
    for (int round = 0; round < 3; ++round) {
      std::shuffle(entries.begin(), entries.end(), rng);
      auto again = WriteLayer(entries, options, *blobs_, nullptr);
      ASSERT_TRUE(again.ok()) << again.status();
      EXPECT_EQ(again->blob.digest, first->blob.digest);
      EXPECT_EQ(again->diff_id, first->diff_id);
    }
  }
}

TEST_F(LayerWriterTest, CompressorOutputIgnoresInputChunking) {
  std::string data;
  std::mt19937 rng(7);
  for (int i = 0; i < 3 * (1 << 20) + 12345; ++i) data.push_back(static_cast<char>('a' + rng() % 4));
  for (LayerCompressionKind kind : {LayerCompressionKind::kGzip, LayerCompressionKind::kZstd}) {
    std::string reference;
    for (size_t chunk : {data.size(), size_t{1} << 16, size_t{4097}, size_t{333333}}) {
      std::string out;
      auto c = LayerCompressor::Create(kind, 3, [&out](absl::string_view d) {
        out.append(d.data(), d.size());
        return absl::OkStatus();
      });
      ASSERT_TRUE(c.ok()) << c.status();
      for (size_t at = 0; at < data.size(); at += chunk) {
        ASSERT_TRUE((*c)->Write(absl::string_view(data).substr(at, chunk)).ok());
      }
      ASSERT_TRUE((*c)->Finish().ok());
      if (reference.empty()) reference = out;
      EXPECT_EQ(out, reference) << "chunk " << chunk;
    }
  }
}

TEST_F(LayerWriterTest, SourceDateEpochClampsLaterMtimes) {
  std::vector<LayerEntry> entries;
  LayerEntry late = File("late", "1");
  late.mtime_unix_nanos = 2000000000LL * 1000000000LL + 999;
  LayerEntry early = File("early", "2");
  early.mtime_unix_nanos = 100LL * 1000000000LL + 500000000;
  entries = {late, early};
  LayerWriteOptions options;
  options.source_date_epoch = 1000000000;
  auto layer = WriteLayer(entries, options, *blobs_, nullptr);
  ASSERT_TRUE(layer.ok()) << layer.status();
  std::string out = dir_.Sub("out");
  Sh("mkdir " + Q(out) + " && tar -x -f " + Q(Decompress(*layer)) + " -C " + Q(out));
  EXPECT_EQ(Lstat(out + "/late").st_mtime, 1000000000);
  EXPECT_EQ(Lstat(out + "/early").st_mtime, 101);  // 100.5 s rounds up, as Go's tar does
  EXPECT_EQ(Lstat(out + "/early").st_mtim.tv_nsec, 0);
}

TEST_F(LayerWriterTest, BadEntriesAreInvalidArgumentAndPublishNothing) {
  auto expect_invalid = [&](std::vector<LayerEntry> entries, const std::string& needle) {
    auto r = WriteLayer(std::move(entries), {}, *blobs_, nullptr);
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << r.status();
    EXPECT_NE(r.status().message().find(needle), std::string::npos) << r.status();
  };
  expect_invalid({File("x", "1"), File("x", "2")}, "\"x\" appears twice");
  LayerEntry hl = Entry("link", EntryType::kHardlink);
  hl.link_target = "missing";
  expect_invalid({File("x", "1"), hl}, "missing");
  hl.link_target = "d";
  expect_invalid({Entry("d", EntryType::kDirectory), hl}, "not a regular file");
  expect_invalid({File("../x", "1")}, "../x");
  expect_invalid({File("/abs", "1")}, "/abs");
  expect_invalid({File("a//b", "1")}, "a//b");
  EXPECT_EQ(BlobCount(), 0);
}

TEST_F(LayerWriterTest, FileSizeMismatchIsDataLossAndPublishesNothing) {
  LayerEntry shorter = File("short", "abc");
  shorter.size = 10;
  auto r = WriteLayer({File("a", std::string(3 << 20, 'a')), shorter}, {}, *blobs_, index_.get());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kDataLoss) << r.status();
  EXPECT_NE(r.status().message().find("shorter"), std::string::npos) << r.status();
  LayerEntry longer = File("long", "abcdef");
  longer.size = 2;
  r = WriteLayer({longer}, {}, *blobs_, index_.get());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kDataLoss) << r.status();
  EXPECT_EQ(BlobCount(), 0);
  EXPECT_EQ(Sh("ls " + Q(dir_.Sub("store/tmp")) + " | wc -l"), "0\n");
}

TEST_F(LayerWriterTest, EmptyLayerIsAValidTar) {
  auto layer = WriteLayer({}, {}, *blobs_, nullptr);
  ASSERT_TRUE(layer.ok()) << layer.status();
  VerifyDigests(*layer);
  EXPECT_EQ(Sh("tar -tf " + Q(Decompress(*layer))), "");
}

}  // namespace
}  // namespace slipway::build
