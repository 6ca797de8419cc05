#include "tests/support/fault_proxy.h"

#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/header_recorder.h"
#include "tests/support/test_http_server.h"
#include "tests/testinfra/curl_util.h"

namespace slipway::testing {
namespace {

using ::testing::AnyOf;
using ::testing::Eq;
using ::testing::Ne;

std::string Pattern(size_t n) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) s[i] = static_cast<char>('a' + (i * 7 + i / 251) % 26);
  return s;
}

// An upstream that echoes what it got and serves fixed bodies with each framing.
class Upstream {
 public:
  Upstream() {
    auto server = TestHttpServer::Start([this](const HttpRequest& r) { return Handle(r); });
    EXPECT_TRUE(server.ok()) << server.status();
    server_ = std::move(*server);
  }
  int port() const { return server_->port(); }
  int64_t handled() const {
    absl::MutexLock lock(&mu_);
    return handled_;
  }
  std::string last_body() const {
    absl::MutexLock lock(&mu_);
    return last_body_;
  }
  http::Headers last_headers() const {
    absl::MutexLock lock(&mu_);
    return last_headers_;
  }

  static const std::string& Big() {
    static const std::string* big = new std::string(Pattern(100 * 1024));
    return *big;
  }

 private:
  HttpResponse Handle(const HttpRequest& r) {
    {
      absl::MutexLock lock(&mu_);
      ++handled_;
      last_body_ = r.body;
      last_headers_ = r.head.headers;
    }
    HttpResponse resp;
    resp.headers.emplace_back("X-Upstream", "yes");
    std::string path = r.path();
    if (path == "/big") {
      resp.body = Big();
    } else if (path == "/chunked") {
      resp.body = Big();
      resp.framing = HttpResponse::kChunked;
    } else if (path == "/close") {
      resp.body = Big();
      resp.framing = HttpResponse::kUntilClose;
    } else {
      resp.status = r.head.method == "PUT" ? 201 : 200;
      resp.body = absl::StrCat(r.head.method, " ", r.head.target, " ", r.body.size());
    }
    return resp;
  }

  mutable absl::Mutex mu_;
  int64_t handled_ ABSL_GUARDED_BY(mu_) = 0;
  std::string last_body_ ABSL_GUARDED_BY(mu_);
  http::Headers last_headers_ ABSL_GUARDED_BY(mu_);
  std::unique_ptr<TestHttpServer> server_;
};

class FaultProxyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto proxy = FaultProxy::Start(upstream_.port());
    ASSERT_TRUE(proxy.ok()) << proxy.status();
    proxy_ = std::move(*proxy);
  }
  CurlRequest Get(const std::string& path) {
    CurlRequest r;
    r.url = proxy_->url() + path;
    return r;
  }
  CurlRequest Put(const std::string& path, std::string body, bool chunked = false) {
    CurlRequest r;
    r.method = "PUT";
    r.url = proxy_->url() + path;
    r.has_body = true;
    r.body = std::move(body);
    r.chunked = chunked;
    return r;
  }

  Upstream upstream_;
  std::unique_ptr<FaultProxy> proxy_;
};

TEST_F(FaultProxyTest, ForwardsGetAndKeepsTheClientConnection) {
  CurlClient client;
  CurlResult a = client.Do(Get("/v2/?x=1"));
  ASSERT_EQ(a.code, CURLE_OK) << a.error;
  EXPECT_EQ(a.status, 200);
  EXPECT_EQ(a.body, "GET /v2/?x=1 0");
  EXPECT_EQ(a.Header("X-Upstream"), "yes");
  CurlResult b = client.Do(Get("/second"));
  ASSERT_EQ(b.code, CURLE_OK) << b.error;
  EXPECT_EQ(b.body, "GET /second 0");
  EXPECT_EQ(proxy_->ClientConnections(), 1);
  auto seen = proxy_->Requests();
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[0].connection, seen[1].connection);
  EXPECT_EQ(seen[0].target, "/v2/?x=1");
  EXPECT_EQ(seen[0].status, 200);
}

TEST_F(FaultProxyTest, RelaysEveryResponseFraming) {
  CurlClient client;
  for (const char* path : {"/big", "/chunked", "/close", "/big"}) {
    CurlResult r = client.Do(Get(path));
    ASSERT_EQ(r.code, CURLE_OK) << path << ": " << r.error;
    EXPECT_EQ(r.status, 200) << path;
    EXPECT_TRUE(r.body == Upstream::Big()) << path << " body of " << r.body.size() << " bytes";
  }
  CurlResult head = client.Do(Req("HEAD", proxy_->url() + "/big"));
  ASSERT_EQ(head.code, CURLE_OK) << head.error;
  EXPECT_EQ(head.Header("Content-Length"), std::to_string(Upstream::Big().size()));
}

