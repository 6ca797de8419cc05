#ifndef SLIPWAY_TESTS_LAYER_LAYER_FIXTURE_H_
#define SLIPWAY_TESTS_LAYER_LAYER_FIXTURE_H_

#include <sys/stat.h>
#include <sys/xattr.h>

#include <memory>
#include <string>

#include "gtest/gtest.h"
#include "server/build/layer/unpacked_layers.h"
#include "storage/blob_store.h"
#include "storage/descriptor.h"
#include "storage/digest.h"
#include "storage/image_index.h"
#include "tests/support/registry_process.h"  // FindProgram
#include "tests/support/run_command.h"
#include "tests/support/temp_dir.h"

namespace slipway::build {

// A real FsBlobStore and SqliteImageIndex in a temp dir, and shell helpers for the GNU tar /
// gzip / zstd / bzip2 / xz command lines used as independent producers and verifiers.
class LayerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const char* tool : {"tar", "gzip", "zstd", "bzip2", "xz", "sha256sum"}) {
      // A missing verifier is a failure, never a skip.
      ASSERT_NE(::slipway::testing::FindProgram(tool), tool) << tool << " is not installed";
    }
    auto store = FsBlobStore::Create({dir_.Sub("store")});
    ASSERT_TRUE(store.ok()) << store.status();
    blobs_ = std::move(*store);
    SqliteImageIndexOptions options;
    options.path = dir_.Sub("index.db");
    auto index = OpenSqliteImageIndex(options);
    ASSERT_TRUE(index.ok()) << index.status();
    index_ = std::move(*index);
  }

  // UnpackedLayers over this fixture's store, under <temp>/layers; null (and a test failure)
  // when it cannot be created.
  std::unique_ptr<UnpackedLayers> NewUnpackedLayers() {
    auto layers = UnpackedLayers::Create({dir_.Sub("layers")}, *blobs_);
    EXPECT_TRUE(layers.ok()) << layers.status();
    return layers.ok() ? *std::move(layers) : nullptr;
  }

  // Runs `command` through sh; a non-zero exit fails the test. Returns the output.
  std::string Sh(const std::string& command) {
    auto r = ::slipway::testing::RunCommand(command);
    EXPECT_EQ(r.exit_code, 0) << command << "\n" << r.output;
    return r.output;
  }
  // The first word of an output (sha256sum's hex).
  static std::string FirstWord(const std::string& s) { return s.substr(0, s.find_first_of(" \n")); }
  static std::string Q(const std::string& s) { return ::slipway::testing::ShellQuote(s); }

  int BlobCount() {
    int n = 0;
    EXPECT_TRUE(blobs_->List([&n](const BlobStore::ListedBlob&) { ++n; }).ok());
    return n;
  }

  static std::string Xattr(const std::string& path, const std::string& name) {
    char buf[4096];
    ssize_t n = lgetxattr(path.c_str(), name.c_str(), buf, sizeof(buf));
    return n < 0 ? "<absent>" : std::string(buf, static_cast<size_t>(n));
  }
  static struct stat Lstat(const std::string& path) {
    struct stat st {};
    EXPECT_EQ(lstat(path.c_str(), &st), 0) << path;
    return st;
  }
  static bool Exists(const std::string& path) {
    struct stat st {};
    return lstat(path.c_str(), &st) == 0;
  }

  struct StoredLayer {
    Digest diff_id;
    Descriptor blob;
  };
  // Stores the tar at `tar` compressed with `tool` ("gzip", "zstd", "bzip2", "xz" or "cat")
  // as a blob; the diff_id comes from sha256sum.
  StoredLayer StoreTar(const std::string& tar, const std::string& tool) {
    std::string compressed = tar + "." + tool;
    Sh((tool == "cat" ? tool : tool + " -c") + " < " + Q(tar) + " > " + Q(compressed));
    auto info = blobs_->PutSmall(::slipway::testing::ReadFile(compressed));
    EXPECT_TRUE(info.ok()) << info.status();
    auto diff_id = Digest::FromHex(FirstWord(Sh("sha256sum " + Q(tar))));
    EXPECT_TRUE(diff_id.ok()) << diff_id.status();
    std::string media = tool == "zstd"   ? "application/vnd.oci.image.layer.v1.tar+zstd"
                        : tool == "gzip" ? "application/vnd.oci.image.layer.v1.tar+gzip"
                                         : "application/vnd.oci.image.layer.v1.tar";
    return StoredLayer{*diff_id, Descriptor{media, info->digest, info->size, {}}};
  }
  // GNU tar of the contents of `src` (numeric owners, xattrs, no "./" prefix games).
  std::string TarDir(const std::string& src, const std::string& name) {
    std::string tar = dir_.Sub(name + ".tar");
    Sh("tar --numeric-owner --xattrs --xattrs-include='*' -cf " + Q(tar) + " -C " + Q(src) +
       " $(ls -A " + Q(src) + ")");
    return tar;
  }

  ::slipway::testing::TempDir dir_;
  std::unique_ptr<FsBlobStore> blobs_;
  std::unique_ptr<ImageIndex> index_;
};

}  // namespace slipway::build

#endif  // SLIPWAY_TESTS_LAYER_LAYER_FIXTURE_H_
