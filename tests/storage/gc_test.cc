#include "storage/garbage_collector.h"

#include <atomic>
#include <memory>
#include <thread>

#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "storage/blob_store.h"
#include "storage/image_index.h"
#include "storage/media_types.h"
#include "tests/support/stored_image.h"
#include "tests/support/temp_dir.h"

namespace slipway {
namespace {

using testing::PutBlob;
using testing::PutStoredImage;
using testing::SetMtime;
using testing::StoredImage;

constexpr int64_t kNow = 2'000'000'000;
constexpr int64_t kHour = 3600;

int64_t SizeOf(const std::vector<Descriptor>& blobs) {
  int64_t sum = 0;
  for (const Descriptor& d : blobs) sum += d.size;
  return sum;
}

class GcTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto store = FsBlobStore::Create(FsBlobStoreOptions{dir_.Sub("store")});
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = std::move(store).value();
    SqliteImageIndexOptions options;
    options.path = dir_.Sub("index.db");
    options.now_unix = [this] { return now_.load(); };
    auto index = OpenSqliteImageIndex(options);
    ASSERT_TRUE(index.ok()) << index.status();
    index_ = std::move(index).value();
    gc_ = std::make_unique<GarbageCollector>(*store_, *index_, [this] { return GcNow(); });
  }

  virtual int64_t GcNow() { return now_.load(); }

  // A blob nothing references, last written `age` seconds ago.
  Descriptor Orphan(absl::string_view content, int64_t age) {
    Descriptor d = PutBlob(*store_, content, media::kOciLayer);
    SetMtime(store_->PathOf(d.digest), now_.load() - age);
    return d;
  }
  void Age(const std::vector<Descriptor>& blobs, int64_t age) {
    for (const Descriptor& d : blobs) SetMtime(store_->PathOf(d.digest), now_.load() - age);
  }
  bool Has(const Descriptor& d) const { return store_->Contains(d.digest); }

  GcReport Run(const GcOptions& options) {
    absl::StatusOr<GcReport> report = gc_->Run(options);
    EXPECT_TRUE(report.ok()) << report.status();
    return report.ok() ? *report : GcReport{};
  }

  testing::TempDir dir_;
  std::atomic<int64_t> now_{kNow};
  std::unique_ptr<FsBlobStore> store_;
  std::unique_ptr<ImageIndex> index_;
  std::unique_ptr<GarbageCollector> gc_;
};

TEST_F(GcTest, SweepsOnlyUnreferencedBlobsPastGrace) {
  StoredImage img = PutStoredImage(*store_, *index_, "app");
  Age(img.blobs, 10 * kHour);  // old but referenced: kept
  Descriptor old_orphan = Orphan("old orphan", 2 * kHour);
  ASSERT_TRUE(index_->TouchBlobs({old_orphan.digest}, kNow - 3 * kHour).ok());
  Descriptor young_orphan = Orphan("young orphan", 60);
  Descriptor touched = Orphan("old file, recently used", 2 * kHour);
  ASSERT_TRUE(index_->TouchBlobs({touched.digest}, kNow - 60).ok());
  Descriptor leased = Orphan("leased", 2 * kHour);
  auto lease = index_->CreateLease(600);
  ASSERT_TRUE(lease.ok());
  ASSERT_TRUE(index_->AddToLease(lease->id, {leased.digest}).ok());

  GcReport r = Run(GcOptions{kHour, 0, false});
  EXPECT_EQ(r.blobs_removed, 1);
  EXPECT_EQ(r.bytes_removed, old_orphan.size);
  EXPECT_EQ(r.blobs_evicted_for_quota, 0);
  EXPECT_EQ(r.blobs_live, static_cast<int>(img.blobs.size()) + 1);
  EXPECT_EQ(r.bytes_in_use, SizeOf(img.blobs) + young_orphan.size + touched.size + leased.size);
  EXPECT_FALSE(Has(old_orphan));
  EXPECT_EQ(index_->LastUsed(old_orphan.digest).status().code(), absl::StatusCode::kNotFound);
  for (const Descriptor& d : img.blobs) EXPECT_TRUE(Has(d)) << d.digest.ToString();
  EXPECT_TRUE(Has(young_orphan));
  EXPECT_TRUE(Has(touched));
  EXPECT_TRUE(Has(leased));

  // Once the lease expires its blob is ordinary garbage.
  now_ = lease->expires_unix;
  r = Run(GcOptions{kHour, 0, false});
  EXPECT_EQ(r.blobs_removed, 1);
  EXPECT_FALSE(Has(leased));
  EXPECT_TRUE(Has(young_orphan));
}

TEST_F(GcTest, DeletedImageBlobsAreCollectedButSharedOnesStay) {
  StoredImage a = PutStoredImage(*store_, *index_, "a");
  // b shares a's first layer.
  Descriptor b_manifest = PutBlob(*store_, "manifest of b", media::kOciManifest);
  Descriptor b_config = PutBlob(*store_, "config of b", media::kOciConfig);
  ImageRecord b{b_manifest, b_config.digest, {a.record.layers[0]}, "linux", "arm64", "", 0, 0, {}};
  ASSERT_TRUE(index_->PutImage(b, {b_manifest, b_config, a.record.layers[0]}).ok());
  ASSERT_TRUE(index_->DeleteImage(a.record.manifest.digest).ok());

  now_ += 10 * kHour;
  GcReport r = Run(GcOptions{kHour, 0, false});
  EXPECT_EQ(r.blobs_removed, static_cast<int>(a.blobs.size()) - 1);
  EXPECT_EQ(r.blobs_live, 3);
  EXPECT_TRUE(Has(a.record.layers[0]));
  EXPECT_FALSE(Has(a.record.layers[1]));
  EXPECT_FALSE(Has(a.record.manifest));
  EXPECT_TRUE(Has(b_manifest));
  EXPECT_TRUE(index_->Resolve(b_manifest.digest.ToString()).ok());
}

