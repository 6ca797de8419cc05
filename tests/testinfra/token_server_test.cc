#include "tests/support/token_server.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "storage/digest.h"
#include "tests/support/fault_proxy.h"
#include "tests/support/jwt_signer.h"
#include "tests/support/temp_dir.h"
#include "tests/testinfra/curl_util.h"

namespace slipway::testing {
namespace {

using ::testing::AnyOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

// Minimal local starter for `docker-registry serve` with token auth (the shared harness lives
// in tests/support/registry_process.*; this one only serves these tests).
class TokenRegistry {
 public:
  TokenRegistry(const TempDir& dir, const TokenServer& ts) {
    for (int attempt = 0; attempt < 5 && pid_ <= 0; ++attempt) TryStart(dir, ts);
  }
  ~TokenRegistry() {
    if (pid_ <= 0) return;
    kill(pid_, SIGTERM);
    for (int i = 0; i < 100; ++i) {  // up to ~5 s, then SIGKILL
      if (waitpid(pid_, nullptr, WNOHANG) == pid_) return;
      absl::SleepFor(absl::Milliseconds(50));
    }
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
  }
  bool up() const { return pid_ > 0; }
  std::string url() const { return absl::StrCat("http://127.0.0.1:", port_); }
  std::string log() const { return ReadFile(log_path_); }

 private:
  void TryStart(const TempDir& dir, const TokenServer& ts) {
    // The registry cannot report an ephemeral port: take a free one and retry on a clash.
    auto probe = http::ListenLoopback();
    if (!probe.ok()) return;
    port_ = probe->port;
    close(probe->fd);
    std::string config = dir.Sub("registry.yml");
    log_path_ = dir.Sub("registry.log");
    WriteFile(config, absl::StrCat("version: 0.1\n"
                                   "log:\n  level: info\n"
                                   "storage:\n  filesystem:\n    rootdirectory: ",
                                   dir.Sub("storage"), "\n"
                                   "http:\n  addr: 127.0.0.1:", port_, "\n"
                                   "auth:\n  token:\n    realm: ", ts.realm(), "\n"
                                   "    service: ", ts.service(), "\n"
                                   "    issuer: ", ts.issuer(), "\n"
                                   "    rootcertbundle: ", ts.cert_path(), "\n"));
    pid_t pid = fork();
    if (pid == 0) {
      FILE* out = freopen(log_path_.c_str(), "a", stdout);
      (void)out;
      dup2(fileno(stdout), STDERR_FILENO);
      execlp("docker-registry", "docker-registry", "serve", config.c_str(), nullptr);
      _exit(127);
    }
    if (pid < 0) return;
    absl::Time deadline = absl::Now() + absl::Seconds(15);
    while (absl::Now() < deadline) {
      if (waitpid(pid, nullptr, WNOHANG) == pid) return;  // exited: port clash or bad config
      CurlRequest probe_req = Req("GET", url() + "/v2/");
      probe_req.timeout_ms = 1000;
      CurlResult r = CurlDo(probe_req);
      if (r.code == CURLE_OK && (r.status == 200 || r.status == 401)) {
        pid_ = pid;
        return;
      }
      absl::SleepFor(absl::Milliseconds(50));
    }
    kill(pid, SIGKILL);
    waitpid(pid, nullptr, 0);
  }

  pid_t pid_ = -1;
  int port_ = 0;
  std::string log_path_;
};

constexpr char kUser[] = "pusher";
constexpr char kPassword[] = "canary-p4ss";

std::string BasicAuth(const std::string& user, const std::string& password) {
  return "Authorization: Basic " + Base64Encode(user + ":" + password);
}

class TokenServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    TokenServerOptions options;
    options.cert_path = dir_.Sub("token-cert.pem");
    options.user = kUser;
    options.password = kPassword;
    auto ts = TokenServer::Start(options);
    ASSERT_TRUE(ts.ok()) << ts.status();
    ts_ = std::move(*ts);
  }

