#include "server/push/host_limiter.h"

#include <atomic>
#include <thread>
#include <vector>

#include "absl/synchronization/notification.h"
#include "gtest/gtest.h"

namespace slipway::push {
namespace {

TEST(HostLimiterTest, BlobSlotsAreCountedPerHostAndManifestSlotIsSeparate) {
  HostLimiter limiter(2, 1);
  HostLimiter::Slot a, b, m, other;
  ASSERT_TRUE(limiter.Acquire("h:1", HostLimiter::Kind::kBlob, nullptr, &a).ok());
  ASSERT_TRUE(limiter.Acquire("h:1", HostLimiter::Kind::kBlob, nullptr, &b).ok());
  // The blob slots of h:1 are full, yet its manifest slot and another host are free.
  ASSERT_TRUE(limiter.Acquire("h:1", HostLimiter::Kind::kManifest, nullptr, &m).ok());
  ASSERT_TRUE(limiter.Acquire("h:2", HostLimiter::Kind::kBlob, nullptr, &other).ok());
  EXPECT_EQ(limiter.InUse("h:1", HostLimiter::Kind::kBlob), 2);

  absl::Notification acquired;
  std::thread waiter([&] {
    HostLimiter::Slot c;
    ASSERT_TRUE(limiter.Acquire("h:1", HostLimiter::Kind::kBlob, nullptr, &c).ok());
    acquired.Notify();
  });
  EXPECT_FALSE(acquired.WaitForNotificationWithTimeout(absl::Milliseconds(200)));
  a.Release();
  EXPECT_TRUE(acquired.WaitForNotificationWithTimeout(absl::Seconds(10)));
  waiter.join();
  b.Release();
  EXPECT_EQ(limiter.InUse("h:1", HostLimiter::Kind::kBlob), 0);
}

TEST(HostLimiterTest, WaitingEndsOnCancellation) {
  HostLimiter limiter(1, 1);
  HostLimiter::Slot held, wanted;
  ASSERT_TRUE(limiter.Acquire("h", HostLimiter::Kind::kBlob, nullptr, &held).ok());
  std::atomic<bool> cancel{false};
  std::thread canceller([&] {
    absl::SleepFor(absl::Milliseconds(150));
    cancel = true;
  });
  absl::Status s =
      limiter.Acquire("h", HostLimiter::Kind::kBlob, [&] { return cancel.load(); }, &wanted);
  canceller.join();
  EXPECT_TRUE(absl::IsCancelled(s)) << s;
  EXPECT_EQ(limiter.InUse("h", HostLimiter::Kind::kBlob), 1);
}

TEST(HostLimiterTest, ConcurrencyNeverExceedsTheLimit) {
  HostLimiter limiter(3, 1);
  std::atomic<int> now{0}, peak{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 12; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 20; ++i) {
        HostLimiter::Slot s;
        ASSERT_TRUE(limiter.Acquire("h", HostLimiter::Kind::kBlob, nullptr, &s).ok());
        int n = ++now;
        int p = peak.load();
        while (n > p && !peak.compare_exchange_weak(p, n)) {
        }
        std::this_thread::yield();
        --now;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_LE(peak.load(), 3);
  EXPECT_GE(peak.load(), 1);
}

TEST(UploadSharingTest, SecondCallerWaitsForTheOwnersOutcome) {
  UploadSharing sharing;
  bool owner1 = false, owner2 = false;
  auto e1 = sharing.Join("k", &owner1);
  auto e2 = sharing.Join("k", &owner2);
  EXPECT_TRUE(owner1);
  EXPECT_FALSE(owner2);
  EXPECT_EQ(e1, e2);
  EXPECT_FALSE(e2->done.HasBeenNotified());
  sharing.Finish("k", e1, absl::OkStatus());
  EXPECT_TRUE(e2->done.HasBeenNotified());
  EXPECT_TRUE(e2->status.ok());
  bool owner3 = false;
  sharing.Join("k", &owner3);
  EXPECT_TRUE(owner3);  // finished work is not cached: the next caller HEADs for itself
}

}  // namespace
}  // namespace slipway::push