TEST_F(FaultProxyTest, ForwardsChunkedAndSizedUploads) {
  const std::string body = Pattern(300 * 1024 + 17);
  CurlClient client;
  CurlResult chunked = client.Do(Put("/v2/r/blobs/uploads/x?digest=sha256:1", body, true));
  ASSERT_EQ(chunked.code, CURLE_OK) << chunked.error;
  EXPECT_EQ(chunked.status, 201);
  EXPECT_TRUE(upstream_.last_body() == body);
  EXPECT_THAT(http::FindHeader(upstream_.last_headers(), "Transfer-Encoding"),
              Eq(absl::optional<std::string>("chunked")));

  CurlRequest sized = Put("/sized", body);
  sized.headers.push_back("Expect: 100-continue");
  CurlResult r = client.Do(sized);
  ASSERT_EQ(r.code, CURLE_OK) << r.error;
  EXPECT_EQ(r.body, absl::StrCat("PUT /sized ", body.size()));
  EXPECT_TRUE(upstream_.last_body() == body);
  // The proxy answers Expect itself; the upstream never sees it.
  EXPECT_FALSE(http::FindHeader(upstream_.last_headers(), "Expect").has_value());
  auto seen = proxy_->RequestsMatching("PUT", "");
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[0].body_bytes, body.size());
  EXPECT_EQ(seen[1].body_bytes, body.size());
  EXPECT_TRUE(http::FindHeader(seen[1].headers, "Expect").has_value());
}

TEST_F(FaultProxyTest, RespondsWith429RetryAfterThenForwards) {
  ASSERT_TRUE(proxy_->AddRule(FaultRule().Method("GET").PathContains("/v2/").First(1).Respond(
                                  429, {{"Retry-After", "1"}}, "slow down"))
                  .ok());
  CurlClient client;
  CurlResult first = client.Do(Get("/v2/"));
  ASSERT_EQ(first.code, CURLE_OK) << first.error;
  EXPECT_EQ(first.status, 429);
  EXPECT_EQ(first.Header("Retry-After"), "1");
  EXPECT_EQ(first.body, "slow down");
  EXPECT_EQ(upstream_.handled(), 0);
  CurlResult second = client.Do(Get("/v2/"));
  ASSERT_EQ(second.code, CURLE_OK) << second.error;
  EXPECT_EQ(second.status, 200);
  EXPECT_EQ(upstream_.handled(), 1);
  EXPECT_EQ(proxy_->TimesFired(0), 1);
  EXPECT_EQ(proxy_->FaultsApplied(), 1);
  EXPECT_EQ(proxy_->ClientConnections(), 1);  // the canned answer kept the connection
}

TEST_F(FaultProxyTest, NthMatchAndRegexSelectRequests) {
  ASSERT_TRUE(proxy_->AddRule(FaultRule().PathRegex("^/v2/[a-z]+/blobs/sha256:[0-9a-f]+$")
                                  .Nth(2).Respond(503)).ok());
  ASSERT_FALSE(proxy_->AddRule(FaultRule().PathRegex("([")).ok());
  std::vector<long> statuses;
  for (int i = 0; i < 3; ++i) {
    CurlResult r = CurlDo(Get("/v2/repo/blobs/sha256:ab12"));
    ASSERT_EQ(r.code, CURLE_OK) << r.error;
    statuses.push_back(r.status);
  }
  CurlResult other = CurlDo(Get("/v2/repo/manifests/latest"));
  EXPECT_EQ(other.status, 200);
  EXPECT_THAT(statuses, ::testing::ElementsAre(200, 503, 200));
}

TEST_F(FaultProxyTest, BurstOfRulesAppliesInOrder) {
  ASSERT_TRUE(proxy_->SetRules({FaultRule().First(2).Respond(503),
                                FaultRule().First(3).Respond(500)}).ok());
  std::vector<long> statuses;
  for (int i = 0; i < 4; ++i) statuses.push_back(CurlDo(Get("/x")).status);
  // Both rules count every request: the second rule's window (1..3) only has request 3 left.
  EXPECT_THAT(statuses, ::testing::ElementsAre(503, 503, 500, 200));
}

