// The push engine against a real docker-registry through the scriptable fault proxy: 429 with
// Retry-After, a reset in the middle of a chunked upload, a reset after a chunked upload's
// final PUT took effect, stalled and truncated responses, Docker Hub rate-limit headers. Every
// push reported successful is checked with skopeo by digest, directly at the registry.

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/synchronization/mutex.h"
#include "gmock/gmock.h"
#include "server/registry/registry_client.h"
#include "tests/push/push_fixture.h"
#include "tests/support/fault_proxy.h"

namespace slipway::push {
namespace {

using ::slipway::testing::FaultProxy;
using ::slipway::testing::FaultRule;
using ::slipway::testing::RegistryProcess;
using ::testing::HasSubstr;

// Real time, but remembers every backoff the retry code asked for, so a test can check that
// Retry-After was honored without measuring wall-clock time.
class RecordingClock : public registry::Clock {
 public:
  absl::Time Now() override { return absl::Now(); }
  void SleepFor(absl::Duration d) override {
    {
      absl::MutexLock lock(&mu_);
      sleeps_.push_back(d);
    }
    absl::SleepFor(d);
  }
  absl::Duration Longest() {
    absl::MutexLock lock(&mu_);
    absl::Duration longest = absl::ZeroDuration();
    for (absl::Duration d : sleeps_) longest = std::max(longest, d);
    return longest;
  }

 private:
  absl::Mutex mu_;
  std::vector<absl::Duration> sleeps_ ABSL_GUARDED_BY(mu_);
};

class PushFaultsTest : public PushTest {
 protected:
  void SetUp() override {
    PushTest::SetUp();
    if (HasFatalFailure()) return;
    registry_ = RegistryProcess::Start();
    ASSERT_NE(registry_, nullptr);
    auto proxy = FaultProxy::Start(registry_->port());
    ASSERT_TRUE(proxy.ok()) << proxy.status();
    proxy_ = *std::move(proxy);
    UseEngine(BaseOptions());
  }
  void TearDown() override { engine_.reset(); }

  static PushEngineOptions BaseOptions() {
    PushEngineOptions options;
    options.retry.initial_backoff = absl::Milliseconds(20);
    options.retry.max_backoff = absl::Milliseconds(200);
    options.retry.max_attempts = 4;
    return options;
  }
  void UseEngine(const PushEngineOptions& options) {
    engine_ = std::make_unique<PushEngine>(options, *blobs_, *index_, recording_clock_,
                                           metrics_.get());
  }
  // Chunked uploads for every blob over 64 KiB, in 128 KiB PATCHes.
  void UseSmallChunks(int64_t monolithic_max = 64 << 10) {
    PushEngineOptions options = BaseOptions();
    options.monolithic_max_bytes = monolithic_max;
    options.chunk_bytes = 128 << 10;
    UseEngine(options);
  }

  PushOutcome PushThroughProxy(const std::string& repo) {
    return engine_->Push(*image_, Target(proxy_->HostPort(), repo), Context());
  }

  // A successful push must be pullable by digest from the registry itself, with our digest.
  void ExpectPullableByDigest(const std::string& repo) {
    const std::string ref =
        registry_->host() + "/" + repo + "@" + image_->manifest.digest.ToString();
    EXPECT_EQ(SkopeoDigest(ref), image_->manifest.digest.ToString());
    ExpectSkopeoCopies(ref);
  }

  double Metric(const std::string& name, const std::string& label, const std::string& value) {
    double sum = 0;
    for (const auto& family : prom_->Collect()) {
      if (family.name != name) continue;
      for (const auto& m : family.metric) {
        for (const auto& l : m.label) {
          if (l.name == label && l.value == value) sum += m.counter.value + m.gauge.value;
        }
      }
    }
    return sum;
  }

  // How many series of `name` carry label=value.
  int Series(const std::string& name, const std::string& label, const std::string& value) {
    int n = 0;
    for (const auto& family : prom_->Collect()) {
      if (family.name != name) continue;
      for (const auto& m : family.metric) {
        for (const auto& l : m.label) n += (l.name == label && l.value == value) ? 1 : 0;
      }
    }
    return n;
  }

