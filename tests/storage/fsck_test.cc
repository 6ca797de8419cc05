#include "storage/fsck.h"

#include <filesystem>
#include <memory>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "storage/blob_store.h"
#include "storage/image_index.h"
#include "storage/media_types.h"
#include "tests/support/stored_image.h"
#include "tests/support/temp_dir.h"

namespace slipway {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using testing::PutBlob;
using testing::PutStoredImage;
using testing::StoredImage;

class FsckTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto store = FsBlobStore::Create(FsBlobStoreOptions{dir_.Sub("store")});
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = std::move(store).value();
    SqliteImageIndexOptions options;
    options.path = dir_.Sub("index.db");
    auto index = OpenSqliteImageIndex(options);
    ASSERT_TRUE(index.ok()) << index.status();
    index_ = std::move(index).value();
  }

  FsckReport Fsck(bool repair) {
    absl::StatusOr<FsckReport> report = RunFsck(*store_, *index_, FsckOptions{repair});
    EXPECT_TRUE(report.ok()) << report.status();
    return report.ok() ? *report : FsckReport{};
  }

  // Replaces a blob's bytes behind the store's back (same length, different content).
  void Corrupt(const Descriptor& d) {
    std::string path = store_->PathOf(d.digest);
    std::string bytes = testing::ReadFile(path);
    ASSERT_FALSE(bytes.empty());
    bytes[0] ^= 0x01;
    std::filesystem::remove(path);
    testing::WriteFile(path, bytes);
  }

  std::string StrayPath(const std::string& name) const {
    return std::filesystem::path(store_->PathOf(Sha256Of(""))).parent_path() / name;
  }

  testing::TempDir dir_;
  std::unique_ptr<FsBlobStore> store_;
  std::unique_ptr<ImageIndex> index_;
};

TEST_F(FsckTest, HealthyStoreIsClean) {
  StoredImage img = PutStoredImage(*store_, *index_, "app");
  Descriptor orphan = PutBlob(*store_, "nobody uses me", media::kOciLayer);
  FsckReport r = Fsck(/*repair=*/false);
  EXPECT_TRUE(r.clean()) << r.ToText();
  EXPECT_EQ(r.blobs_checked, static_cast<int>(img.blobs.size()) + 1);
  int64_t bytes = orphan.size;
  for (const Descriptor& d : img.blobs) bytes += d.size;
  EXPECT_EQ(r.bytes_checked, bytes);
  EXPECT_THAT(r.unreferenced, ElementsAre(orphan.digest.ToString()));  // not an error
  EXPECT_THAT(r.ToText(), HasSubstr("unreferenced blob " + orphan.digest.ToString()));
  EXPECT_THAT(r.ToText(), HasSubstr("clean: 5 blobs"));
}

TEST_F(FsckTest, FindsCorruptMissingAndStrayWithoutChangingAnything) {
  StoredImage good = PutStoredImage(*store_, *index_, "good");
  StoredImage bitrot = PutStoredImage(*store_, *index_, "bitrot");
  StoredImage lost = PutStoredImage(*store_, *index_, "lost");
  Corrupt(bitrot.record.layers[1]);
  ASSERT_TRUE(store_->Delete(lost.record.layers[0].digest).ok());
  testing::WriteFile(StrayPath("not-a-digest.tmp"), "junk");

  FsckReport r = Fsck(/*repair=*/false);
  EXPECT_FALSE(r.clean());
  EXPECT_THAT(r.corrupt, ElementsAre(bitrot.record.layers[1].digest.ToString()));
  EXPECT_THAT(r.missing, ElementsAre(lost.record.layers[0].digest.ToString()));
  EXPECT_THAT(r.stray, ElementsAre("not-a-digest.tmp"));
  EXPECT_THAT(r.broken_images, ::testing::UnorderedElementsAre(
                                   bitrot.record.manifest.digest.ToString(),
                                   lost.record.manifest.digest.ToString()));
  EXPECT_THAT(r.unreferenced, IsEmpty());
  EXPECT_EQ(r.repaired, 0);
  EXPECT_THAT(r.actions, IsEmpty());
  std::string text = r.ToText();
  EXPECT_THAT(text, HasSubstr("corrupt blob " + bitrot.record.layers[1].digest.ToString()));
  EXPECT_THAT(text, HasSubstr("missing blob " + lost.record.layers[0].digest.ToString()));
  EXPECT_THAT(text, HasSubstr("stray file not-a-digest.tmp"));
  EXPECT_THAT(text, HasSubstr("broken image " + lost.record.manifest.digest.ToString()));
  EXPECT_THAT(text, HasSubstr("NOT CLEAN"));

  // Nothing was changed.
  EXPECT_TRUE(std::filesystem::exists(StrayPath("not-a-digest.tmp")));
  EXPECT_TRUE(std::filesystem::exists(store_->PathOf(bitrot.record.layers[1].digest)));
  EXPECT_TRUE(index_->Resolve(bitrot.record.manifest.digest.ToString()).ok());
}

