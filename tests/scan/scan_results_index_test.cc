// ImageIndex scan results on a real SQLite file.
#include <ctime>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "storage/image_index.h"
#include "storage/sqlite_db.h"
#include "storage/sqlite_index_schema.h"
#include "tests/support/stored_image.h"
#include "tests/support/temp_dir.h"

namespace slipway {
namespace {

using ::testing::HasSubstr;

class ScanResultsIndexTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto store = FsBlobStore::Create({dir_.Sub("store")});
    ASSERT_TRUE(store.ok());
    blobs_ = std::move(*store);
    Open();
  }
  void Open() {
    index_.reset();
    auto index = OpenSqliteImageIndex({dir_.Sub("index.db"), [this] { return now_; }});
    ASSERT_TRUE(index.ok()) << index.status();
    index_ = std::move(*index);
  }
  testing::TempDir dir_;
  int64_t now_ = 1700000000;
  std::unique_ptr<FsBlobStore> blobs_;
  std::unique_ptr<ImageIndex> index_;
};

TEST_F(ScanResultsIndexTest, RecordReplaceReadBackAndSurviveReopen) {
  auto img = testing::PutStoredImage(*blobs_, *index_, "scanned");
  Descriptor report = testing::PutBlob(*blobs_, R"({"Results": []})", "application/json");
  ScanResultRecord r;
  r.manifest = img.record.manifest.digest;
  r.scanner = "trivy";
  r.scanner_version = "0.50.1";
  r.passed = false;
  r.exit_code = 1;
  r.high = 3;
  r.summary_known = true;
  r.report = report;
  r.message = "exit 1";
  r.source = "hook";
  r.duration_ms = 1234;
  ASSERT_TRUE(index_->RecordScanResult(r).ok());
  ScanResultRecord g = r;
  g.scanner = "grype";
  g.report.reset();
  g.passed = true;
  ASSERT_TRUE(index_->RecordScanResult(g).ok());

  // A newer result of the same scanner replaces the older one.
  now_ += 10;
  r.passed = true;
  r.exit_code = 0;
  r.high = 0;
  ASSERT_TRUE(index_->RecordScanResult(r).ok());

  Open();  // from the file, not from memory
  auto results = index_->ScanResults(img.record.manifest.digest);
  ASSERT_TRUE(results.ok()) << results.status();
  ASSERT_EQ(results->size(), 2u);
  EXPECT_EQ((*results)[0].scanner, "grype");
  EXPECT_FALSE((*results)[0].report.has_value());
  const ScanResultRecord& t = (*results)[1];
  EXPECT_EQ(t.scanner, "trivy");
  EXPECT_TRUE(t.passed);
  EXPECT_EQ(t.exit_code, 0);
  EXPECT_EQ(t.high, 0);
  EXPECT_TRUE(t.summary_known);
  EXPECT_EQ(t.scanner_version, "0.50.1");
  ASSERT_TRUE(t.report.has_value());
  EXPECT_EQ(t.report->digest, report.digest);
  EXPECT_EQ(t.report->size, report.size);
  EXPECT_EQ(t.recorded_unix, 1700000010);
  EXPECT_EQ(t.duration_ms, 1234);
  EXPECT_EQ(t.source, "hook");

  // The report blob is live for GC while the result exists; results go with their image.
  auto live = index_->LiveBlobs(now_);
  ASSERT_TRUE(live.ok());
  EXPECT_THAT(*live, ::testing::Contains(report.digest));
  ASSERT_TRUE(index_->DeleteImage(img.record.manifest.digest).ok());
  results = index_->ScanResults(img.record.manifest.digest);
  ASSERT_TRUE(results.ok());
  EXPECT_TRUE(results->empty());
  live = index_->LiveBlobs(now_);
  ASSERT_TRUE(live.ok());
  EXPECT_THAT(*live, ::testing::Not(::testing::Contains(report.digest)));
}

TEST_F(ScanResultsIndexTest, UnknownImageAndEmptyScannerAreRefused) {
  ScanResultRecord r;
  r.manifest = Sha256Of("not stored");
  r.scanner = "trivy";
  absl::Status s = index_->RecordScanResult(r);
  EXPECT_TRUE(absl::IsNotFound(s)) << s;
  EXPECT_THAT(s.message(), HasSubstr(r.manifest.ToString()));
  auto img = testing::PutStoredImage(*blobs_, *index_, "x");
  r.manifest = img.record.manifest.digest;
  r.scanner = "";
  EXPECT_TRUE(absl::IsInvalidArgument(index_->RecordScanResult(r)));
  auto results = index_->ScanResults(img.record.manifest.digest);
  ASSERT_TRUE(results.ok());
  EXPECT_TRUE(results->empty());
}

// The migration is applied on open; the schema has a scan_results table.
TEST_F(ScanResultsIndexTest, MigrationCreatesTheTable) {
  EXPECT_EQ(index_->schema_version(), LatestIndexSchemaVersion());
  index_.reset();
  auto db = SqliteDb::Open(dir_.Sub("index.db"));
  ASSERT_TRUE(db.ok());
  auto n = (*db)->QueryInt(
      "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'scan_results'");
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(*n, 1);
}

}  // namespace
}  // namespace slipway