TEST_F(GcTest, DryRunCountsWithoutDeleting) {
  StoredImage img = PutStoredImage(*store_, *index_, "app");
  Descriptor old_orphan = Orphan("old orphan", 2 * kHour);
  Descriptor young = Orphan(std::string(5000, 'y'), 60);
  GcOptions options{kHour, SizeOf(img.blobs) + 10, /*dry_run=*/true};
  GcReport r = Run(options);
  EXPECT_EQ(r.blobs_removed, 1);
  EXPECT_EQ(r.bytes_removed, old_orphan.size);
  EXPECT_EQ(r.blobs_evicted_for_quota, 1);
  EXPECT_EQ(r.bytes_evicted_for_quota, young.size);
  EXPECT_EQ(r.bytes_in_use, SizeOf(img.blobs));  // what would remain
  EXPECT_TRUE(Has(old_orphan));
  EXPECT_TRUE(Has(young));

  options.dry_run = false;
  GcReport real = Run(options);
  EXPECT_EQ(real.blobs_removed, r.blobs_removed);
  EXPECT_EQ(real.blobs_evicted_for_quota, r.blobs_evicted_for_quota);
  EXPECT_EQ(real.bytes_in_use, r.bytes_in_use);
  EXPECT_FALSE(Has(old_orphan));
  EXPECT_FALSE(Has(young));
}

TEST_F(GcTest, QuotaEvictsLeastRecentlyUsedFirstAndNeverLiveBlobs) {
  StoredImage img = PutStoredImage(*store_, *index_, "app");
  const int64_t live_bytes = SizeOf(img.blobs);
  auto kb = [](char c) { return std::string(1000, c); };
  // All within grace. Last activity: o1 used 30 s ago, o4 written 25 s ago (no recorded use),
  // o2 used 20 s ago, o3 used 10 s ago.
  Descriptor o1 = Orphan(kb('1'), 100), o2 = Orphan(kb('2'), 100), o3 = Orphan(kb('3'), 100);
  Descriptor o4 = Orphan(kb('4'), 25);
  ASSERT_TRUE(index_->TouchBlobs({o1.digest}, kNow - 30).ok());
  ASSERT_TRUE(index_->TouchBlobs({o2.digest}, kNow - 20).ok());
  ASSERT_TRUE(index_->TouchBlobs({o3.digest}, kNow - 10).ok());

  GcReport r = Run(GcOptions{kHour, live_bytes + 1500, false});
  EXPECT_EQ(r.blobs_removed, 0);
  EXPECT_EQ(r.blobs_evicted_for_quota, 3);
  EXPECT_EQ(r.bytes_evicted_for_quota, 3000);
  EXPECT_EQ(r.bytes_in_use, live_bytes + 1000);
  EXPECT_FALSE(Has(o1));
  EXPECT_FALSE(Has(o4));
  EXPECT_FALSE(Has(o2));
  EXPECT_TRUE(Has(o3));

  // A quota below the live data: everything unreferenced goes, nothing live does.
  r = Run(GcOptions{kHour, 1, false});
  EXPECT_EQ(r.blobs_evicted_for_quota, 1);
  EXPECT_EQ(r.bytes_in_use, live_bytes);
  for (const Descriptor& d : img.blobs) EXPECT_TRUE(Has(d)) << d.digest.ToString();
}

TEST_F(GcTest, EmptyStoreIsFine) {
  GcReport r = Run(GcOptions{});
  EXPECT_EQ(r.blobs_removed, 0);
  EXPECT_EQ(r.bytes_in_use, 0);
  EXPECT_EQ(r.blobs_live, 0);
}

// The second Run starts while the first is inside Run (held in its clock call).
class ConcurrentGcTest : public GcTest {
 protected:
  int64_t GcNow() override {
    if (block_.load()) {
      entered_.Notify();
      release_.WaitForNotificationWithTimeout(absl::Seconds(60));
    }
    return now_.load();
  }
  std::atomic<bool> block_{false};
  absl::Notification entered_, release_;
};

TEST_F(ConcurrentGcTest, SecondRunIsAborted) {
  Orphan("old orphan", 2 * kHour);
  block_ = true;
  absl::StatusOr<GcReport> first = absl::UnknownError("not run");
  std::thread t([&] { first = gc_->Run(GcOptions{kHour, 0, false}); });
  ASSERT_TRUE(entered_.WaitForNotificationWithTimeout(absl::Seconds(60)));
  block_ = false;
  absl::StatusOr<GcReport> second = gc_->Run(GcOptions{kHour, 0, false});
  release_.Notify();
  t.join();
  EXPECT_EQ(second.status().code(), absl::StatusCode::kAborted);
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(first->blobs_removed, 1);
  // And once the first run is over, GC runs again normally.
  EXPECT_TRUE(gc_->Run(GcOptions{kHour, 0, false}).ok());
}

}  // namespace
}  // namespace slipway
