#include "server/build/layer/upper_dir.h"

#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"
#include "server/build/layer/layer_writer.h"
#include "server/build/layer/unpacked_layers.h"
#include "storage/digest.h"
#include "tests/layer/layer_fixture.h"

namespace slipway::build {
namespace {

using ::slipway::testing::ReadFile;
using ::slipway::testing::WriteFile;

// The overlay options the RUN executor uses: nothing a layer tar cannot express.
constexpr char kPlainOverlay[] = "redirect_dir=off,metacopy=off,index=off";

const LayerEntry* Find(const std::vector<LayerEntry>& entries, const std::string& path) {
  for (const LayerEntry& e : entries) {
    if (e.path == path) return &e;
  }
  return nullptr;
}

std::string FileSha(const std::string& path) {
  Sha256Hasher h;
  h.Update(ReadFile(path));
  return h.Finish().hex().substr(0, 16);
}

// One line per entry below `root` (sorted by path): type, mode, owner, mtime (rounded to the
// second, as a layer keeps it), content digest / link target / device numbers, xattrs, and the
// hard-link group. Written from lstat/readlink/getxattr on a real (mounted) tree, so an
// overlay mount's merged view and a re-applied layer stack can be compared line by line.
std::string Listing(const std::string& root) {
  std::vector<std::string> lines;
  std::map<std::pair<dev_t, ino_t>, std::string> first_link;
  std::vector<std::string> todo{""};
  std::vector<std::pair<std::string, struct stat>> all;
  while (!todo.empty()) {
    std::string dir = todo.back();
    todo.pop_back();
    std::string out = ::slipway::testing::RunCommand("ls -A " +
                                                     ::slipway::testing::ShellQuote(root + "/" + dir))
                          .output;
    for (absl::string_view name : absl::StrSplit(out, '\n', absl::SkipEmpty())) {
      std::string rel = dir.empty() ? std::string(name) : absl::StrCat(dir, "/", name);
      struct stat st {};
      EXPECT_EQ(lstat((root + "/" + rel).c_str(), &st), 0) << rel;
      all.emplace_back(rel, st);
      if (S_ISDIR(st.st_mode)) todo.push_back(rel);
    }
  }
  std::sort(all.begin(), all.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  for (const auto& [rel, st] : all) {
    std::string full = root + "/" + rel;
    std::string line = absl::StrCat(rel, " mode=", absl::Hex(st.st_mode), " ", st.st_uid, ":",
                                    st.st_gid);
    int64_t nanos = static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
    absl::StrAppend(&line, " mtime=", (nanos + 500000000) / 1000000000);
    if (S_ISREG(st.st_mode)) {
      absl::StrAppend(&line, " size=", st.st_size, " sha=", FileSha(full));
      if (st.st_nlink > 1) {
        auto [it, fresh] = first_link.emplace(std::make_pair(st.st_dev, st.st_ino), rel);
        if (!fresh) absl::StrAppend(&line, " linked-to=", it->second);
      }
    } else if (S_ISLNK(st.st_mode)) {
      char buf[4096];
      ssize_t n = readlink(full.c_str(), buf, sizeof(buf));
      absl::StrAppend(&line, " -> ", std::string(buf, n > 0 ? n : 0));
    } else if (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode)) {
      absl::StrAppend(&line, " dev=", major(st.st_rdev), ",", minor(st.st_rdev));
    }
    char names[4096];
    ssize_t n = llistxattr(full.c_str(), names, sizeof(names));
    std::vector<std::string> xattrs;
    for (ssize_t i = 0; n > 0 && i < n; i += std::strlen(names + i) + 1) {
      std::string name(names + i);
      char value[4096];
      ssize_t v = lgetxattr(full.c_str(), name.c_str(), value, sizeof(value));
      xattrs.push_back(name + "=" + std::string(value, v > 0 ? v : 0));
    }
    std::sort(xattrs.begin(), xattrs.end());
    if (!xattrs.empty()) absl::StrAppend(&line, " xattrs=", absl::StrJoin(xattrs, ","));
    lines.push_back(line);
  }
  return absl::StrJoin(lines, "\n");
}

class UpperDirTest : public LayerTest {
 protected:
  void SetUp() override {
    LayerTest::SetUp();
    layers_ = NewUnpackedLayers();
    ASSERT_NE(layers_, nullptr);
  }
  void TearDown() override {
    // Before TempDir's recursive removal, which would otherwise reach through a mount.
    while (!mounts_.empty()) Unmount(mounts_.back());
  }