TEST_F(FsckTest, RepairDeletesWhatCannotBeSavedAndReportsEachAction) {
  StoredImage good = PutStoredImage(*store_, *index_, "good");
  StoredImage bitrot = PutStoredImage(*store_, *index_, "bitrot");
  StoredImage lost = PutStoredImage(*store_, *index_, "lost");
  ASSERT_TRUE(index_->Tag("r/bitrot:latest", bitrot.record.manifest.digest).ok());
  ASSERT_TRUE(index_->Tag("r/good:latest", good.record.manifest.digest).ok());
  Corrupt(bitrot.record.layers[1]);
  ASSERT_TRUE(store_->Delete(lost.record.layers[0].digest).ok());
  testing::WriteFile(StrayPath("garbage"), "junk");

  FsckReport r = Fsck(/*repair=*/true);
  EXPECT_FALSE(r.clean());  // describes what was found
  EXPECT_EQ(r.repaired, 4);
  ASSERT_EQ(r.actions.size(), 4u);
  std::string text = r.ToText();
  EXPECT_THAT(
      text, HasSubstr("repaired: deleted broken image " + bitrot.record.manifest.digest.ToString() +
                      " (tags: r/bitrot:latest)"));
  EXPECT_THAT(
      text, HasSubstr("repaired: deleted broken image " + lost.record.manifest.digest.ToString()));
  EXPECT_THAT(text, HasSubstr("repaired: deleted corrupt blob " +
                              bitrot.record.layers[1].digest.ToString()));
  EXPECT_THAT(text, HasSubstr("repaired: removed stray file garbage"));

  EXPECT_FALSE(std::filesystem::exists(StrayPath("garbage")));
  EXPECT_FALSE(store_->Contains(bitrot.record.layers[1].digest));
  EXPECT_EQ(index_->Resolve("r/bitrot:latest").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(index_->Resolve(lost.record.manifest.digest.ToString()).status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_TRUE(index_->Resolve("r/good:latest").ok());

  // The next check is clean; what the broken images left behind is GC's business.
  FsckReport again = Fsck(/*repair=*/false);
  EXPECT_TRUE(again.clean()) << again.ToText();
  EXPECT_EQ(again.unreferenced.size(), bitrot.blobs.size() - 1 + lost.blobs.size() - 1);
  for (const Descriptor& d : good.blobs) EXPECT_TRUE(store_->Contains(d.digest));
}

TEST_F(FsckTest, LeasedBlobsAreNotUnreferenced) {
  Descriptor leased = PutBlob(*store_, "in flight", media::kOciLayer);
  auto lease = index_->CreateLease(3600);
  ASSERT_TRUE(lease.ok());
  ASSERT_TRUE(index_->AddToLease(lease->id, {leased.digest}).ok());
  FsckReport r = Fsck(/*repair=*/false);
  EXPECT_TRUE(r.clean());
  EXPECT_THAT(r.unreferenced, IsEmpty());
}

}  // namespace
}  // namespace slipway