  // GET the realm; returns the token ("" on failure).
  std::string FetchToken(const std::vector<std::string>& scopes, bool authenticated,
                         long* status = nullptr) {
    std::string url = ts_->realm() + "?service=" + ts_->service();
    for (const std::string& s : scopes) url += "&scope=" + s;
    CurlRequest req = Req("GET", url);
    if (authenticated) req.headers.push_back(BasicAuth(kUser, kPassword));
    CurlResult r = CurlDo(req);
    if (status != nullptr) *status = r.status;
    if (r.code != CURLE_OK || r.status != 200) return "";
    auto body = nlohmann::json::parse(r.body, nullptr, false);
    if (body.is_discarded() || !body.contains("token")) return "";
    EXPECT_EQ(body["token"], body["access_token"]);
    EXPECT_TRUE(body.contains("expires_in"));
    EXPECT_TRUE(body.contains("issued_at"));
    return body["token"].get<std::string>();
  }

  TempDir dir_;
  std::unique_ptr<TokenServer> ts_;
};

nlohmann::json Segment(const std::string& token, int index) {
  std::vector<std::string> parts = absl::StrSplit(token, '.');
  EXPECT_EQ(parts.size(), 3u);
  auto decoded = Base64Decode(parts.at(index));
  EXPECT_TRUE(decoded.ok());
  return nlohmann::json::parse(decoded.value_or(""), nullptr, false);
}

TEST(Base64Test, RoundTripsEveryPaddingLength) {
  for (std::string s : {"", "a", "ab", "abc", "abcd", "\xff\xfe\xfd?>"}) {
    EXPECT_EQ(Base64Decode(Base64Encode(s)).value_or("x"), s);
    EXPECT_EQ(Base64Decode(Base64UrlEncode(s)).value_or("x"), s);
    EXPECT_FALSE(absl::StrContains(Base64UrlEncode(s), "="));
  }
  EXPECT_EQ(Base64UrlEncode("\xfb\xff"), "-_8");
  EXPECT_FALSE(Base64Decode("!!!!").ok());
}

TEST(TokenScopeTest, ParsesNamesWithSlashes) {
  auto s = ParseTokenScope("repository:library/busy-box:pull,push");
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->type, "repository");
  EXPECT_EQ(s->name, "library/busy-box");
  EXPECT_THAT(s->actions, ElementsAre("pull", "push"));
  EXPECT_FALSE(ParseTokenScope("repository-only").ok());
}

TEST_F(TokenServerTest, IssuesRs256JwtWithX5cAndClaims) {
  std::string token = FetchToken({"repository:team/app:pull,push"}, true);
  ASSERT_FALSE(token.empty());
  nlohmann::json header = Segment(token, 0);
  EXPECT_EQ(header["alg"], "RS256");
  ASSERT_TRUE(header["x5c"].is_array());
  EXPECT_EQ(header["x5c"].size(), 1u);
  nlohmann::json claims = Segment(token, 1);
  EXPECT_EQ(claims["iss"], ts_->issuer());
  EXPECT_EQ(claims["aud"], ts_->service());
  EXPECT_EQ(claims["sub"], kUser);
  for (const char* k : {"exp", "nbf", "iat", "jti"}) EXPECT_TRUE(claims.contains(k)) << k;
  EXPECT_GT(claims["exp"].get<int64_t>(), claims["iat"].get<int64_t>());
  ASSERT_EQ(claims["access"].size(), 1u);
  EXPECT_EQ(claims["access"][0]["name"], "team/app");
  EXPECT_EQ(claims["access"][0]["actions"], nlohmann::json::array({"pull", "push"}));
  EXPECT_THAT(ReadFile(ts_->cert_path()), HasSubstr("BEGIN CERTIFICATE"));
}

TEST_F(TokenServerTest, AnonymousGetsPullOnlyAndBadPasswordIs401) {
  std::string anon = FetchToken({"repository:team/app:pull,push"}, false);
  ASSERT_FALSE(anon.empty());
  EXPECT_EQ(Segment(anon, 1)["access"][0]["actions"], nlohmann::json::array({"pull"}));
  EXPECT_EQ(Segment(anon, 1)["sub"], "");

  CurlRequest bad = Req("GET", ts_->realm() + "?service=test-registry");
  bad.headers.push_back(BasicAuth(kUser, "wrong"));
  CurlResult r = CurlDo(bad);
  ASSERT_EQ(r.code, CURLE_OK) << r.error;
  EXPECT_EQ(r.status, 401);
  auto records = ts_->Requests();
  ASSERT_EQ(records.size(), 2u);
  EXPECT_EQ(records[0].subject, "");
  EXPECT_EQ(records[0].requested.at(0).actions.size(), 2u);
  EXPECT_EQ(records[0].granted.at(0).actions.size(), 1u);
  EXPECT_EQ(records[1].status, 401);
  EXPECT_EQ(ts_->TokensIssued(), 1u);
}