  // Mounts an overlay at `target`; an empty `upper` makes a read-only stack of `lowers`.
  void MountOverlay(const std::string& lowers, const std::string& upper, const std::string& work,
                    const std::string& target) {
    Sh("mkdir -p " + Q(target) + (upper.empty() ? "" : " " + Q(upper) + " " + Q(work)));
    std::string data = absl::StrCat("lowerdir=", lowers, ",", kPlainOverlay);
    if (!upper.empty()) absl::StrAppend(&data, ",upperdir=", upper, ",workdir=", work);
    ASSERT_EQ(mount("overlay", target.c_str(), "overlay", upper.empty() ? MS_RDONLY : 0,
                    data.c_str()),
              0)
        << "mount overlay " << data << " at " << target << ": " << std::strerror(errno);
    mounts_.push_back(target);
  }
  void Unmount(const std::string& target) {
    if (umount2(target.c_str(), 0) != 0) {
      ADD_FAILURE() << "umount " << target << ": " << std::strerror(errno);
      umount2(target.c_str(), MNT_DETACH);
    }
    mounts_.erase(std::remove(mounts_.begin(), mounts_.end(), target), mounts_.end());
  }

  // The base image: one layer made by GNU tar, unpacked in overlay form as RUN sees it.
  std::string BaseLayer() {
    std::string src = dir_.Sub("base-src");
    WriteFile(src + "/etc/config", "a=1\n");
    WriteFile(src + "/etc/removed", "bye\n");
    WriteFile(src + "/etc/keep", "keep\n");
    WriteFile(src + "/etc/perm", "perm\n");
    WriteFile(src + "/etc/owned", "owned\n");
    WriteFile(src + "/etc/xattr", "x\n");
    WriteFile(src + "/opt/app/old1", "1\n");
    WriteFile(src + "/opt/app/sub/old2", "2\n");
    WriteFile(src + "/var/f", "a file that becomes a directory\n");
    WriteFile(src + "/var/d/child", "a directory that becomes a file\n");
    WriteFile(src + "/untouched/deep/file", "u\n");
    WriteFile(src + "/gone/sub/file", "a whole directory the RUN deletes\n");
    Sh("mkdir -p " + Q(src + "/bin") + " " + Q(src + "/run") + " && touch -d @1600000000 " +
       Q(src) + "/*/* " + Q(src) + "/*");
    StoredLayer base = StoreTar(TarDir(src, "base"), "gzip");
    auto dir = layers_->Get(base.diff_id, base.blob);
    EXPECT_TRUE(dir.ok()) << dir.status();
    return dir.ok() ? *dir : "";
  }

  absl::StatusOr<WrittenLayer> Write(std::vector<LayerEntry> entries) {
    return WriteLayer(std::move(entries), LayerWriteOptions{}, *blobs_, index_.get());
  }
  // The layer as an uncompressed tar file (for GNU tar).
  std::string Untar(const WrittenLayer& layer, const std::string& name) {
    std::string tar = dir_.Sub(name + ".tar");
    Sh("gzip -dc < " + Q(blobs_->PathOf(layer.blob.digest)) + " > " + Q(tar));
    return tar;
  }