  RecordingClock recording_clock_;
  std::unique_ptr<RegistryProcess> registry_;
  std::unique_ptr<FaultProxy> proxy_;
};

TEST_F(PushFaultsTest, BlobUpload429WithRetryAfterIsHonoredAndCounted) {
  ASSERT_TRUE(proxy_->AddRule(FaultRule()
                                  .Method("PUT")
                                  .PathContains("/blobs/uploads/")
                                  .First(1)
                                  .Respond(429, {{"Retry-After", "1"}}))
                  .ok());
  PushOutcome out = PushThroughProxy("faults/r429");
  ASSERT_TRUE(out.status.ok()) << out.status;
  EXPECT_EQ(proxy_->TimesFired(0), 1);
  EXPECT_GE(out.retries, 1);
  EXPECT_GE(Metric("slipway_registry_retries_total", "reason", "429"), 1);
  // Retry-After (1 s) is longer than any backoff of these options (<= 200 ms): it was used.
  EXPECT_GE(recording_clock_.Longest(), absl::Seconds(1));
  ExpectPullableByDigest("faults/r429");
}

TEST_F(PushFaultsTest, ResetInTheMiddleOfAChunkedUploadResumesOrRestarts) {
  UseSmallChunks();
  // The second PATCH of the push dies after 32 KiB of its 128 KiB.
  ASSERT_TRUE(proxy_->AddRule(FaultRule().Method("PATCH").Nth(2).ResetAfter(32 << 10)).ok());
  PushOutcome out = PushThroughProxy("faults/reset");
  ASSERT_TRUE(out.status.ok()) << out.status;
  EXPECT_EQ(proxy_->TimesFired(0), 1);
  EXPECT_GE(out.retries, 1);
  // The big layer really went up in several chunks.
  EXPECT_GE(proxy_->RequestsMatching("PATCH", "/blobs/uploads/").size(), 3u);
  EXPECT_EQ(out.blobs_uploaded, blob_count_);
  ExpectPullableByDigest("faults/reset");
}

TEST_F(PushFaultsTest, ResetInTheMiddleOfAMonolithicUploadStartsANewSession) {
  // Default sizes: every blob of the test image goes up in one PUT; the first dies mid-body.
  ASSERT_TRUE(proxy_->AddRule(
                      FaultRule().Method("PUT").PathContains("/blobs/uploads/").Nth(1).ResetAfter(100))
                  .ok());
  PushOutcome out = PushThroughProxy("faults/monoreset");
  ASSERT_TRUE(out.status.ok()) << out.status;
  EXPECT_EQ(proxy_->TimesFired(0), 1);
  EXPECT_GE(out.retries, 1);
  EXPECT_GE(Metric("slipway_registry_retries_total", "reason", "reset"), 1);
  ExpectPullableByDigest("faults/monoreset");
}

TEST_F(PushFaultsTest, ResetAfterTheFinalPutOfAChunkedUploadTookEffect) {
  // Every blob chunked, so every blob PUT is the final PUT ?digest= of a chunked upload. The
  // first one reaches the registry (the blob is committed), but its answer never comes back.
  UseSmallChunks(/*monolithic_max=*/0);
  ASSERT_TRUE(proxy_->AddRule(FaultRule()
                                  .Method("PUT")
                                  .PathContains("digest=")
                                  .Nth(1)
                                  .ResetBeforeResponse())
                  .ok());
  PushOutcome out = PushThroughProxy("faults/lostanswer");
  ASSERT_TRUE(out.status.ok()) << out.status;
  EXPECT_EQ(proxy_->TimesFired(0), 1);
  ExpectPullableByDigest("faults/lostanswer");
}

TEST_F(PushFaultsTest, StalledResponsesPastTheStallTimeoutAreRetried) {
  PushEngineOptions options = BaseOptions();
  options.stall_timeout = absl::Seconds(1);
  UseEngine(options);
  // The ping's answer: head and one byte of "{}", then silence well past the stall timeout.
  ASSERT_TRUE(proxy_->AddRule(FaultRule()
                                  .Method("GET")
                                  .PathRegex("^/v2/$")
                                  .First(2)
                                  .StallAfter(1, absl::Seconds(4)))
                  .ok());
  PushOutcome out = PushThroughProxy("faults/stall");
  ASSERT_TRUE(out.status.ok()) << out.status;
  EXPECT_EQ(proxy_->TimesFired(0), 2);
  EXPECT_GE(out.retries, 2);
  EXPECT_GE(Metric("slipway_registry_retries_total", "reason", "timeout"), 2);
  ExpectPullableByDigest("faults/stall");
}

TEST_F(PushFaultsTest, ShortStallWithinTheTimeoutIsTolerated) {
  ASSERT_TRUE(proxy_->AddRule(FaultRule()
                                  .Method("GET")
                                  .PathRegex("^/v2/$")
                                  .First(1)
                                  .StallAfter(1, absl::Milliseconds(300)))
                  .ok());
  ASSERT_TRUE(proxy_->AddRule(FaultRule()
                                  .Method("PUT")
                                  .PathContains("/blobs/uploads/")
                                  .First(1)
                                  .Delay(absl::Milliseconds(300)))
                  .ok());
  PushOutcome out = PushThroughProxy("faults/shortstall");
  ASSERT_TRUE(out.status.ok()) << out.status;
  EXPECT_EQ(proxy_->TimesFired(0), 1);
  EXPECT_EQ(proxy_->TimesFired(1), 1);
  EXPECT_EQ(out.retries, 0);
  ExpectPullableByDigest("faults/shortstall");
}

TEST_F(PushFaultsTest, EndlessStallFailsClearlyNamingTheRegistry) {
  PushEngineOptions options = BaseOptions();
  options.stall_timeout = absl::Seconds(1);
  options.retry.max_attempts = 2;
  UseEngine(options);
  ASSERT_TRUE(proxy_->AddRule(FaultRule()
                                  .Method("HEAD")
                                  .PathContains("/blobs/sha256:")
                                  .Always()
                                  .Delay(absl::Seconds(3)))
                  .ok());
  PushOutcome out = PushThroughProxy("faults/stuck");
  ASSERT_FALSE(out.status.ok());
  EXPECT_TRUE(absl::IsUnavailable(out.status) || absl::IsDeadlineExceeded(out.status))
      << out.status;
  EXPECT_THAT(std::string(out.status.message()), HasSubstr(proxy_->HostPort()));
  EXPECT_FALSE(out.manifest_digest.has_value());
  EXPECT_EQ(out.blobs_uploaded, 0);
}

TEST_F(PushFaultsTest, TruncatedResponseBodyIsRetried) {
  // The ping's "{}" cut after one byte: EOF before the end of the body.
  ASSERT_TRUE(proxy_->AddRule(
                      FaultRule().Method("GET").PathRegex("^/v2/$").First(2).TruncateAfter(1))
                  .ok());
  PushOutcome out = PushThroughProxy("faults/truncated");
  ASSERT_TRUE(out.status.ok()) << out.status;
  EXPECT_EQ(proxy_->TimesFired(0), 2);
  EXPECT_GE(out.retries, 2);
  ExpectPullableByDigest("faults/truncated");
}

TEST_F(PushFaultsTest, TruncatedManifestGetIsRetriedThenFailsClearlyWhenItPersists) {
  PushOutcome out = engine_->Push(*image_, Target(registry_->host(), "faults/manifest"), Context());
  ASSERT_TRUE(out.status.ok()) << out.status;
  registry::RegistryClientOptions o;
  o.registry = proxy_->HostPort();
  o.retry.initial_backoff = absl::Milliseconds(20);
  o.retry.max_backoff = absl::Milliseconds(100);
  o.retry.max_attempts = 3;
  auto client = registry::RegistryClient::Create(o, recording_clock_);
  ASSERT_TRUE(client.ok()) << client.status();
  const std::string digest = image_->manifest.digest.ToString();

  ASSERT_TRUE(proxy_->AddRule(
                      FaultRule().Method("GET").PathContains("/manifests/").Nth(1).TruncateAfter(100))
                  .ok());
  registry::RetryStats stats;
  registry::CallOptions call;
  call.stats = &stats;
  auto got = (*client)->GetManifest("faults/manifest", digest, call);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->digest, image_->manifest.digest);
  EXPECT_EQ(proxy_->TimesFired(0), 1);
  EXPECT_GE(stats.reasons.size(), 1u);

