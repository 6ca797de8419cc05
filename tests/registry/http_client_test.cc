#include "server/registry/http_client.h"

#include "gtest/gtest.h"
#include "tests/support/registry_process.h"

namespace slipway::registry {
namespace {

using ::slipway::testing::RegistryProcess;
using ::slipway::testing::RegistryProcessOptions;

TEST(HeaderMapTest, CaseInsensitiveMultiValued) {
  HeaderMap h;
  h.Add("WWW-Authenticate", "Basic realm=\"a\"");
  h.Add("www-authenticate", "Bearer realm=\"b\"");
  h.Add("Content-Type", "x");
  EXPECT_EQ(h.GetAll("Www-Authenticate").size(), 2u);
  EXPECT_EQ(h.Get("CONTENT-TYPE").value_or(""), "x");
  h.Set("content-type", "y");
  EXPECT_EQ(h.GetAll("Content-Type").size(), 1u);
  EXPECT_EQ(*h.Get("Content-Type"), "y");
  h.Remove("WWW-AUTHENTICATE");
  EXPECT_FALSE(h.Has("www-authenticate"));
}

TEST(UrlTest, RedactDropsQueryAndUserInfo) {
  EXPECT_EQ(RedactUrl("https://user:pw@s3.example.com/b/k?X-Amz-Signature=abc#f"),
            "https://s3.example.com/b/k");
  auto resolved = ResolveUrl("http://127.0.0.1:5000/v2/a/blobs/uploads/", "/v2/a/blobs/uploads/u?_state=x");
  ASSERT_TRUE(resolved.ok());
  EXPECT_EQ(*resolved, "http://127.0.0.1:5000/v2/a/blobs/uploads/u?_state=x");
  auto with = AppendQueryParam(*resolved, "digest", "sha256:00");
  ASSERT_TRUE(with.ok());
  EXPECT_EQ(*with, "http://127.0.0.1:5000/v2/a/blobs/uploads/u?_state=x&digest=sha256%3a00");
  auto parts = ParseUrl("https://[::1]:5000/v2/");
  ASSERT_TRUE(parts.ok());
  EXPECT_EQ(parts->host, "::1");
  EXPECT_EQ(parts->HostPort(), "[::1]:5000");
  EXPECT_FALSE(ParseUrl("ftp://x/").ok());
}

TEST(HttpClientTest, PlainHttpRefusedForNonLoopbackWithoutOptIn) {
  auto client = HttpClient::Create({});
  ASSERT_TRUE(client.ok());
  HttpRequest req;
  req.url = "http://registry.example.com/v2/";
  auto resp = (*client)->Send(req);
  ASSERT_FALSE(resp.ok());
  EXPECT_EQ(resp.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(resp.status().message().find("plain http"), std::string::npos);
}

TEST(HttpClientTest, LinkLocalRefusedBeforeConnect) {
  auto client = HttpClient::Create({});
  ASSERT_TRUE(client.ok());
  HttpRequest req;
  req.url = "https://169.254.169.254/token";
  req.forbid_link_local = true;
  req.connect_timeout = absl::Seconds(2);
  auto resp = (*client)->Send(req);
  ASSERT_FALSE(resp.ok());
  EXPECT_EQ(resp.status().code(), absl::StatusCode::kFailedPrecondition) << resp.status();
  EXPECT_NE(resp.status().message().find("link-local"), std::string::npos);
}

TEST(HttpClientTest, PingsPlainRegistryAndReusesConnection) {
  auto registry = RegistryProcess::Start();
  ASSERT_NE(registry, nullptr);
  auto client = HttpClient::Create({});
  ASSERT_TRUE(client.ok());
  for (int i = 0; i < 3; ++i) {
    HttpRequest req;
    req.url = registry->url() + "/v2/";
    auto resp = (*client)->Send(req);
    ASSERT_TRUE(resp.ok()) << resp.status();
    EXPECT_EQ(resp->status, 200);
    EXPECT_EQ(resp->headers.Get("Docker-Distribution-API-Version").value_or(""),
              "registry/2.0");
  }
  HttpRequest missing;
  missing.method = "HEAD";
  missing.url = registry->url() + "/v2/nope/blobs/sha256:" + std::string(64, '0');
  auto resp = (*client)->Send(missing);
  ASSERT_TRUE(resp.ok()) << resp.status();
  EXPECT_EQ(resp->status, 404);
}

TEST(HttpClientTest, TlsWithRightCaUsesHttp2AndWrongCaFailsClearly) {
  RegistryProcessOptions options;
  options.tls = true;
  auto registry = RegistryProcess::Start(options);
  ASSERT_NE(registry, nullptr);

  HttpClientOptions good;
  good.tls.ca_pem = registry->certificates().CaPem();
  auto client = HttpClient::Create(good);
  ASSERT_TRUE(client.ok());
  HttpRequest req;
  req.url = registry->url() + "/v2/";
  auto resp = (*client)->Send(req);
  ASSERT_TRUE(resp.ok()) << resp.status();
  EXPECT_EQ(resp->status, 200);
  EXPECT_EQ(resp->http_version, 3L);  // CURL_HTTP_VERSION_2_0

  slipway::testing::TempDir other;
  auto wrong_ca = slipway::testing::MakeTestCertificates(other.path(), "some-other-ca");
  HttpClientOptions bad;
  bad.tls.ca_file = wrong_ca.ca_cert;
  auto bad_client = HttpClient::Create(bad);
  ASSERT_TRUE(bad_client.ok());
  auto failed = (*bad_client)->Send(req);
  ASSERT_FALSE(failed.ok());
  EXPECT_EQ(failed.status().code(), absl::StatusCode::kFailedPrecondition) << failed.status();
  EXPECT_NE(failed.status().message().find("TLS certificate verification failed"),
            std::string::npos)
      << failed.status();

  HttpClientOptions skip;
  skip.tls.insecure_skip_verify = true;
  auto skip_client = HttpClient::Create(skip);
  ASSERT_TRUE(skip_client.ok());
  auto skipped = (*skip_client)->Send(req);
  ASSERT_TRUE(skipped.ok()) << skipped.status();
  EXPECT_EQ(skipped->status, 200);
}

}  // namespace
}  // namespace slipway::registry