TEST_F(TokenServerTest, PasswordGrantAndRefreshToken) {
  CurlRequest post = Req("POST", ts_->realm());
  post.has_body = true;
  post.headers.push_back("Content-Type: application/x-www-form-urlencoded");
  post.body = absl::StrCat("grant_type=password&username=", kUser, "&password=", kPassword,
                           "&service=test-registry&client_id=t&access_type=offline"
                           "&scope=repository%3Ateam%2Fapp%3Apull");
  CurlResult r = CurlDo(post);
  ASSERT_EQ(r.code, CURLE_OK) << r.error;
  ASSERT_EQ(r.status, 200) << r.body;
  auto body = nlohmann::json::parse(r.body);
  ASSERT_TRUE(body.contains("refresh_token"));
  EXPECT_EQ(Segment(body["access_token"], 1)["access"][0]["name"], "team/app");

  post.body = absl::StrCat("grant_type=refresh_token&service=test-registry&client_id=t"
                           "&refresh_token=", body["refresh_token"].get<std::string>(),
                           "&scope=repository%3Ateam%2Fapp%3Apull%2Cpush");
  r = CurlDo(post);
  ASSERT_EQ(r.status, 200) << r.body;
  auto refreshed = nlohmann::json::parse(r.body);
  EXPECT_EQ(Segment(refreshed["access_token"], 1)["sub"], kUser);
  EXPECT_EQ(Segment(refreshed["access_token"], 1)["access"][0]["actions"].size(), 2u);

  post.body = "grant_type=refresh_token&service=test-registry&refresh_token=nope";
  EXPECT_EQ(CurlDo(post).status, 401);
}

TEST_F(TokenServerTest, DockerRegistryAcceptsItsTokens) {
  TokenRegistry registry(dir_, *ts_);
  ASSERT_TRUE(registry.up()) << registry.log();

  CurlResult challenge = CurlDo(Req("GET", registry.url() + "/v2/"));
  ASSERT_EQ(challenge.code, CURLE_OK) << challenge.error;
  EXPECT_EQ(challenge.status, 401);
  std::string www = challenge.Header("WWW-Authenticate");
  EXPECT_THAT(www, HasSubstr("Bearer realm=\"" + ts_->realm() + "\""));
  EXPECT_THAT(www, HasSubstr("service=\"test-registry\""));

  std::string base_token = FetchToken({}, false);
  ASSERT_FALSE(base_token.empty());
  CurlRequest v2 = Req("GET", registry.url() + "/v2/");
  v2.headers.push_back("Authorization: Bearer " + base_token);
  CurlResult ok = CurlDo(v2);
  ASSERT_EQ(ok.code, CURLE_OK) << ok.error;
  EXPECT_EQ(ok.status, 200) << ok.body << registry.log();

  const std::string blob = "hello from the token server test\n";
  const std::string digest = Sha256Of(blob).ToString();
  auto push_blob = [&](const std::string& token, long* start_status) -> long {
    CurlRequest start = Req("POST", registry.url() + "/v2/team/app/blobs/uploads/");
    start.has_body = true;
    start.headers.push_back("Authorization: Bearer " + token);
    CurlResult started = CurlDo(start);
    *start_status = started.status;
    if (started.status != 202) return 0;
    std::string location = started.Header("Location");
    if (absl::StartsWith(location, "/")) location = registry.url() + location;
    CurlRequest put = Req("PUT", location + (absl::StrContains(location, "?") ? "&" : "?") +
                                     "digest=" + digest);
    put.has_body = true;
    put.body = blob;
    put.headers.push_back("Authorization: Bearer " + token);
    put.headers.push_back("Content-Type: application/octet-stream");
    return CurlDo(put).status;
  };

  // Anonymous asks for pull,push and gets pull: the registry refuses the upload.
  std::string pull_only = FetchToken({"repository:team/app:pull,push"}, false);
  ASSERT_FALSE(pull_only.empty());
  long start_status = 0;
  push_blob(pull_only, &start_status);
  EXPECT_THAT(start_status, AnyOf(401, 403));

  // The authenticated user gets push (pull → pull,push escalation) and the blob lands.
  std::string push_token = FetchToken({"repository:team/app:pull,push"}, true);
  ASSERT_FALSE(push_token.empty());
  EXPECT_EQ(push_blob(push_token, &start_status), 201) << registry.log();
  EXPECT_EQ(start_status, 202);

  CurlRequest head = Req("HEAD", registry.url() + "/v2/team/app/blobs/" + digest);
  head.headers.push_back("Authorization: Bearer " + pull_only);
  CurlResult present = CurlDo(head);
  EXPECT_EQ(present.status, 200);
  EXPECT_EQ(present.Header("Docker-Content-Digest"), digest);

  // A token for another repository does not open this one.
  std::string other = FetchToken({"repository:team/other:pull,push"}, true);
  head.headers = {"Authorization: Bearer " + other};
  EXPECT_EQ(CurlDo(head).status, 401);

  // An expired token is refused.
  auto expired = ts_->Issue(kUser, {{"repository", "team/app", {"pull"}}}, absl::Minutes(-10));
  ASSERT_TRUE(expired.ok());
  head.headers = {"Authorization: Bearer " + *expired};
  EXPECT_EQ(CurlDo(head).status, 401);
}

