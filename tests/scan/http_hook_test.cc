// http hooks against a real loopback HTTP server standing in for a scanner service.
#include <atomic>

#include "absl/synchronization/mutex.h"
#include "gmock/gmock.h"
#include "tests/scan/scan_fixture.h"
#include "tests/support/test_http_server.h"

namespace slipway::scan {
namespace {

using ::testing::HasSubstr;

HookConfig HttpHook(const std::string& name, const std::string& url) {
  HookConfig h;
  h.name = name;
  h.type = HookConfig::Type::kHttp;
  h.url = url;
  h.timeout = absl::Seconds(30);
  return h;
}

TEST_F(ScanTest, HttpHookPostsTheArchiveAndReadsVerdictAndReport) {
  absl::Mutex mu;
  std::string digest_header, image_header, type_header;
  size_t body_size = 0;
  bool body_is_tar = false;
  auto server = testing::TestHttpServer::Start([&](const testing::HttpRequest& req) {
    absl::MutexLock lock(&mu);
    digest_header = testing::http::FindHeader(req.head.headers, "X-Slipway-Digest").value_or("");
    image_header = testing::http::FindHeader(req.head.headers, "X-Slipway-Image").value_or("");
    type_header = testing::http::FindHeader(req.head.headers, "Content-Type").value_or("");
    body_size = req.body.size();
    // A ustar header carries "ustar" at offset 257.
    body_is_tar = req.body.size() > 512 && req.body.compare(257, 5, "ustar") == 0;
    testing::HttpResponse resp;
    resp.status = req.path() == "/bad" ? 422 : 200;
    resp.body = R"({"SchemaVersion": 2, "Results": [{"Target": "t", "Vulnerabilities": [)"
                R"({"Severity": "CRITICAL"}, {"Severity": "MEDIUM"}]}]})";
    return resp;
  });
  ASSERT_TRUE(server.ok()) << server.status();
  HookConfig bad = HttpHook("svc-bad", (*server)->url() + "/bad");
  bad.version = "svc-2";
  auto scanner = MakeScanner({HttpHook("svc-good", (*server)->url() + "/good"), bad});
  ScanOptions options;
  options.image_name = "scan/app:v1";
  auto outcome = scanner->Scan(image(), options);
  ASSERT_TRUE(outcome.ok()) << outcome.status();
  ASSERT_EQ(outcome->results.size(), 2u);
  const ScanResultRecord& good = outcome->results[0];
  EXPECT_TRUE(good.passed) << good.message;
  EXPECT_EQ(good.exit_code, 200);
  EXPECT_TRUE(good.summary_known);
  EXPECT_EQ(good.critical, 1);
  ASSERT_TRUE(good.report.has_value());
  const ScanResultRecord& refused = outcome->results[1];
  EXPECT_FALSE(refused.passed);
  EXPECT_EQ(refused.exit_code, 422);
  EXPECT_EQ(refused.medium, 1);
  EXPECT_EQ(refused.scanner_version, "svc-2");
  EXPECT_THAT(refused.message, HasSubstr("HTTP 422"));
  EXPECT_FALSE(outcome->passed);
  absl::MutexLock lock(&mu);
  EXPECT_EQ(digest_header, image().manifest.digest.ToString());
  EXPECT_EQ(image_header, "scan/app:v1");
  EXPECT_EQ(type_header, "application/x-tar");
  EXPECT_TRUE(body_is_tar);
  EXPECT_GT(body_size, 100000u);
}

TEST_F(ScanTest, HttpHookThatCannotBeReachedOrAnswersOddlyFailsClosed) {
  auto server = testing::TestHttpServer::Start([&](const testing::HttpRequest& req) {
    testing::HttpResponse resp;
    resp.status = 500;
    resp.body = "boom";
    return resp;
  });
  ASSERT_TRUE(server.ok());
  HookConfig down = HttpHook("down", "http://127.0.0.1:1/scan");
  down.timeout = absl::Seconds(5);
  auto scanner = MakeScanner({down, HttpHook("odd", (*server)->url() + "/scan")});
  auto outcome = scanner->Scan(image(), {});
  ASSERT_TRUE(outcome.ok()) << outcome.status();
  EXPECT_FALSE(outcome->results[0].passed);
  EXPECT_EQ(outcome->results[0].exit_code, 0);
  EXPECT_THAT(outcome->results[0].message, HasSubstr("fail closed"));
  EXPECT_FALSE(outcome->results[1].passed);
  EXPECT_THAT(outcome->results[1].message, HasSubstr("unexpected HTTP 500"));
  EXPECT_FALSE(outcome->results[1].summary_known);
}

}  // namespace
}  // namespace slipway::scan
