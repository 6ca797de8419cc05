#include "server/build/layer/unpacked_layers.h"

#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "tests/layer/layer_fixture.h"

namespace slipway::build {
namespace {

using ::slipway::testing::ReadFile;
using ::slipway::testing::WriteFile;

// Counts how often blobs are opened: each unpack reads its blob exactly once.
class CountingBlobStore : public BlobStore {
 public:
  explicit CountingBlobStore(BlobStore& inner) : inner_(inner) {}
  absl::StatusOr<int64_t> Stat(const Digest& d) const override { return inner_.Stat(d); }
  std::vector<Digest> FindMissing(const std::vector<Digest>& d) const override {
    return inner_.FindMissing(d);
  }
  absl::StatusOr<std::unique_ptr<BlobWriter>> NewWriter(const BlobWriterOptions& o) override {
    return inner_.NewWriter(o);
  }
  absl::StatusOr<std::unique_ptr<BlobReader>> NewReader(const Digest& d,
                                                        bool verify) const override {
    ++readers;
    return inner_.NewReader(d, verify);
  }
  absl::Status Delete(const Digest& d) override { return inner_.Delete(d); }
  absl::Status List(const std::function<void(const ListedBlob&)>& fn,
                    const std::function<void(const std::string&)>& on_stray) const override {
    return inner_.List(fn, on_stray);
  }
  std::string PathOf(const Digest& d) const override { return inner_.PathOf(d); }

  mutable std::atomic<int> readers{0};

 private:
  BlobStore& inner_;
};

class UnpackedLayersTest : public LayerTest {
 protected:
  void SetUp() override {
    LayerTest::SetUp();
    layers_ = NewUnpackedLayers();
    ASSERT_NE(layers_, nullptr);
  }
  std::string Unpack(const StoredLayer& layer) {
    auto dir = layers_->Get(layer.diff_id, layer.blob);
    EXPECT_TRUE(dir.ok()) << dir.status();
    return dir.ok() ? *dir : "";
  }
  std::string LayersListing() { return Sh("ls -A " + Q(dir_.Sub("layers"))); }

  // Three layers: the base, one with whiteouts / an opaque dir / a file replaced by a
  // directory, one overriding a file and whiting out another.
  std::vector<std::string> ThreeLayers() {
    std::string l1 = dir_.Sub("l1"), l2 = dir_.Sub("l2"), l3 = dir_.Sub("l3");
    WriteFile(l1 + "/etc/passwd", "root:x:0:0::/root:/bin/sh\n");
    WriteFile(l1 + "/etc/keep", "k\n");
    WriteFile(l1 + "/opt/app/a", "a\n");
    WriteFile(l1 + "/opt/app/b", "b\n");
    WriteFile(l1 + "/var/x", "a file in layer 1\n");
    WriteFile(l1 + "/tmp/gone", "g\n");
    WriteFile(l1 + "/hl/one", "linked\n");
    WriteFile(l1 + "/secret", "s\n");
    Sh("cd " + Q(l1) + " && ln hl/one hl/two && ln -s ../etc/passwd hl/sym && chown 1234:5678 secret"
       " && chmod 0600 secret && touch -d @1500000000 secret");
    WriteFile(l2 + "/tmp/.wh.gone", "");
    WriteFile(l2 + "/opt/app/.wh..wh..opq", "");
    WriteFile(l2 + "/opt/app/c", "c\n");
    WriteFile(l2 + "/var/x/inner", "i\n");
    WriteFile(l3 + "/etc/passwd", "root:x:0:0::/root:/bin/bash\n");
    WriteFile(l3 + "/etc/.wh.keep", "");
    WriteFile(l3 + "/tmp/new", "n\n");
    std::vector<StoredLayer> stored = {StoreTar(TarDir(l1, "l1"), "gzip"),
                                       StoreTar(TarDir(l2, "l2"), "zstd"),
                                       StoreTar(TarDir(l3, "l3"), "cat")};
    std::vector<std::string> dirs;
    for (const StoredLayer& s : stored) dirs.push_back(Unpack(s));
    return dirs;
  }