TEST_F(FaultProxyTest, ResetMidUploadFailsTheClient) {
  constexpr uint64_t kCut = 64 * 1024;
  ASSERT_TRUE(proxy_->AddRule(FaultRule().Method("PATCH").First(1).ResetAfter(kCut)).ok());
  CurlRequest patch = Put("/v2/r/blobs/uploads/u1", Pattern(1 << 20));
  patch.method = "PATCH";
  CurlResult r = CurlDo(patch);
  EXPECT_THAT(r.code, AnyOf(CURLE_SEND_ERROR, CURLE_RECV_ERROR, CURLE_GOT_NOTHING)) << r.error;
  EXPECT_EQ(upstream_.handled(), 0);  // the upstream saw a cut body, never a whole request
  auto seen = proxy_->RequestsMatching("PATCH", "/uploads/u1");
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].body_bytes, kCut);
  EXPECT_EQ(seen[0].status, 0);
  // The next request is forwarded normally on a new connection.
  CurlResult again = CurlDo(patch);
  ASSERT_EQ(again.code, CURLE_OK) << again.error;
  EXPECT_EQ(again.body, absl::StrCat("PATCH /v2/r/blobs/uploads/u1 ", 1 << 20));
}

TEST_F(FaultProxyTest, ResetBeforeResponseAfterAWholeRequest) {
  ASSERT_TRUE(proxy_->AddRule(FaultRule().Method("PUT").First(1).ResetBeforeResponse()).ok());
  CurlResult r = CurlDo(Put("/m", "manifest"));
  EXPECT_THAT(r.code, AnyOf(CURLE_RECV_ERROR, CURLE_GOT_NOTHING)) << r.error;
  EXPECT_EQ(upstream_.handled(), 1);  // it did reach the upstream
}

TEST_F(FaultProxyTest, StallThenAnswer) {
  ASSERT_TRUE(proxy_->AddRule(FaultRule().Nth(1).StallAfter(0, absl::Seconds(3))).ok());
  ASSERT_TRUE(proxy_->AddRule(FaultRule().Nth(2).StallAfter(1000, absl::Milliseconds(300))).ok());
  CurlRequest impatient = Get("/big");
  impatient.timeout_ms = 300;
  CurlResult timed_out = CurlDo(impatient);
  EXPECT_EQ(timed_out.code, CURLE_OPERATION_TIMEDOUT) << timed_out.error;
  CurlResult patient = CurlDo(Get("/big"));  // stalls after 1000 body bytes, then completes
  ASSERT_EQ(patient.code, CURLE_OK) << patient.error;
  EXPECT_TRUE(patient.body == Upstream::Big());
  EXPECT_EQ(proxy_->TimesFired(1), 1);
}

TEST_F(FaultProxyTest, DelayThenForward) {
  ASSERT_TRUE(proxy_->AddRule(FaultRule().First(1).Delay(absl::Milliseconds(200))).ok());
  CurlResult r = CurlDo(Get("/d"));
  ASSERT_EQ(r.code, CURLE_OK) << r.error;
  EXPECT_EQ(r.body, "GET /d 0");
  EXPECT_EQ(proxy_->TimesFired(0), 1);
}

TEST_F(FaultProxyTest, TruncatedBodiesFailTheClient) {
  ASSERT_TRUE(proxy_->AddRule(FaultRule().PathContains("/big").TruncateAfter(1000)).ok());
  ASSERT_TRUE(proxy_->AddRule(FaultRule().PathContains("/chunked").TruncateAfter(5000)).ok());
  CurlResult sized = CurlDo(Get("/big"));
  EXPECT_EQ(sized.code, CURLE_PARTIAL_FILE) << sized.error;
  EXPECT_EQ(sized.body.size(), 1000u);
  CurlResult chunked = CurlDo(Get("/chunked"));
  EXPECT_THAT(chunked.code, AnyOf(CURLE_PARTIAL_FILE, CURLE_RECV_ERROR)) << chunked.error;
  EXPECT_EQ(chunked.body.size(), 5000u);
}

TEST_F(FaultProxyTest, RecordsHeadersForAssertions) {
  CurlRequest r = Get("/v2/");
  r.headers.push_back("Authorization: Bearer canary-token");
  ASSERT_EQ(CurlDo(r).code, CURLE_OK);
  ASSERT_EQ(CurlDo(Get("/v2/other")).code, CURLE_OK);
  auto seen = proxy_->Requests();
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(http::FindHeader(seen[0].headers, "authorization"),
            absl::optional<std::string>("Bearer canary-token"));
  EXPECT_FALSE(http::FindHeader(seen[1].headers, "Authorization").has_value());
  EXPECT_EQ(seen[1].seq, 1);
  proxy_->ClearRequests();
  EXPECT_TRUE(proxy_->Requests().empty());
}

