// WriteLayer → UnpackedLayers → StackedFilesystem::Walk → WriteLayer gives the same layer: every
// attribute the writer records survives unpacking and is read back by the tree.
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "server/build/layer/layer_writer.h"
#include "server/build/layer/unpacked_layers.h"
#include "tests/layer/layer_fixture.h"

namespace slipway::build {
namespace {

using ::slipway::testing::WriteFile;

class RoundTripTest : public LayerTest {};

TEST_F(RoundTripTest, UnpackedLayerWalksBackToTheSameLayer) {
  std::vector<LayerEntry> entries;
  auto add = [&](std::string path, EntryType type, uint32_t mode) -> LayerEntry& {
    LayerEntry e;
    e.path = std::move(path);
    e.type = type;
    e.mode = mode;
    e.uid = 100 + static_cast<uint32_t>(entries.size());
    e.gid = 200;
    e.mtime_unix_nanos = (1700000000LL + static_cast<int64_t>(entries.size())) * 1000000000LL;
    entries.push_back(e);
    return entries.back();
  };
  add("bin", EntryType::kDirectory, 0755);
  LayerEntry& tool = add("bin/tool", EntryType::kFile, 04711);
  WriteFile(dir_.Sub("tool"), "binary\n");
  tool.source_path = dir_.Sub("tool");
  tool.size = 7;
  tool.xattrs["user.origin"] = "test";
  add("bin/alias", EntryType::kHardlink, 0).link_target = "bin/tool";
  add("bin/sh", EntryType::kSymlink, 0777).link_target = "/bin/tool";
  add("dev", EntryType::kDirectory, 0755);
  LayerEntry& tty = add("dev/tty", EntryType::kCharDevice, 0666);
  tty.dev_major = 5;
  tty.dev_minor = 0;
  add("dev/pipe", EntryType::kFifo, 0600);
  add("tmp", EntryType::kDirectory, 01777);
  std::string deep = std::string(120, 'p') + "/" + std::string(120, 'q');
  add(deep.substr(0, 120), EntryType::kDirectory, 0700);
  add(deep, EntryType::kDirectory, 0700);
  LayerEntry& long_file = add(deep + "/" + std::string(60, 'r'), EntryType::kFile, 0600);
  WriteFile(dir_.Sub("long"), std::string(70000, 'L'));
  long_file.source_path = dir_.Sub("long");
  long_file.size = 70000;

  for (LayerCompressionKind kind : {LayerCompressionKind::kGzip, LayerCompressionKind::kZstd}) {
    LayerWriteOptions options;
    options.compression = kind;
    auto first = WriteLayer(entries, options, *blobs_, index_.get());
    ASSERT_TRUE(first.ok()) << first.status();
    // One root per compression: both layers have the same diff_id.
    auto layers = UnpackedLayers::Create(
        {dir_.Sub("layers-" + std::to_string(static_cast<int>(kind)))}, *blobs_);
    ASSERT_TRUE(layers.ok()) << layers.status();
    auto dir = (*layers)->Get(first->diff_id, first->blob);
    ASSERT_TRUE(dir.ok()) << dir.status();
    auto tree = StackedFilesystem({*dir});
    ASSERT_TRUE(tree.ok()) << tree.status();
    auto walked = (*tree)->Walk("/");
    ASSERT_TRUE(walked.ok()) << walked.status();
    ASSERT_EQ(walked->size(), entries.size());
    auto second = WriteLayer(*walked, options, *blobs_, nullptr);
    ASSERT_TRUE(second.ok()) << second.status();
    EXPECT_EQ(second->diff_id, first->diff_id);
    EXPECT_EQ(second->blob.digest, first->blob.digest);
  }
}

}  // namespace
}  // namespace slipway::build
