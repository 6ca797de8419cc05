// Bearer token flow against docker-registry in `auth: token` mode with a token server in the
// test (RS256 JWTs with an x5c header).

#include <memory>
#include <random>
#include <thread>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "server/registry/registry_client.h"
#include "storage/media_types.h"
#include "tests/support/token_server.h"
#include "tests/support/registry_process.h"
#include "tests/support/temp_dir.h"

namespace slipway::registry {
namespace {

using ::slipway::testing::RegistryProcess;
using ::slipway::testing::RegistryProcessOptions;
using ::slipway::testing::TempDir;
using ::slipway::testing::TokenRequestRecord;
using ::slipway::testing::TokenServer;
using ::slipway::testing::TokenServerOptions;

constexpr char kUser[] = "tokenuser";
constexpr char kPassword[] = "Token-Canary-Pw-31";

class TokenAuthTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // Authenticated users get every action they ask for; anonymous ones only pull.
    TokenServerOptions to;
    to.cert_path = dir_.Sub("token.crt");
    to.service = "slipway-registry";
    to.user = kUser;
    to.password = kPassword;
    auto ts = TokenServer::Start(to);
    ASSERT_TRUE(ts.ok()) << ts.status();
    server_ = std::move(*ts);
    RegistryProcessOptions ro;
    ro.token_realm = server_->realm();
    ro.token_cert_file = server_->cert_path();
    ro.token_service = server_->service();
    ro.token_issuer = server_->issuer();
    registry_ = RegistryProcess::Start(ro);
    ASSERT_NE(registry_, nullptr);
    auto store = FsBlobStore::Create({dir_.Sub("store")});
    ASSERT_TRUE(store.ok());
    store_ = std::move(*store);
  }

  std::unique_ptr<RegistryClient> Client(bool with_credentials) {
    RegistryClientOptions o;
    o.registry = registry_->host();
    o.plain_http = true;
    if (with_credentials) {
      o.credentials.username = kUser;
      o.credentials.password = kPassword;
    }
    auto c = RegistryClient::Create(o, clock_);
    EXPECT_TRUE(c.ok()) << c.status();
    return std::move(*c);
  }

  TempDir dir_;
  RealClock clock_;
  std::unique_ptr<TokenServer> server_;
  std::unique_ptr<RegistryProcess> registry_;
  std::unique_ptr<FsBlobStore> store_;
};

TEST_F(TokenAuthTest, UnauthorizedThenTokenThenRetryAndCache) {
  auto client = Client(true);
  ASSERT_TRUE(client->Ping().ok());
  auto info = store_->PutSmall("layer bytes for the token test");
  ASSERT_TRUE(info.ok());
  Descriptor blob{std::string(media::kOciLayerGzip), info->digest, info->size, {}};
  auto put = client->PutBlob("tok/app", blob, OpenFromStore(*store_, blob.digest));
  ASSERT_TRUE(put.ok()) << put.status();
  const int after_push = client->authenticator().token_requests();
  for (int i = 0; i < 3; ++i) {
    auto head = client->HasBlob("tok/app", blob.digest, /*for_push=*/true);
    ASSERT_TRUE(head.ok() && head->has_value()) << head.status();
  }
  EXPECT_EQ(client->authenticator().token_requests(), after_push);  // served from the cache

  // Every token request carried Basic credentials, service and scope; the password never
  // reached the registry-facing error paths.
  auto requests = server_->Requests();
  ASSERT_FALSE(requests.empty());
  for (const TokenRequestRecord& r : requests) {
    EXPECT_EQ(r.subject, kUser) << r.target;
    EXPECT_EQ(r.status, 200);
  }
  ASSERT_EQ(requests.back().granted.size(), 1u);
  EXPECT_EQ(requests.back().granted[0].name, "tok/app");
  EXPECT_EQ(requests.back().granted[0].actions, (std::vector<std::string>{"pull", "push"}));
}