TEST_F(FaultProxyTest, ParallelClientsAreAllForwardedAndCounted) {
  ASSERT_TRUE(proxy_->AddRule(FaultRule().PathContains("/fail").Respond(500)).ok());
  constexpr int kThreads = 4;
  constexpr int kPerThread = 15;
  std::vector<std::thread> threads;
  std::vector<int> ok_count(kThreads, 0);
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      CurlClient client;
      for (int i = 0; i < kPerThread; ++i) {
        std::string path = absl::StrCat(i % 3 == 0 ? "/fail/" : "/ok/", t, "/", i);
        CurlResult r = client.Do(Req("GET", proxy_->url() + path));
        long want = i % 3 == 0 ? 500 : 200;
        if (r.code == CURLE_OK && r.status == want) ++ok_count[t];
      }
    });
  }
  for (std::thread& t : threads) t.join();
  for (int t = 0; t < kThreads; ++t) EXPECT_EQ(ok_count[t], kPerThread) << "thread " << t;
  EXPECT_EQ(proxy_->Requests().size(), static_cast<size_t>(kThreads * kPerThread));
  EXPECT_EQ(proxy_->TimesFired(0), kThreads * 5);
  EXPECT_EQ(upstream_.handled(), kThreads * 10);
  EXPECT_EQ(proxy_->ClientConnections(), kThreads);
}

TEST_F(FaultProxyTest, StopsPromptlyWhileAResponseIsStalled) {
  ASSERT_TRUE(proxy_->AddRule(FaultRule().StallAfter(0, absl::Seconds(60))).ok());
  std::thread client([url = proxy_->url()] {
    CurlRequest r = Req("GET", url + "/big");
    r.timeout_ms = 30000;
    CurlResult res = CurlDo(r);
    EXPECT_NE(res.code, CURLE_OK);  // the proxy went away mid-stall
  });
  for (int i = 0; i < 200 && proxy_->Requests().empty(); ++i) {
    absl::SleepFor(absl::Milliseconds(10));
  }
  ASSERT_EQ(proxy_->Requests().size(), 1u);
  proxy_.reset();  // must interrupt the 60 s stall (a hang fails on the ctest timeout)
  client.join();
}

TEST(FaultProxyNoUpstream, AnswersBadGateway) {
  auto recorder = HeaderRecorder::Start();
  ASSERT_TRUE(recorder.ok());
  int dead_port = (*recorder)->port();
  recorder->reset();  // nothing listens there any more
  auto proxy = FaultProxy::Start(dead_port);
  ASSERT_TRUE(proxy.ok());
  CurlResult r = CurlDo(Req("GET", (*proxy)->url() + "/v2/"));
  ASSERT_EQ(r.code, CURLE_OK) << r.error;
  EXPECT_EQ(r.status, 502);
}

TEST(HeaderRecorderTest, RecordsHeadersAndAnswersConfiguredStatus) {
  auto recorder = HeaderRecorder::Start(401);
  ASSERT_TRUE(recorder.ok()) << recorder.status();
  HeaderRecorder& rec = **recorder;
  CurlResult plain = CurlDo(Req("GET", rec.url() + "/token?scope=x"));
  ASSERT_EQ(plain.code, CURLE_OK) << plain.error;
  EXPECT_EQ(plain.status, 401);
  EXPECT_FALSE(rec.SawHeader("Authorization"));

  rec.SetResponse(302, {{"Location", "http://127.0.0.1:1/elsewhere"}});
  CurlRequest with_auth = Req("GET", rec.url() + "/redirect-target");
  with_auth.headers.push_back("Authorization: Basic Y2FuYXJ5OnMzY3IzdA==");
  CurlResult redirected = CurlDo(with_auth);
  ASSERT_EQ(redirected.code, CURLE_OK) << redirected.error;
  EXPECT_EQ(redirected.status, 302);
  EXPECT_TRUE(rec.SawHeader("authorization"));
  EXPECT_TRUE(rec.SawText("Y2FuYXJ5OnMzY3IzdA=="));
  EXPECT_FALSE(rec.SawText("never-sent"));
  auto seen = rec.Requests();
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[0].target, "/token?scope=x");
  EXPECT_EQ(seen[1].method, "GET");
}

}  // namespace
}  // namespace slipway::testing