  ASSERT_TRUE(proxy_->SetRules({FaultRule()
                                    .Method("GET")
                                    .PathContains("/manifests/")
                                    .Always()
                                    .TruncateAfter(100)})
                  .ok());
  auto broken = (*client)->GetManifest("faults/manifest", "v1");
  ASSERT_FALSE(broken.ok());
  EXPECT_TRUE(absl::IsUnavailable(broken.status())) << broken.status();
  EXPECT_THAT(std::string(broken.status().message()), HasSubstr(proxy_->HostPort()));
}

TEST_F(PushFaultsTest, DockerHubRateLimitHeadersAreExportedAsGauges) {
  ASSERT_TRUE(proxy_->AddRule(FaultRule()
                                  .Method("GET")
                                  .PathRegex("^/v2/$")
                                  .First(1)
                                  .Respond(429, {{"Retry-After", "0"},
                                                 {"ratelimit-limit", "100;w=21600"},
                                                 {"ratelimit-remaining", "37;w=21600"}}))
                  .ok());
  PushOutcome out = PushThroughProxy("faults/ratelimit");
  ASSERT_TRUE(out.status.ok()) << out.status;
  EXPECT_EQ(Metric("slipway_registry_ratelimit_remaining", "registry", proxy_->HostPort()), 37);
  EXPECT_EQ(Metric("slipway_registry_ratelimit_limit", "registry", proxy_->HostPort()), 100);
  // A registry that never sent the headers gets no gauge.
  PushOutcome direct =
      engine_->Push(*image_, Target(registry_->host(), "faults/ratelimit2"), Context());
  ASSERT_TRUE(direct.status.ok()) << direct.status;
  EXPECT_EQ(Series("slipway_registry_ratelimit_remaining", "registry", registry_->host()), 0);
  EXPECT_EQ(Series("slipway_registry_ratelimit_remaining", "registry", proxy_->HostPort()), 1);
  ExpectPullableByDigest("faults/ratelimit");
}

}  // namespace
}  // namespace slipway::push
