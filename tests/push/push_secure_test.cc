// Pushes to TLS and token-auth registries, and the ordering guarantees under failures.
#include <atomic>

#include "gmock/gmock.h"
#include "tests/push/push_fixture.h"
#include "tests/support/fault_proxy.h"
#include "tests/support/token_server.h"

namespace slipway::push {
namespace {

using ::slipway::testing::FaultProxy;
using ::slipway::testing::FaultRule;
using ::slipway::testing::RegistryProcess;
using ::slipway::testing::RegistryProcessOptions;
using ::slipway::testing::TokenServer;
using ::slipway::testing::TokenServerOptions;
using ::testing::HasSubstr;
using ::testing::Not;

TEST_F(PushTest, TlsRegistryWithItsCaAndAWrongCaFailsClearly) {
  RegistryProcessOptions options;
  options.tls = true;
  auto registry = RegistryProcess::Start(options);
  ASSERT_NE(registry, nullptr);
  PushTarget target = Target(registry->host(), "tls/app");
  target.tls.ca_pem = registry->certificates().CaPem();
  PushOutcome ok = engine_->Push(*image_, target, Context());
  ASSERT_TRUE(ok.status.ok()) << ok.status;
  EXPECT_EQ(ok.blobs_uploaded, blob_count_);

  auto other = ::slipway::testing::MakeTestCertificates(dir_.Sub("other-ca"), "Other CA");
  target.tls.ca_pem = other.CaPem();
  PushOutcome bad = engine_->Push(*image_, target, Context());
  EXPECT_FALSE(bad.status.ok());
  EXPECT_THAT(std::string(bad.status.message()), HasSubstr(registry->host()));
  EXPECT_FALSE(bad.manifest_digest.has_value());
}

TEST_F(PushTest, TokenAuthRegistryPushesWithBearerTokens) {
  TokenServerOptions to;
  to.cert_path = dir_.Sub("token.crt");
  to.service = "slipway-registry";
  to.user = "pusher";
  to.password = "Token-Canary-Push-77";
  auto tokens = TokenServer::Start(to);
  ASSERT_TRUE(tokens.ok()) << tokens.status();
  RegistryProcessOptions ro;
  ro.token_realm = (*tokens)->realm();
  ro.token_cert_file = (*tokens)->cert_path();
  ro.token_service = (*tokens)->service();
  ro.token_issuer = (*tokens)->issuer();
  auto registry = RegistryProcess::Start(ro);
  ASSERT_NE(registry, nullptr);
  PushTarget target = Target(registry->host(), "tok/app");
  target.plain_http = true;
  target.credentials.username = to.user;
  target.credentials.password = to.password;
  PushOutcome out = engine_->Push(*image_, target, Context());
  ASSERT_TRUE(out.status.ok()) << out.status;
  EXPECT_GT((*tokens)->TokensIssued(), 0u);

  // Anonymous: the token server grants pull only, so the push is refused without a secret.
  PushTarget anon = Target(registry->host(), "tok/other");
  anon.plain_http = true;
  PushOutcome refused = engine_->Push(*image_, anon, Context());
  EXPECT_FALSE(refused.status.ok());
  EXPECT_TRUE(absl::IsUnauthenticated(refused.status) ||
              absl::IsPermissionDenied(refused.status))
      << refused.status;
  EXPECT_THAT(std::string(refused.status.message()), Not(HasSubstr(to.password)));
}

TEST_F(PushTest, ManifestNeverSentWhenABlobFails) {
  auto registry = RegistryProcess::Start();
  ASSERT_NE(registry, nullptr);
  auto proxy = FaultProxy::Start(registry->port());
  ASSERT_TRUE(proxy.ok()) << proxy.status();
  // Every upload completion is refused (400 is never retried).
  ASSERT_TRUE((*proxy)->AddRule(FaultRule().Method("PUT").PathContains("/blobs/uploads/")
                                    .Always().Respond(400)).ok());
  PushOutcome out = engine_->Push(*image_, Target((*proxy)->HostPort(), "broken"), Context());
  EXPECT_TRUE(absl::IsFailedPrecondition(out.status)) << out.status;
  EXPECT_FALSE(out.manifest_digest.has_value());
  EXPECT_THAT((*proxy)->RequestsMatching("PUT", "/blobs/uploads/"), Not(::testing::IsEmpty()));
  EXPECT_THAT((*proxy)->RequestsMatching("PUT", "/manifests/"), ::testing::IsEmpty());
  EXPECT_THAT((*proxy)->RequestsMatching("HEAD", "/manifests/"), ::testing::IsEmpty());
  EXPECT_EQ(MetricSum("slipway_push_in_flight"), 0);
}

TEST_F(PushTest, CancellationDuringUploadsStopsBeforeTheManifest) {
  auto registry = RegistryProcess::Start();
  ASSERT_NE(registry, nullptr);
  auto proxy = FaultProxy::Start(registry->port());
  ASSERT_TRUE(proxy.ok()) << proxy.status();
  // Slow uploads so that the cancellation lands while they run.
  ASSERT_TRUE((*proxy)->AddRule(FaultRule().Method("PUT").PathContains("/blobs/uploads/")
                                    .Always().Delay(absl::Milliseconds(300))).ok());
  std::atomic<bool> cancel{false};
  PushContext ctx = Context();
  ctx.cancelled = [&] { return cancel.load(); };
  ctx.on_blob = [&](const BlobEvent& e) {
    if (e.state == BlobState::kUploading) cancel = true;
  };
  PushOutcome out = engine_->Push(*image_, Target((*proxy)->HostPort(), "cancel"), ctx);
  EXPECT_TRUE(absl::IsCancelled(out.status)) << out.status;
  EXPECT_FALSE(out.manifest_digest.has_value());
  EXPECT_THAT((*proxy)->RequestsMatching("PUT", "/manifests/"), ::testing::IsEmpty());
}

}  // namespace
}  // namespace slipway::push
