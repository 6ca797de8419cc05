#include <atomic>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "storage/image_index.h"
#include "tests/support/temp_dir.h"

namespace slipway {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

class BlobLocationsTest : public ::testing::Test {
 protected:
  std::unique_ptr<ImageIndex> Open() {
    SqliteImageIndexOptions options;
    options.path = dir_.Sub("index.db");
    options.now_unix = [this] { return now_.load(); };
    auto index = OpenSqliteImageIndex(options);
    EXPECT_TRUE(index.ok()) << index.status();
    return index.ok() ? std::move(index).value() : nullptr;
  }
  testing::TempDir dir_;
  std::atomic<int64_t> now_{1'700'000'000};
};

TEST_F(BlobLocationsTest, RecordsAndFindsPerRegistryNewestFirst) {
  auto index = Open();
  ASSERT_NE(index, nullptr);
  const Digest a = Sha256Of("a");
  const Digest b = Sha256Of("b");
  ASSERT_TRUE(index->RecordBlobLocation("127.0.0.1:5000", "team/one", a).ok());
  now_ += 10;
  ASSERT_TRUE(index->RecordBlobLocation("127.0.0.1:5000", "team/two", a).ok());
  ASSERT_TRUE(index->RecordBlobLocation("other:5000", "team/three", a).ok());
  ASSERT_TRUE(index->RecordBlobLocation("127.0.0.1:5000", "team/one", b).ok());

  auto found = index->FindBlobLocations("127.0.0.1:5000", a);
  ASSERT_TRUE(found.ok()) << found.status();
  EXPECT_THAT(*found, ElementsAre("team/two", "team/one"));
  auto other = index->FindBlobLocations("other:5000", a);
  ASSERT_TRUE(other.ok());
  EXPECT_THAT(*other, ElementsAre("team/three"));
  auto none = index->FindBlobLocations("127.0.0.1:5000", Sha256Of("c"));
  ASSERT_TRUE(none.ok());
  EXPECT_THAT(*none, IsEmpty());

  // A repeat refreshes the time: team/one becomes the newest.
  now_ += 10;
  ASSERT_TRUE(index->RecordBlobLocation("127.0.0.1:5000", "team/one", a).ok());
  found = index->FindBlobLocations("127.0.0.1:5000", a);
  ASSERT_TRUE(found.ok());
  EXPECT_THAT(*found, ElementsAre("team/one", "team/two"));
}

TEST_F(BlobLocationsTest, SurvivesReopenAndRejectsEmptyNames) {
  const Digest a = Sha256Of("a");
  {
    auto index = Open();
    ASSERT_NE(index, nullptr);
    ASSERT_TRUE(index->RecordBlobLocation("r:1", "repo", a).ok());
    absl::Status s = index->RecordBlobLocation("r:1", "", a);
    EXPECT_TRUE(absl::IsInvalidArgument(s)) << s;
    // Forgetting a local blob keeps its remote locations: the remote copy still exists.
    ASSERT_TRUE(index->ForgetBlob(a).ok());
  }
  auto index = Open();
  ASSERT_NE(index, nullptr);
  auto found = index->FindBlobLocations("r:1", a);
  ASSERT_TRUE(found.ok());
  EXPECT_THAT(*found, ElementsAre("repo"));
}

}  // namespace
}  // namespace slipway
