#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "absl/strings/match.h"
#include "gmock/gmock.h"
#include "tests/push/push_fixture.h"
#include "tests/support/fault_proxy.h"

namespace slipway::push {
namespace {

using ::slipway::testing::FaultProxy;
using ::slipway::testing::FaultRule;
using ::slipway::testing::RegistryProcess;
using ::slipway::testing::RegistryProcessOptions;
using ::testing::HasSubstr;
using ::testing::Not;

int CountState(const std::vector<BlobEvent>& events, BlobState state) {
  int n = 0;
  for (const auto& e : events) n += e.state == state ? 1 : 0;
  return n;
}

// A port nothing listens on: bound, then closed.
int ClosedPort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  socklen_t len = sizeof(addr);
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  close(fd);
  return ntohs(addr.sin_port);
}

TEST_F(PushTest, PushVerifiedBySkopeoThenSecondPushSkipsEverything) {
  auto registry = RegistryProcess::Start();
  ASSERT_NE(registry, nullptr);
  PushOutcome first = engine_->Push(*image_, Target(registry->host(), "team/app"), Context());
  ASSERT_TRUE(first.status.ok()) << first.status;
  ASSERT_TRUE(first.manifest_digest.has_value());
  EXPECT_EQ(*first.manifest_digest, image_->manifest.digest);
  EXPECT_EQ(first.blobs_uploaded, blob_count_);
  EXPECT_EQ(first.blobs_skipped, 0);
  EXPECT_GT(first.bytes_sent, 0);
  auto events = TakeEvents();
  EXPECT_EQ(CountState(events, BlobState::kUploaded), blob_count_);

  EXPECT_EQ(SkopeoDigest(registry->host() + "/team/app:v1"), image_->manifest.digest.ToString());
  ExpectSkopeoCopies(registry->host() + "/team/app:v1");

  PushOutcome second = engine_->Push(*image_, Target(registry->host(), "team/app"), Context());
  ASSERT_TRUE(second.status.ok()) << second.status;
  EXPECT_EQ(second.blobs_skipped, blob_count_);
  EXPECT_EQ(second.blobs_uploaded, 0);
  EXPECT_EQ(second.bytes_sent, 0);
  EXPECT_EQ(second.manifests_skipped, 1);
  events = TakeEvents();
  EXPECT_EQ(CountState(events, BlobState::kExists), blob_count_);
  EXPECT_EQ(events.size(), static_cast<size_t>(blob_count_));
  EXPECT_EQ(MetricSum("slipway_push_blobs_skipped_total"), blob_count_);
  EXPECT_EQ(MetricSum("slipway_push_total"), 2);
  EXPECT_EQ(MetricSum("slipway_push_in_flight"), 0);
}

TEST_F(PushTest, SecondRepositoryOnTheSameRegistryMounts) {
  auto registry = RegistryProcess::Start();
  ASSERT_NE(registry, nullptr);
  PushOutcome first = engine_->Push(*image_, Target(registry->host(), "team/app"), Context());
  ASSERT_TRUE(first.status.ok()) << first.status;
  TakeEvents();
  PushOutcome second =
      engine_->Push(*image_, Target(registry->host(), "team/copy", {"a", "b"}), Context());
  ASSERT_TRUE(second.status.ok()) << second.status;
  EXPECT_EQ(second.blobs_mounted, blob_count_);
  EXPECT_EQ(second.blobs_uploaded, 0);
  EXPECT_EQ(second.bytes_sent, 0);
  EXPECT_EQ(CountState(TakeEvents(), BlobState::kMounted), blob_count_);
  auto where = index_->FindBlobLocations(registry->host(), *image_->config);
  ASSERT_TRUE(where.ok());
  EXPECT_THAT(*where, ::testing::UnorderedElementsAre("team/app", "team/copy"));
  EXPECT_EQ(SkopeoDigest(registry->host() + "/team/copy:a"), image_->manifest.digest.ToString());
  EXPECT_EQ(SkopeoDigest(registry->host() + "/team/copy:b"), image_->manifest.digest.ToString());
  ExpectSkopeoCopies(registry->host() + "/team/copy:b");
}

TEST_F(PushTest, PushByDigestOnlyWithoutTags) {
  auto registry = RegistryProcess::Start();
  ASSERT_NE(registry, nullptr);
  PushOutcome out = engine_->Push(*image_, Target(registry->host(), "bydigest", {}), Context());
  ASSERT_TRUE(out.status.ok()) << out.status;
  EXPECT_EQ(SkopeoDigest(registry->host() + "/bydigest@" + image_->manifest.digest.ToString()),
            image_->manifest.digest.ToString());
}

TEST_F(PushTest, PushManyOneRegistryDownOthersUnaffected) {
  auto a = RegistryProcess::Start();
  auto b = RegistryProcess::Start();
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  const std::string down = "127.0.0.1:" + std::to_string(ClosedPort());
  std::vector<PushTarget> targets = {Target(a->host(), "x/app"), Target(down, "x/app"),
                                     Target(b->host(), "x/app")};
  absl::Mutex mu;
  std::vector<int> done;
  auto outcomes = engine_->PushMany(*image_, targets, Context(), [&](int i, const PushOutcome&) {
    absl::MutexLock lock(&mu);
    done.push_back(i);
  });
  ASSERT_EQ(outcomes.size(), 3u);
  EXPECT_TRUE(outcomes[0].status.ok()) << outcomes[0].status;
  EXPECT_TRUE(outcomes[2].status.ok()) << outcomes[2].status;
  EXPECT_TRUE(absl::IsUnavailable(outcomes[1].status)) << outcomes[1].status;
  EXPECT_FALSE(outcomes[1].manifest_digest.has_value());
  EXPECT_EQ(done.size(), 3u);
  EXPECT_EQ(SkopeoDigest(a->host() + "/x/app:v1"), image_->manifest.digest.ToString());
  EXPECT_EQ(SkopeoDigest(b->host() + "/x/app:v1"), image_->manifest.digest.ToString());
  ExpectSkopeoCopies(b->host() + "/x/app:v1");
}

TEST_F(PushTest, SameRepositoryTwiceInOneCallSharesUploads) {
  auto registry = RegistryProcess::Start();
  ASSERT_NE(registry, nullptr);
  std::vector<PushTarget> targets = {Target(registry->host(), "same", {"one"}),
                                     Target(registry->host(), "same", {"two"})};
  auto outcomes = engine_->PushMany(*image_, targets, Context(), nullptr);
  ASSERT_TRUE(outcomes[0].status.ok()) << outcomes[0].status;
  ASSERT_TRUE(outcomes[1].status.ok()) << outcomes[1].status;
  // Every blob went up once: the other target found it (shared or already present).
  EXPECT_EQ(outcomes[0].blobs_uploaded + outcomes[1].blobs_uploaded, blob_count_);
  EXPECT_EQ(outcomes[0].blobs_skipped + outcomes[1].blobs_skipped, blob_count_);
  EXPECT_EQ(engine_->limiter().InUse(registry->host(), HostLimiter::Kind::kBlob), 0);
  EXPECT_EQ(SkopeoDigest(registry->host() + "/same:two"), image_->manifest.digest.ToString());
}

TEST_F(PushTest, WrongPasswordIsUnauthenticatedWithoutThePassword) {
  RegistryProcessOptions options;
  options.basic_auth = true;
  auto registry = RegistryProcess::Start(options);
  ASSERT_NE(registry, nullptr);
  PushTarget bad = Target(registry->host(), "secure/app");
  bad.credentials.username = options.username;
  bad.credentials.password = "Wrong-Canary-Pw-93kd";
  PushOutcome out = engine_->Push(*image_, bad, Context());
  EXPECT_TRUE(absl::IsUnauthenticated(out.status)) << out.status;
  EXPECT_THAT(std::string(out.status.message()), Not(HasSubstr("Wrong-Canary-Pw-93kd")));
  EXPECT_EQ(out.blobs_uploaded, 0);

  PushTarget good = bad;
  good.credentials.password = options.password;
  PushOutcome ok = engine_->Push(*image_, good, Context());
  EXPECT_TRUE(ok.status.ok()) << ok.status;
}

TEST_F(PushTest, Upload503TwiceIsRetriedAndCounted) {
  auto registry = RegistryProcess::Start();
  ASSERT_NE(registry, nullptr);
  auto proxy = FaultProxy::Start(registry->port());
  ASSERT_TRUE(proxy.ok()) << proxy.status();
  ASSERT_TRUE((*proxy)->AddRule(FaultRule().Method("PUT").PathContains("/blobs/uploads/").First(2).Respond(503)).ok());
  PushOutcome out = engine_->Push(*image_, Target((*proxy)->HostPort(), "faulty"), Context());
  ASSERT_TRUE(out.status.ok()) << out.status;
  EXPECT_GE(out.retries, 2);
  EXPECT_EQ((*proxy)->TimesFired(0), 2);
  EXPECT_GE(MetricSum("slipway_registry_retries_total"), 2);
  EXPECT_GT(MetricSum("slipway_registry_requests_total"), 0);
  EXPECT_EQ(SkopeoDigest((*proxy)->HostPort() + "/faulty:v1"), image_->manifest.digest.ToString());
  ExpectSkopeoCopies(registry->host() + "/faulty:v1");
}

TEST_F(PushTest, CancelledBeforeStartTouchesNothing) {
  auto registry = RegistryProcess::Start();
  ASSERT_NE(registry, nullptr);
  PushContext ctx = Context();
  ctx.cancelled = [] { return true; };
  PushOutcome out = engine_->Push(*image_, Target(registry->host(), "cancelled"), ctx);
  EXPECT_TRUE(absl::IsCancelled(out.status)) << out.status;
  EXPECT_EQ(out.blobs_uploaded, 0);
}

}  // namespace
}  // namespace slipway::push