  std::unique_ptr<UnpackedLayers> layers_;
};

TEST_F(UnpackedLayersTest, WhiteoutsBecomeOverlayFormAndPreserveMetadata) {
  std::vector<std::string> dirs = ThreeLayers();
  ASSERT_EQ(dirs.size(), 3u);
  struct stat gone = Lstat(dirs[1] + "/tmp/gone");
  EXPECT_TRUE(S_ISCHR(gone.st_mode));
  EXPECT_EQ(gone.st_rdev, makedev(0, 0));
  EXPECT_EQ(Xattr(dirs[1] + "/opt/app", "trusted.overlay.opaque"), "y");
  EXPECT_EQ(Xattr(dirs[0] + "/opt/app", "trusted.overlay.opaque"), "<absent>");
  EXPECT_TRUE(S_ISCHR(Lstat(dirs[2] + "/etc/keep").st_mode));
  for (const std::string& d : dirs) {
    EXPECT_EQ(Sh("find " + Q(d) + " -name '.wh.*' | wc -l"), "0\n") << d;
  }
  struct stat secret = Lstat(dirs[0] + "/secret");
  EXPECT_EQ(secret.st_uid, 1234u);
  EXPECT_EQ(secret.st_gid, 5678u);
  EXPECT_EQ(secret.st_mode & 07777, 0600u);
  EXPECT_EQ(secret.st_mtime, 1500000000);
  EXPECT_EQ(Lstat(dirs[0] + "/hl/one").st_ino, Lstat(dirs[0] + "/hl/two").st_ino);
  EXPECT_EQ(dirs[0], dir_.Sub("layers") + "/" + dirs[0].substr(dirs[0].rfind('/') + 1));
}

TEST_F(UnpackedLayersTest, StackedViewMergesThreeLayers) {
  auto tree = StackedFilesystem(ThreeLayers());
  ASSERT_TRUE(tree.ok()) << tree.status();
  auto walk = (*tree)->Walk("");
  ASSERT_TRUE(walk.ok()) << walk.status();
  std::string paths;
  for (const LayerEntry& e : *walk) paths += e.path + "\n";
  EXPECT_EQ(paths,
            "etc\netc/passwd\nhl\nhl/one\nhl/sym\nhl/two\nopt\nopt/app\nopt/app/c\nsecret\n"
            "tmp\ntmp/new\nvar\nvar/x\nvar/x/inner\n");
  auto passwd = (*tree)->ReadFile("/etc/passwd", 1000);
  ASSERT_TRUE(passwd.ok()) << passwd.status();
  EXPECT_EQ(*passwd, "root:x:0:0::/root:/bin/bash\n");
  EXPECT_EQ((*tree)->Stat("etc/keep", false).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ((*tree)->Stat("tmp/gone", false).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ((*tree)->Stat("opt/app/a", false).status().code(), absl::StatusCode::kNotFound);
  auto x = (*tree)->Stat("var/x", false);
  ASSERT_TRUE(x.ok()) << x.status();
  EXPECT_EQ(x->type, EntryType::kDirectory);
  for (const LayerEntry& e : *walk) {
    if (e.path == "hl/two") {
      EXPECT_EQ(e.type, EntryType::kHardlink);
      EXPECT_EQ(e.link_target, "hl/one");
    }
    if (e.path == "hl/one") EXPECT_EQ(e.type, EntryType::kFile);
    if (e.path == "secret") {
      EXPECT_EQ(e.uid, 1234u);
      EXPECT_EQ(e.mode, 0600u);
      EXPECT_EQ(e.mtime_unix_nanos, 1500000000LL * 1000000000LL);
      EXPECT_EQ(ReadFile(e.source_path), "s\n");
    }
    if (e.path == "etc/passwd") EXPECT_EQ(ReadFile(e.source_path), *passwd);
  }
  // A symlink followed inside the view finds the upper layer's file.
  auto via_link = (*tree)->ReadFile("hl/sym", 1000);
  ASSERT_TRUE(via_link.ok()) << via_link.status();
  EXPECT_EQ(*via_link, *passwd);
  auto sym = (*tree)->Stat("hl/sym", false);
  ASSERT_TRUE(sym.ok());
  EXPECT_EQ(sym->type, EntryType::kSymlink);
  EXPECT_EQ(sym->link_target, "../etc/passwd");
  auto sub = (*tree)->Walk("opt");
  ASSERT_TRUE(sub.ok());
  ASSERT_EQ(sub->size(), 2u);
  EXPECT_EQ((*sub)[1].path, "opt/app/c");
  EXPECT_EQ((*tree)->Walk("etc/passwd").status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ((*tree)->ReadFile("etc/passwd", 5).status().code(),
            absl::StatusCode::kResourceExhausted);
}

TEST_F(UnpackedLayersTest, SymlinksResolveInsideTheRoot) {
  std::string src = dir_.Sub("src");
  WriteFile(src + "/etc/passwd", "tree passwd\n");
  Sh("cd " + Q(src) + " && ln -s /etc abs && ln -s ../../../../etc rel && ln -s loop loop"
     " && mkdir d && ln -s ../abs/passwd d/chain");
  auto tree = StackedFilesystem({Unpack(StoreTar(TarDir(src, "links"), "gzip"))});
  ASSERT_TRUE(tree.ok()) << tree.status();
  for (const char* path : {"abs/passwd", "rel/passwd", "d/chain", "/d/../abs/./passwd"}) {
    auto content = (*tree)->ReadFile(path, 100);
    ASSERT_TRUE(content.ok()) << path << ": " << content.status();
    EXPECT_EQ(*content, "tree passwd\n") << path;
  }
  auto abs = (*tree)->Stat("abs", /*follow=*/false);
  ASSERT_TRUE(abs.ok());
  EXPECT_EQ(abs->type, EntryType::kSymlink);
  abs = (*tree)->Stat("abs", /*follow=*/true);
  ASSERT_TRUE(abs.ok());
  EXPECT_EQ(abs->type, EntryType::kDirectory);
  EXPECT_EQ(abs->path, "etc");
  EXPECT_EQ((*tree)->Stat("loop/x", false).status().code(), absl::StatusCode::kFailedPrecondition);
  auto root = (*tree)->Stat("", false);
  ASSERT_TRUE(root.ok());
  EXPECT_EQ(root->type, EntryType::kDirectory);
  EXPECT_EQ(root->path, "");
}

TEST_F(UnpackedLayersTest, HostileLayersAreRefusedAndLeaveNothing) {
  std::string outside = dir_.Sub("outside");
  WriteFile(outside + "/sentinel", "original\n");
  std::string src = dir_.Sub("hostile");
  WriteFile(src + "/payload", "pwned\n");
  WriteFile(src + "/x/sentinel", "pwned\n");
  Sh("ln -s " + Q(outside) + " " + Q(src + "/link"));
  std::string t = dir_.Sub("t");
  Sh("mkdir " + Q(t));
  struct Case {
    std::string name, create, needle;
  };
  std::vector<Case> cases = {
      {"dotdot", "tar -P -cf " + Q(t + "/dotdot.tar") + " --transform 's|^payload|../../outside/sentinel|' -C " +
                     Q(src) + " payload", "\"..\""},
      {"absolute", "tar -P -cf " + Q(t + "/absolute.tar") + " --transform " +
                       Q("s|^payload|" + outside + "/sentinel|") + " -C " + Q(src) + " payload",
       "absolute"},
      {"through_symlink", "tar -cf " + Q(t + "/through_symlink.tar") +
                              " --transform 's|^x/sentinel|link/sentinel|' -C " + Q(src) +
                              " link x/sentinel", "symlink"},
  };
  for (const Case& c : cases) {
    Sh(c.create);
    std::string tar = t + "/" + c.name + ".tar";
    EXPECT_NE(Sh("tar -tvf " + Q(tar) + " 2>/dev/null").find("sentinel"), std::string::npos);
    StoredLayer layer = StoreTar(tar, "gzip");
    auto dir = layers_->Get(layer.diff_id, layer.blob);
    EXPECT_EQ(dir.status().code(), absl::StatusCode::kInvalidArgument) << c.name << dir.status();
    EXPECT_NE(dir.status().message().find(c.needle), std::string::npos) << dir.status();
    EXPECT_EQ(ReadFile(outside + "/sentinel"), "original\n") << c.name;
    EXPECT_EQ(LayersListing(), "") << c.name;
  }
  EXPECT_EQ(Sh("ls -A " + Q(outside)), "sentinel\n");
}

TEST_F(UnpackedLayersTest, WrongDiffIdOrCorruptBlobIsDataLoss) {
  std::string src = dir_.Sub("src");
  WriteFile(src + "/f", std::string(100000, 'x'));
  StoredLayer layer = StoreTar(TarDir(src, "f"), "gzip");
  WriteFile(dir_.Sub("other/g"), "other");
  StoredLayer other = StoreTar(TarDir(dir_.Sub("other"), "other"), "gzip");
  auto dir = layers_->Get(other.diff_id, layer.blob);
  EXPECT_EQ(dir.status().code(), absl::StatusCode::kDataLoss) << dir.status();
  EXPECT_NE(dir.status().message().find(other.diff_id.ToString()), std::string::npos);
  EXPECT_EQ(LayersListing(), "");
  // A truncated gzip stream stored under its own digest.
  std::string full = ReadFile(blobs_->PathOf(layer.blob.digest));
  auto truncated = blobs_->PutSmall(full.substr(0, full.size() / 2));
  ASSERT_TRUE(truncated.ok());
  dir = layers_->Get(layer.diff_id,
                     Descriptor{layer.blob.media_type, truncated->digest, truncated->size, {}});
  EXPECT_EQ(dir.status().code(), absl::StatusCode::kDataLoss) << dir.status();
  EXPECT_EQ(LayersListing(), "");
  // And the right pair works afterwards.
  EXPECT_EQ(ReadFile(Unpack(layer) + "/f").size(), 100000u);
}

TEST_F(UnpackedLayersTest, ConcurrentGetsUnpackOnce) {
  std::string src = dir_.Sub("src");
  for (int i = 0; i < 200; ++i) WriteFile(src + "/d/f" + std::to_string(i), std::string(5000, 'a' + i % 26));
  StoredLayer layer = StoreTar(TarDir(src, "many"), "zstd");
  CountingBlobStore counting(*blobs_);
  auto layers = UnpackedLayers::Create({dir_.Sub("layers")}, counting);
  ASSERT_TRUE(layers.ok()) << layers.status();
  std::vector<absl::StatusOr<std::string>> results(8, absl::UnknownError("not run"));
  std::vector<std::thread> threads;
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&, i] { results[i] = (*layers)->Get(layer.diff_id, layer.blob); });
  }
  for (std::thread& t : threads) t.join();
  for (const auto& r : results) {
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(*r, *results[0]);
  }
  EXPECT_EQ(counting.readers.load(), 1) << "unpacked more than once";
  EXPECT_EQ(LayersListing(), layer.diff_id.hex() + "\n");
  EXPECT_EQ(Sh("ls " + Q(*results[0] + "/d") + " | wc -l"), "200\n");
}

TEST_F(UnpackedLayersTest, PruneKeepsOnlyWhatIsAsked) {
  std::string a = dir_.Sub("a"), b = dir_.Sub("b");
  WriteFile(a + "/a", "a");
  WriteFile(b + "/b", "b");
  StoredLayer la = StoreTar(TarDir(a, "a"), "gzip");
  StoredLayer lb = StoreTar(TarDir(b, "b"), "gzip");
  std::string da = Unpack(la), db = Unpack(lb);
  ASSERT_TRUE(layers_->Prune({la.diff_id}).ok());
  EXPECT_TRUE(Exists(da));
  EXPECT_FALSE(Exists(db));
  EXPECT_EQ(LayersListing(), la.diff_id.hex() + "\n");
  EXPECT_EQ(Unpack(lb), db);  // unpacked again on demand
}

TEST_F(UnpackedLayersTest, CreateRemovesCrashLeftovers) {
  Sh("mkdir -p " + Q(dir_.Sub("layers/.tmp-abc-1-0/x")));
  auto layers = UnpackedLayers::Create({dir_.Sub("layers")}, *blobs_);
  ASSERT_TRUE(layers.ok());
  EXPECT_EQ(LayersListing(), "");
}

}  // namespace
}  // namespace slipway::build
