#ifndef SLIPWAY_TESTS_ARCHIVE_ARCHIVE_FIXTURE_H_
#define SLIPWAY_TESTS_ARCHIVE_ARCHIVE_FIXTURE_H_

#include <memory>
#include <string>

#include "gtest/gtest.h"
#include "storage/archive/importer.h"
#include "storage/blob_store.h"
#include "storage/image_index.h"
#include "tests/support/run_command.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_image.h"

namespace slipway {

// A real FsBlobStore and SqliteImageIndex in a temp dir, and a helper to run skopeo/umoci with
// their state (TMPDIR, policy) inside it.
class ArchiveTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto store = FsBlobStore::Create({dir_.Sub("store")});
    ASSERT_TRUE(store.ok()) << store.status();
    blobs_ = std::move(*store);
    SqliteImageIndexOptions options;
    options.path = dir_.Sub("index.db");
    auto index = OpenSqliteImageIndex(options);
    ASSERT_TRUE(index.ok()) << index.status();
    index_ = std::move(*index);
    ::slipway::testing::RunCommand("mkdir -p " + ::slipway::testing::ShellQuote(dir_.Sub("tmp")));
  }

  int BlobCount() {
    int n = 0;
    EXPECT_TRUE(blobs_->List([&n](const BlobStore::ListedBlob&) { ++n; }).ok());
    return n;
  }

  // Runs a verifier with TMPDIR inside the test dir; fails the test on a non-zero exit.
  std::string Run(const std::string& command) {
    auto r = ::slipway::testing::RunCommand("TMPDIR=" + ::slipway::testing::ShellQuote(dir_.Sub("tmp")) +
                                            " " + command);
    EXPECT_EQ(r.exit_code, 0) << command << "\n" << r.output;
    return r.output;
  }
  std::string Skopeo(const std::string& args) { return Run("skopeo --insecure-policy " + args); }

  absl::StatusOr<ImportResult> ImportFile(const std::string& path, const ImportOptions& options = {}) {
    auto source = FileByteSource::Open(path);
    if (!source.ok()) return source.status();
    return ImportArchive(**source, options, *blobs_, *index_);
  }
  absl::StatusOr<ImportResult> ImportBytes(std::string bytes, const ImportOptions& options = {}) {
    ::slipway::testing::StringByteSource source(std::move(bytes), 10000);
    return ImportArchive(source, options, *blobs_, *index_);
  }

  ::slipway::testing::TempDir dir_;
  std::unique_ptr<FsBlobStore> blobs_;
  std::unique_ptr<ImageIndex> index_;
};

}  // namespace slipway

#endif  // SLIPWAY_TESTS_ARCHIVE_ARCHIVE_FIXTURE_H_