TEST_F(TokenServerTest, PushThroughFaultProxyKeepsLocationsOnTheProxy) {
  TokenRegistry registry(dir_, *ts_);
  ASSERT_TRUE(registry.up()) << registry.log();
  int registry_port = 0;
  ASSERT_TRUE(absl::SimpleAtoi(registry.url().substr(registry.url().rfind(':') + 1),
                               &registry_port));
  auto proxy = FaultProxy::Start(registry_port);
  ASSERT_TRUE(proxy.ok()) << proxy.status();
  FaultProxy& fp = **proxy;
  // The first blob PUT fails with 503; the client retries it.
  ASSERT_TRUE(fp.AddRule(FaultRule().Method("PUT").PathContains("/blobs/uploads/").Nth(1)
                             .Respond(503)).ok());

  std::string token = FetchToken({"repository:team/app:pull,push"}, true);
  ASSERT_FALSE(token.empty());
  const std::string auth = "Authorization: Bearer " + token;
  const std::string blob(200 * 1024, 'z');
  const std::string digest = Sha256Of(blob).ToString();

  CurlRequest start = Req("POST", fp.url() + "/v2/team/app/blobs/uploads/");
  start.has_body = true;
  start.headers.push_back(auth);
  CurlResult started = CurlDo(start);
  ASSERT_EQ(started.status, 202) << started.body;
  std::string location = started.Header("Location");
  // The registry builds Location from the Host header the proxy passed on.
  EXPECT_TRUE(absl::StartsWith(location, fp.url()) || absl::StartsWith(location, "/"))
      << location;
  if (absl::StartsWith(location, "/")) location = fp.url() + location;

  CurlRequest put = Req("PUT", location + "&digest=" + digest);
  put.has_body = true;
  put.body = blob;
  put.chunked = true;
  put.headers.push_back(auth);
  EXPECT_EQ(CurlDo(put).status, 503);
  EXPECT_EQ(CurlDo(put).status, 201) << registry.log();

  CurlRequest head = Req("HEAD", fp.url() + "/v2/team/app/blobs/" + digest);
  head.headers.push_back(auth);
  EXPECT_EQ(CurlDo(head).status, 200);
  auto puts = fp.RequestsMatching("PUT", "/blobs/uploads/");
  ASSERT_EQ(puts.size(), 2u);
  EXPECT_EQ(puts[0].status, 503);
  EXPECT_EQ(puts[1].status, 201);
  EXPECT_EQ(puts[1].body_bytes, blob.size());
  for (const ProxiedRequest& r : fp.Requests()) {
    EXPECT_TRUE(http::FindHeader(r.headers, "Authorization").has_value()) << r.target;
  }
}

}  // namespace
}  // namespace slipway::testing