TEST_F(TokenAuthTest, ConcurrentRequestsShareOneTokenFetch) {
  auto client = Client(true);
  ASSERT_TRUE(client->Ping().ok());
  const int before = client->authenticator().token_requests();
  std::vector<std::thread> threads;
  std::vector<absl::Status> results(8);
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      results[t] = client->HasBlob("shared/app", Sha256Of(std::to_string(t)), true).status();
    });
  }
  for (auto& th : threads) th.join();
  for (const absl::Status& s : results) EXPECT_TRUE(s.ok()) << s;
  EXPECT_EQ(client->authenticator().token_requests(), before + 1);
}

TEST_F(TokenAuthTest, ScopeEscalationFromPullToPullPush) {
  auto http = HttpClient::Create({});
  ASSERT_TRUE(http.ok());
  AuthenticatorOptions ao;
  ao.registry_host = registry_->host();
  ao.registry_https = false;
  ao.credentials.username = kUser;
  ao.credentials.password = kPassword;
  Authenticator auth(**http, clock_, ao);

  // Learn the challenge, then hold a pull-only token.
  HttpRequest ping;
  ping.url = registry_->url() + "/v2/";
  auto first = (*http)->Send(ping);
  ASSERT_TRUE(first.ok());
  ASSERT_EQ(first->status, 401);
  ASSERT_TRUE(auth.OnUnauthorized(*first, {}).ok());
  auto pull = auth.AuthorizationFor({RepositoryScope("esc/app", false)});
  ASSERT_TRUE(pull.ok() && pull->has_value()) << pull.status();

  HttpRequest start;
  start.method = "POST";
  start.url = registry_->url() + "/v2/esc/app/blobs/uploads/";
  start.headers.Set("Authorization", **pull);
  auto denied = (*http)->Send(start);
  ASSERT_TRUE(denied.ok());
  ASSERT_EQ(denied->status, 401);  // insufficient scope: the challenge asks for pull,push
  auto escalated = auth.OnUnauthorized(*denied, {RepositoryScope("esc/app", false)});
  ASSERT_TRUE(escalated.ok()) << escalated.status();
  ASSERT_EQ(server_->Requests().back().requested.size(), 1u);
  EXPECT_EQ(server_->Requests().back().requested[0].actions,
            (std::vector<std::string>{"pull", "push"}));
  start.headers.Set("Authorization", *escalated);
  auto accepted = (*http)->Send(start);
  ASSERT_TRUE(accepted.ok());
  EXPECT_EQ(accepted->status, 202);
}

TEST_F(TokenAuthTest, AnonymousCanPullButNotPushAndBadPasswordIsClear) {
  auto anonymous = Client(false);
  ASSERT_TRUE(anonymous->Ping().ok());
  auto head = anonymous->HasBlob("anon/app", Sha256Of("x"));
  ASSERT_TRUE(head.ok()) << head.status();
  EXPECT_FALSE(head->has_value());
  auto info = store_->PutSmall("anonymous push attempt");
  ASSERT_TRUE(info.ok());
  Descriptor blob{std::string(media::kOciLayerGzip), info->digest, info->size, {}};
  auto put = anonymous->PutBlob("anon/app", blob, OpenFromStore(*store_, blob.digest));
  EXPECT_EQ(put.status().code(), absl::StatusCode::kUnauthenticated) << put.status();

  RegistryClientOptions o;
  o.registry = registry_->host();
  o.plain_http = true;
  o.credentials.username = kUser;
  o.credentials.password = "Wrong-Token-Canary-77";
  auto bad = RegistryClient::Create(o, clock_);
  ASSERT_TRUE(bad.ok());
  absl::Status s = (*bad)->Ping();
  EXPECT_EQ(s.code(), absl::StatusCode::kUnauthenticated) << s;
  EXPECT_NE(s.message().find("refused the credentials"), std::string::npos) << s;
  EXPECT_EQ(s.ToString().find("Wrong-Token-Canary-77"), std::string::npos);
}

}  // namespace
}  // namespace slipway::registry
