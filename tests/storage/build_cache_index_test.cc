#include <string>

#include "gtest/gtest.h"
#include "storage/image_index.h"
#include "storage/media_types.h"
#include "storage/sqlite_db.h"
#include "tests/support/temp_dir.h"

namespace slipway {
namespace {

BuildCacheEntry Entry(const std::string& key, const std::string& content) {
  BuildCacheEntry e;
  e.key = key;
  e.layer = Descriptor{std::string(media::kOciLayerGzip), Sha256Of(content + ".gz"), 42, {}};
  e.diff_id = Sha256Of(content);
  e.uncompressed_size = 100;
  return e;
}

std::unique_ptr<ImageIndex> Open(const std::string& path) {
  SqliteImageIndexOptions options;
  options.path = path;
  auto index = OpenSqliteImageIndex(options);
  EXPECT_TRUE(index.ok()) << index.status();
  return index.ok() ? std::move(index).value() : nullptr;
}

TEST(BuildCacheIndexTest, PutFindSurvivesReopen) {
  testing::TempDir dir;
  {
    auto index = Open(dir.Sub("index.db"));
    ASSERT_NE(index, nullptr);
    EXPECT_EQ(index->FindBuildCache("k1").status().code(), absl::StatusCode::kNotFound);
    ASSERT_TRUE(index->PutBuildCache(Entry("k1", "one")).ok());
    BuildCacheEntry two = Entry("k1", "two");
    two.built_unix = 1700000123;
    ASSERT_TRUE(index->PutBuildCache(two).ok());  // replaces
  }
  auto index = Open(dir.Sub("index.db"));
  ASSERT_NE(index, nullptr);
  auto found = index->FindBuildCache("k1");
  ASSERT_TRUE(found.ok()) << found.status();
  EXPECT_EQ(found->layer.digest, Sha256Of("two.gz"));
  EXPECT_EQ(found->layer.media_type, media::kOciLayerGzip);
  EXPECT_EQ(found->layer.size, 42);
  EXPECT_EQ(found->diff_id, Sha256Of("two"));
  EXPECT_EQ(found->uncompressed_size, 100);
  EXPECT_EQ(found->built_unix, 1700000123);
}

// An index from before build times were kept (schema 6) keeps its cache entries; their time
// reads as unknown (0).
TEST(BuildCacheIndexTest, EntriesFromSchemaSixMigrateWithAnUnknownTime) {
  testing::TempDir dir;
  {
    auto index = Open(dir.Sub("index.db"));
    ASSERT_NE(index, nullptr);
    BuildCacheEntry e = Entry("k1", "one");
    e.built_unix = 1700000123;
    ASSERT_TRUE(index->PutBuildCache(e).ok());
  }
  {
    auto db = SqliteDb::Open(dir.Sub("index.db"));
    ASSERT_TRUE(db.ok()) << db.status();
    ASSERT_TRUE((*db)->Exec("ALTER TABLE build_cache DROP COLUMN built_unix;"
                            "DELETE FROM schema_migrations WHERE version > 6;"
                            "PRAGMA user_version = 6;").ok());
  }
  auto index = Open(dir.Sub("index.db"));
  ASSERT_NE(index, nullptr);
  EXPECT_EQ(index->schema_version(), 7);
  auto found = index->FindBuildCache("k1");
  ASSERT_TRUE(found.ok()) << found.status();
  EXPECT_EQ(found->diff_id, Sha256Of("one"));
  EXPECT_EQ(found->built_unix, 0);
}

TEST(BuildCacheIndexTest, ForgetBlobDropsItsEntriesAndBadEntriesAreRefused) {
  testing::TempDir dir;
  auto index = Open(dir.Sub("index.db"));
  ASSERT_NE(index, nullptr);
  ASSERT_TRUE(index->PutBuildCache(Entry("k1", "one")).ok());
  ASSERT_TRUE(index->PutBuildCache(Entry("k2", "other")).ok());
  ASSERT_TRUE(index->ForgetBlob(Sha256Of("one.gz")).ok());
  EXPECT_EQ(index->FindBuildCache("k1").status().code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE(index->FindBuildCache("k2").ok());
  BuildCacheEntry bad = Entry("", "x");
  EXPECT_EQ(index->PutBuildCache(bad).code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace slipway
