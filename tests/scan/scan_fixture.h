#ifndef SLIPWAY_TESTS_SCAN_SCAN_FIXTURE_H_
#define SLIPWAY_TESTS_SCAN_SCAN_FIXTURE_H_

#include <sys/stat.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "server/scan/scan_config.h"
#include "server/scan/scanner.h"
#include "storage/archive/byte_stream.h"
#include "storage/archive/importer.h"
#include "storage/blob_store.h"
#include "storage/image_index.h"
#include "tests/support/run_command.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_image.h"

namespace slipway::scan {

// A real store and SQLite index holding the offline test image (imported through the real
// importer), and helpers to write hook scripts.
class ScanTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto store = FsBlobStore::Create({dir_.Sub("store")});
    ASSERT_TRUE(store.ok()) << store.status();
    blobs_ = std::move(*store);
    auto index = OpenSqliteImageIndex({dir_.Sub("index.db"), nullptr});
    ASSERT_TRUE(index.ok()) << index.status();
    index_ = std::move(*index);
    built_ = ::slipway::testing::BuildTestImage(dir_.Sub("layout"), "latest", 5);
    const std::string tar = dir_.Sub("image.tar");
    auto r = ::slipway::testing::RunCommand(
        "tar -C " + ::slipway::testing::ShellQuote(built_.layout_dir) + " -cf " +
        ::slipway::testing::ShellQuote(tar) + " .");
    ASSERT_EQ(r.exit_code, 0) << r.output;
    auto source = FileByteSource::Open(tar);
    ASSERT_TRUE(source.ok()) << source.status();
    ImportOptions options;
    options.tags = {"scan/app:v1"};
    auto imported = ImportArchive(**source, options, *blobs_, *index_);
    ASSERT_TRUE(imported.ok()) << imported.status();
    image_ = imported->image;
  }

  // Writes an executable shell script and returns its path.
  std::string Script(const std::string& name, const std::string& body) {
    const std::string path = dir_.Sub("hooks/" + name);
    ::slipway::testing::WriteFile(path, "#!/bin/sh\n" + body + "\n");
    chmod(path.c_str(), 0755);
    return path;
  }

  HookConfig Hook(const std::string& name, std::vector<std::string> argv) {
    HookConfig h;
    h.name = name;
    h.argv = std::move(argv);
    h.timeout = absl::Seconds(60);
    return h;
  }

  std::unique_ptr<Scanner> MakeScanner(std::vector<HookConfig> hooks) {
    return std::make_unique<Scanner>(std::move(hooks), *blobs_, *index_, dir_.Sub("work"));
  }

  ::slipway::testing::TempDir dir_;
  std::unique_ptr<FsBlobStore> blobs_;
  std::unique_ptr<ImageIndex> index_;
  ::slipway::testing::TestImage built_;
  std::optional<ImageRecord> image_;  // set by SetUp
  const ImageRecord& image() const { return *image_; }
};

}  // namespace slipway::scan

#endif  // SLIPWAY_TESTS_SCAN_SCAN_FIXTURE_H_