  std::unique_ptr<UnpackedLayers> layers_;
  std::vector<std::string> mounts_;
};

TEST_F(UpperDirTest, RunChangesBecomeALayerThatReproducesTheMergedView) {
  const std::string base = BaseLayer();
  ASSERT_FALSE(base.empty());
  const std::string upper = dir_.Sub("upper"), work = dir_.Sub("work"), m = dir_.Sub("merged");
  MountOverlay(base, upper, work, m);
  // What a RUN does, through the mount.
  Sh("cd " + Q(m) +
     " && mkdir -p new && printf 'new\\n' > new/file.txt && chmod 4755 new/file.txt"
     " && printf 'b=2\\n' >> etc/config"
     " && rm etc/removed"
     " && rm -rf opt/app && mkdir -p opt/app && printf 'fresh\\n' > opt/app/fresh"
     " && rm var/f && mkdir var/f && printf 'inner\\n' > var/f/inner"
     " && rm -rf var/d && printf 'now a file\\n' > var/d"
     " && ln -s ../etc/config bin/link"
     " && mkdir hl && printf 'linked\\n' > hl/a && ln hl/a hl/b && ln etc/keep etc/keep2"
     " && chmod 0700 etc/perm && chown 1000:2000 etc/owned"
     " && mkfifo run/fifo && mknod run/null c 1 3 && rm -rf gone");
  ASSERT_EQ(lsetxattr((m + "/etc/xattr").c_str(), "user.x", "hello", 5, 0), 0)
      << std::strerror(errno);
  // cap_net_bind_service=ep as the kernel stores it: VFS_CAP_REVISION_2 | effective, then
  // permitted/inheritable words (little endian); permitted bit 10.
  const unsigned char le_cap[20] = {0x01, 0, 0, 0x02, 0, 0x04, 0, 0, 0, 0, 0, 0,
                                    0,    0, 0, 0,    0, 0,    0, 0};
  ASSERT_EQ(lsetxattr((m + "/new/file.txt").c_str(), "security.capability", le_cap,
                      sizeof(le_cap), 0),
            0)
      << std::strerror(errno);
  const std::string merged = Listing(m);
  Unmount(m);

  auto entries = EntriesFromUpperDir(upper, {});
  ASSERT_TRUE(entries.ok()) << entries.status();
  // Sorted, parents first, never the lower-only files.
  for (size_t i = 1; i < entries->size(); ++i) {
    EXPECT_LT((*entries)[i - 1].path, (*entries)[i].path);
  }
  EXPECT_EQ(Find(*entries, "untouched"), nullptr);
  EXPECT_EQ(Find(*entries, "opt/app/old1"), nullptr);
  const LayerEntry* wh = Find(*entries, "etc/.wh.removed");
  ASSERT_NE(wh, nullptr);
  EXPECT_EQ(wh->type, EntryType::kFile);
  EXPECT_EQ(wh->size, 0);
  EXPECT_EQ(Find(*entries, "etc/removed"), nullptr);
  ASSERT_NE(Find(*entries, "opt/app/.wh..wh..opq"), nullptr);
  ASSERT_NE(Find(*entries, "var/d"), nullptr);
  EXPECT_EQ(Find(*entries, "var/d")->type, EntryType::kFile);
  ASSERT_NE(Find(*entries, "var/f"), nullptr);
  EXPECT_EQ(Find(*entries, "var/f")->type, EntryType::kDirectory);
  const LayerEntry* b = Find(*entries, "hl/b");
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(b->type, EntryType::kHardlink);
  EXPECT_EQ(b->link_target, "hl/a");
  ASSERT_NE(Find(*entries, "etc/keep2"), nullptr);
  EXPECT_EQ(Find(*entries, "etc/keep2")->type, EntryType::kHardlink);
  EXPECT_EQ(Find(*entries, "etc/keep2")->link_target, "etc/keep");
  const LayerEntry* x = Find(*entries, "etc/xattr");
  ASSERT_NE(x, nullptr);
  EXPECT_EQ(x->xattrs.count("user.x"), 1u);
  EXPECT_EQ(x->source_path, upper + "/etc/xattr");
  for (const LayerEntry& e : *entries) {
    for (const auto& [name, value] : e.xattrs) {
      EXPECT_FALSE(absl::StartsWith(name, "trusted.overlay.")) << e.path << " " << name;
    }
  }
  EXPECT_EQ(Find(*entries, "run/fifo")->type, EntryType::kFifo);
  ASSERT_NE(Find(*entries, "run/null"), nullptr);
  EXPECT_EQ(Find(*entries, "run/null")->type, EntryType::kCharDevice);
  EXPECT_EQ(Find(*entries, "run/null")->dev_major, 1u);
  EXPECT_EQ(Find(*entries, "run/null")->dev_minor, 3u);
  ASSERT_NE(Find(*entries, ".wh.gone"), nullptr);
  EXPECT_EQ(Find(*entries, "gone"), nullptr);
  EXPECT_EQ(Find(*entries, "new/file.txt")->xattrs.count("security.capability"), 1u);
  EXPECT_EQ(Find(*entries, "etc/owned")->uid, 1000u);
  EXPECT_EQ(Find(*entries, "etc/perm")->mode, 0700u);
  EXPECT_EQ(Find(*entries, "new/file.txt")->mode, 04755u);

  auto written = Write(*entries);
  ASSERT_TRUE(written.ok()) << written.status();
  const WrittenLayer& layer = *written;
  // GNU tar's reading of the layer.
  std::string tar = Untar(layer, "run");
  // Runs of spaces (GNU tar's column alignment) collapsed to one.
  std::string listing;
  for (char c : Sh("tar --xattrs --xattrs-include='*' --numeric-owner -tvvf " + Q(tar))) {
    if (c != ' ' || listing.empty() || listing.back() != ' ') listing.push_back(c);
  }
  for (const char* want :
       {"etc/.wh.removed", "opt/app/.wh..wh..opq", "opt/app/fresh", "var/f/inner", "var/d\n",
        "bin/link -> ../etc/config", "hl/b link to hl/a", "etc/keep2 link to etc/keep",
        "x: 5 user.x", "1000/2000 6", "-rwx------ 0/0", "var/f/.wh..wh..opq", "-rwsr-xr-x* 0/0", "prw-r--r-- 0/0", "crw-r--r-- 0/0 1,3", "x: 20 security.capability",
        ".wh.gone"}) {
    EXPECT_TRUE(absl::StrContains(listing, want)) << want << " missing in\n" << listing;
  }
  EXPECT_FALSE(absl::StrContains(listing, "untouched")) << listing;
  EXPECT_FALSE(absl::StrContains(listing, "trusted.overlay")) << listing;
  EXPECT_FALSE(absl::StrContains(listing, "opt/app/old1")) << listing;

  // Independently: the base layer plus the new one, applied from their tars, stacked by the
  // kernel, show exactly what the RUN's mount showed.
  auto new_dir = layers_->Get(layer.diff_id, layer.blob);
  ASSERT_TRUE(new_dir.ok()) << new_dir.status();
  const std::string again = dir_.Sub("again");
  MountOverlay(*new_dir + ":" + base, "", "", again);
  EXPECT_EQ(Listing(again), merged);
  Unmount(again);
}

TEST_F(UpperDirTest, SourceDateEpochClampsLaterTimesOnly) {
  const std::string upper = dir_.Sub("upper");
  WriteFile(upper + "/old", "o\n");
  WriteFile(upper + "/dir/new", "n\n");
  Sh("mknod " + Q(upper + "/gone") + " c 0 0 && touch -h -d @1000 " + Q(upper + "/old"));
  const int64_t epoch = 2000000;
  auto entries = EntriesFromUpperDir(upper, {epoch});
  ASSERT_TRUE(entries.ok()) << entries.status();
  ASSERT_EQ(entries->size(), 4u);  // .wh.gone, dir, dir/new, old
  EXPECT_EQ(Find(*entries, "old")->mtime_unix_nanos, int64_t{1000} * 1000000000);
  EXPECT_EQ(Find(*entries, "dir/new")->mtime_unix_nanos, epoch * 1000000000);
  EXPECT_EQ(Find(*entries, "dir")->mtime_unix_nanos, epoch * 1000000000);
  EXPECT_EQ(Find(*entries, ".wh.gone")->mtime_unix_nanos, epoch * 1000000000);
  // The layer written without its own clamp still carries the clamped times.
  auto layer = Write(*entries);
  ASSERT_TRUE(layer.ok()) << layer.status();
  std::string listing = Sh("tar --full-time -tvf " + Q(Untar(*layer, "sde")));
  EXPECT_TRUE(absl::StrContains(listing, "1970-01-24 03:33:20 dir/new")) << listing;
  EXPECT_TRUE(absl::StrContains(listing, "1970-01-01 00:16:40 old")) << listing;

  // The same changes made later give the same layer.
  Sh("touch " + Q(upper + "/dir/new") + " " + Q(upper + "/dir"));
  auto later = EntriesFromUpperDir(upper, {epoch});
  ASSERT_TRUE(later.ok()) << later.status();
  auto later_layer = Write(*later);
  ASSERT_TRUE(later_layer.ok()) << later_layer.status();
  EXPECT_EQ(later_layer->diff_id, layer->diff_id);
}

TEST_F(UpperDirTest, RedirectAndMetacopyAreRefused) {
  const std::string upper = dir_.Sub("upper");
  Sh("mkdir -p " + Q(upper + "/moved"));
  ASSERT_EQ(lsetxattr((upper + "/moved").c_str(), "trusted.overlay.redirect", "/orig", 5, 0), 0)
      << std::strerror(errno);
  auto entries = EntriesFromUpperDir(upper, {});
  ASSERT_EQ(entries.status().code(), absl::StatusCode::kInvalidArgument) << entries.status();
  EXPECT_TRUE(absl::StrContains(entries.status().message(), upper + "/moved"))
      << entries.status();
  EXPECT_TRUE(absl::StrContains(entries.status().message(), "redirect")) << entries.status();

  const std::string upper2 = dir_.Sub("upper2");
  WriteFile(upper2 + "/a/meta", "");
  ASSERT_EQ(lsetxattr((upper2 + "/a/meta").c_str(), "trusted.overlay.metacopy", "", 0, 0), 0);
  auto meta = EntriesFromUpperDir(upper2, {});
  EXPECT_EQ(meta.status().code(), absl::StatusCode::kInvalidArgument) << meta.status();
  EXPECT_TRUE(absl::StrContains(meta.status().message(), "metacopy")) << meta.status();
}

TEST_F(UpperDirTest, RenamingALowerDirWithRedirectDirOnIsRefused) {
  const std::string lower = dir_.Sub("lower"), upper = dir_.Sub("upper"),
                    work = dir_.Sub("work"), m = dir_.Sub("m");
  WriteFile(lower + "/dir/file", "f\n");
  Sh("mkdir -p " + Q(m) + " " + Q(upper) + " " + Q(work));
  std::string data = absl::StrCat("lowerdir=", lower, ",upperdir=", upper, ",workdir=", work,
                                  ",redirect_dir=on");
  ASSERT_EQ(mount("overlay", m.c_str(), "overlay", 0, data.c_str()), 0) << std::strerror(errno);
  mounts_.push_back(m);
  Sh("mv " + Q(m + "/dir") + " " + Q(m + "/renamed"));
  Unmount(m);
  auto entries = EntriesFromUpperDir(upper, {});
  EXPECT_EQ(entries.status().code(), absl::StatusCode::kInvalidArgument) << entries.status();
}

TEST_F(UpperDirTest, MissingUpperDirIsNotFound) {
  auto entries = EntriesFromUpperDir(dir_.Sub("nope"), {});
  EXPECT_EQ(entries.status().code(), absl::StatusCode::kNotFound) << entries.status();
  EXPECT_TRUE(absl::StrContains(entries.status().message(), dir_.Sub("nope")));
  WriteFile(dir_.Sub("plain"), "not a directory");
  EXPECT_EQ(EntriesFromUpperDir(dir_.Sub("plain"), {}).status().code(),
            absl::StatusCode::kNotFound);
}

TEST_F(UpperDirTest, EmptyUpperDirIsAnEmptyLayer) {
  Sh("mkdir -p " + Q(dir_.Sub("upper")));
  auto entries = EntriesFromUpperDir(dir_.Sub("upper"), {});
  ASSERT_TRUE(entries.ok()) << entries.status();
  EXPECT_TRUE(entries->empty());
  auto layer = Write(*entries);
  ASSERT_TRUE(layer.ok()) << layer.status();
  EXPECT_EQ(Sh("tar -tf " + Q(Untar(*layer, "empty"))), "");
}

}  // namespace
}  // namespace slipway::build
