// The client against scripted registries (HttpTestServer): redirects, realms on other hosts,
// oversized bodies, retries. Each listener records what reached it.

#include <atomic>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "server/registry/registry_client.h"
#include "tests/registry/scripted_server.h"
#include "tests/support/temp_dir.h"

namespace slipway::registry {
namespace {

using ::slipway::testing::TempDir;
using HttpTestServer = ScriptedServer;
using TestResponse = ScriptedResponse;

constexpr char kUser[] = "u";
constexpr char kPassword[] = "Fake-Registry-Canary-12";

class FakeClock : public Clock {
 public:
  absl::Time Now() override {
    absl::MutexLock lock(&mu_);
    return now_;
  }
  void SleepFor(absl::Duration d) override {
    absl::MutexLock lock(&mu_);
    slept_ += d;
    now_ += d;
  }
  absl::Duration slept() {
    absl::MutexLock lock(&mu_);
    return slept_;
  }

 private:
  absl::Mutex mu_;
  absl::Time now_ = absl::FromUnixSeconds(1700000000);
  absl::Duration slept_;
};

TestResponse Status(int code, std::string body = "") {
  TestResponse r;
  r.status = code;
  r.body = std::move(body);
  return r;
}

class FakeRegistryTest : public ::testing::Test {
 protected:
  std::unique_ptr<RegistryClient> Client(const HttpTestServer& registry, bool credentials = true) {
    RegistryClientOptions o;
    o.registry = absl::StrCat("127.0.0.1:", registry.port());
    o.plain_http = true;
    o.retry.initial_backoff = absl::Milliseconds(100);
    if (credentials) {
      o.credentials.username = kUser;
      o.credentials.password = kPassword;
    }
    auto c = RegistryClient::Create(o, clock_);
    EXPECT_TRUE(c.ok()) << c.status();
    return std::move(*c);
  }
  FakeClock clock_;
};

TEST_F(FakeRegistryTest, CrossHostRedirectDropsCredentials) {
  const std::string content = "blob content served by the storage backend";
  const Digest digest = Sha256Of(content);
  HttpTestServer storage([&](const RecordedRequest&) { return Status(200, content); });
  HttpTestServer registry([&](const RecordedRequest& req) {
    if (req.Header("Authorization") != BasicAuthorization(kUser, kPassword)) {
      TestResponse r = Status(401);
      r.headers.emplace_back("WWW-Authenticate", "Basic realm=\"fake\"");
      return r;
    }
    TestResponse r = Status(307);
    // "localhost" is another host than "127.0.0.1" for the credential rule.
    r.headers.emplace_back("Location", absl::StrCat("http://localhost:", storage.port(),
                                                    "/blob?X-Amz-Signature=s3cr3t"));
    return r;
  });
  auto client = Client(registry);
  TempDir dir;
  auto store = FsBlobStore::Create({dir.path()});
  ASSERT_TRUE(store.ok());
  auto writer = (*store)->NewWriter();
  ASSERT_TRUE(writer.ok());
  auto got = client->GetBlob("r", digest, static_cast<int64_t>(content.size()), **writer);
  ASSERT_TRUE(got.ok()) << got.status();
  auto seen = storage.requests();
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].Header("Authorization"), "");
  EXPECT_EQ(seen[0].Query("X-Amz-Signature"), std::vector<std::string>{"s3cr3t"});
}

TEST_F(FakeRegistryTest, BlobWithWrongBytesIsDataLoss) {
  HttpTestServer registry([&](const RecordedRequest&) { return Status(200, "tampered"); });
  auto client = Client(registry, false);
  TempDir dir;
  auto store = FsBlobStore::Create({dir.path()});
  ASSERT_TRUE(store.ok());
  auto writer = (*store)->NewWriter();
  ASSERT_TRUE(writer.ok());
  auto got = client->GetBlob("r", Sha256Of("original"), -1, **writer);
  EXPECT_EQ(got.status().code(), absl::StatusCode::kDataLoss) << got.status();
}

TEST_F(FakeRegistryTest, TokenRealmOnAnotherHostGetsNoCredentials) {
  HttpTestServer realm([&](const RecordedRequest&) {
    return Status(200, R"({"token":"anon-token","expires_in":120})");
  });
  HttpTestServer registry([&](const RecordedRequest& req) {
    if (req.Header("Authorization") == "Bearer anon-token") return Status(200, "{}");
    TestResponse r = Status(401);
    r.headers.emplace_back("WWW-Authenticate",
                           absl::StrCat("Bearer realm=\"http://localhost:", realm.port(),
                                        "/token\",service=\"fake\""));
    return r;
  });
  auto client = Client(registry);
  ASSERT_TRUE(client->Ping().ok());
  auto seen = realm.requests();
  ASSERT_FALSE(seen.empty());
  for (const RecordedRequest& r : seen) {
    EXPECT_EQ(r.Header("Authorization"), "") << r.target;
    EXPECT_EQ(r.target.find(kUser + std::string("&")), std::string::npos);
    EXPECT_TRUE(r.Query("account").empty());
  }
}

TEST_F(FakeRegistryTest, TokenRealmOnTheRegistryHostGetsCredentials) {
  HttpTestServer realm([&](const RecordedRequest& req) {
    if (req.Header("Authorization") != BasicAuthorization(kUser, kPassword)) return Status(401);
    return Status(200, R"({"access_token":"user-token"})");
  });
  HttpTestServer registry([&](const RecordedRequest& req) {
    if (req.Header("Authorization") == "Bearer user-token") return Status(200, "{}");
    TestResponse r = Status(401);
    r.headers.emplace_back("WWW-Authenticate",
                           absl::StrCat("Bearer realm=\"http://127.0.0.1:", realm.port(),
                                        "/token\",service=\"fake\""));
    return r;
  });
  auto client = Client(registry);
  ASSERT_TRUE(client->Ping().ok());
  ASSERT_TRUE(client->Ping().ok());
  // expires_in absent: 60 s. The second ping used the cache; 61 s later a new token is needed.
  EXPECT_EQ(client->authenticator().token_requests(), 1);
  clock_.SleepFor(absl::Seconds(61));
  ASSERT_TRUE(client->Ping().ok());
  EXPECT_EQ(client->authenticator().token_requests(), 2);
}

TEST_F(FakeRegistryTest, OversizedErrorBodyIsCutAndSecretsStayOut) {
  std::string body(100 * 1024, 'x');
  body += kPassword;  // past the 64 KiB cap: never read
  HttpTestServer registry([&](const RecordedRequest&) { return Status(400, body); });
  auto client = Client(registry);
  absl::Status s = client->Ping();
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition) << s;
  EXPECT_NE(s.message().find("over 64 KiB"), std::string::npos) << s;
  EXPECT_EQ(s.ToString().find(kPassword), std::string::npos);
  EXPECT_LT(s.message().size(), 1000u);
}

TEST_F(FakeRegistryTest, OversizedManifestIsRefused) {
  std::string manifest(kMaxManifestBytes + 10, ' ');
  HttpTestServer registry([&](const RecordedRequest&) { return Status(200, manifest); });
  auto client = Client(registry, false);
  auto m = client->GetManifest("r", "latest");
  EXPECT_EQ(m.status().code(), absl::StatusCode::kResourceExhausted) << m.status();
}

TEST_F(FakeRegistryTest, ManifestByDigestIsVerifiedNotTrusted) {
  const std::string real = R"({"schemaVersion":2})";
  HttpTestServer registry([&](const RecordedRequest&) {
    TestResponse r = Status(200, R"({"schemaVersion":2,"evil":true})");
    r.headers.emplace_back("Docker-Content-Digest", Sha256Of(real).ToString());
    r.headers.emplace_back("Content-Type", "application/vnd.oci.image.manifest.v1+json");
    return r;
  });
  auto client = Client(registry, false);
  auto m = client->GetManifest("r", Sha256Of(real).ToString());
  EXPECT_EQ(m.status().code(), absl::StatusCode::kDataLoss) << m.status();
}

TEST_F(FakeRegistryTest, RetryAfterAnd503BurstThenSuccess) {
  std::atomic<int> calls{0};
  HttpTestServer registry([&](const RecordedRequest&) {
    int n = calls++;
    if (n == 0) {
      TestResponse r = Status(429);
      r.headers.emplace_back("Retry-After", "3");
      return r;
    }
    if (n <= 3) return Status(503);
    TestResponse ok = Status(200, "{}");
    ok.headers.emplace_back("RateLimit-Limit", "100;w=21600");
    ok.headers.emplace_back("RateLimit-Remaining", "42;w=21600");
    return ok;
  });
  auto client = Client(registry, false);
  RetryStats stats;
  ASSERT_TRUE(client->Ping(CallOptions{std::nullopt, &stats}).ok());
  EXPECT_EQ(stats.reasons, (std::vector<std::string>{"429", "5xx", "5xx", "5xx"}));
  EXPECT_GE(clock_.slept(), absl::Seconds(3));
  auto rl = client->last_rate_limit();
  ASSERT_TRUE(rl.has_value());
  EXPECT_EQ(rl->remaining, 42);
}

TEST_F(FakeRegistryTest, NotFoundIsNotRetriedAndDeadlineIsHonoured) {
  std::atomic<int> calls{0};
  HttpTestServer missing([&](const RecordedRequest&) {
    ++calls;
    return Status(404);
  });
  auto client = Client(missing, false);
  EXPECT_EQ(client->GetManifest("r", "t").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(calls.load(), 1);

  HttpTestServer down([&](const RecordedRequest&) {
    TestResponse r = Status(503);
    r.headers.emplace_back("Retry-After", "30");
    return r;
  });
  auto client2 = Client(down, false);
  absl::Status s = client2->Ping(CallOptions{clock_.Now() + absl::Seconds(45), nullptr});
  EXPECT_EQ(s.code(), absl::StatusCode::kDeadlineExceeded) << s;
}

}  // namespace
}  // namespace slipway::registry

namespace slipway::registry {
namespace {

// A scripted upload endpoint: answers 416 to the first PATCH and reports `partial` bytes
// received, so the client must continue from the registry's offset (docker-registry itself
// cancels such sessions, so this path needs a script).
TEST_F(FakeRegistryTest, ChunkedUploadRecoversFrom416AtTheRegistryOffset) {
  const std::string content = std::string(300000, 'a') + std::string(200000, 'b');
  const Digest digest = Sha256Of(content);
  std::atomic<int> patches{0};
  std::string received;  // what the registry "has"
  absl::Mutex mu;
  HttpTestServer registry([&](const RecordedRequest& req) {
    absl::MutexLock lock(&mu);
    if (req.method == "POST") {
      TestResponse r = Status(202);
      r.headers.emplace_back("Location", "/v2/r/blobs/uploads/u1?_state=opaque");
      r.headers.emplace_back("OCI-Chunk-Min-Length", "200000");
      return r;
    }
    if (req.method == "PATCH") {
      if (patches++ == 0) {
        received = req.body.substr(0, 123456);  // it kept part of the body, then said 416
        return Status(416);
      }
      received += req.body;
      TestResponse r = Status(202);
      r.headers.emplace_back("Location", "/v2/r/blobs/uploads/u1?_state=opaque2");
      r.headers.emplace_back("Range", absl::StrCat("0-", received.size() - 1));
      return r;
    }
    if (req.method == "GET") {
      TestResponse r = Status(204);
      r.headers.emplace_back("Range", absl::StrCat("0-", received.size() - 1));
      return r;
    }
    if (req.method == "PUT") {
      return Status(req.Query("digest") == std::vector<std::string>{digest.ToString()} &&
                            Sha256Of(received) == digest
                        ? 201
                        : 400);
    }
    return Status(405);
  });
  RegistryClientOptions o;
  o.registry = absl::StrCat("127.0.0.1:", registry.port());
  o.plain_http = true;
  o.monolithic_max_bytes = 1000;
  o.chunk_bytes = 100000;  // raised to the registry's 200000 minimum
  auto client = RegistryClient::Create(o, clock_);
  ASSERT_TRUE(client.ok());
  TempDir dir;
  auto store = FsBlobStore::Create({dir.path()});
  ASSERT_TRUE(store.ok());
  ASSERT_TRUE((*store)->PutSmall(content).ok());
  Descriptor blob{"application/octet-stream", digest, static_cast<int64_t>(content.size()), {}};
  auto put = (*client)->PutBlob("r", blob, OpenFromStore(**store, digest));
  ASSERT_TRUE(put.ok()) << put.status();
  EXPECT_EQ(put->resumes, 1);

  std::vector<std::string> ranges;
  for (const RecordedRequest& r : registry.requests()) {
    if (r.method == "PATCH") ranges.push_back(r.Header("Content-Range"));
  }
  EXPECT_EQ(ranges, (std::vector<std::string>{"0-199999", "123456-323455", "323456-499999"}));
}

TEST_F(FakeRegistryTest, IdentityTokenUsesTheRefreshTokenGrant) {
  HttpTestServer realm([&](const RecordedRequest& req) {
    if (req.method == "POST" && req.body.find("grant_type=refresh_token") != std::string::npos &&
        req.body.find("refresh_token=idtok-1") != std::string::npos) {
      return Status(200, R"({"access_token":"from-refresh","expires_in":300})");
    }
    return Status(401);
  });
  HttpTestServer front([&](const RecordedRequest& req) {
    if (req.Header("Authorization") == "Bearer from-refresh") return Status(200, "{}");
    TestResponse r = Status(401);
    r.headers.emplace_back("WWW-Authenticate", absl::StrCat("Bearer realm=\"http://127.0.0.1:",
                                                            realm.port(), "/token\",service=\"s\""));
    return r;
  });
  RegistryClientOptions o;
  o.registry = absl::StrCat("127.0.0.1:", front.port());
  o.plain_http = true;
  o.credentials.identity_token = "idtok-1";
  auto client = RegistryClient::Create(o, clock_);
  ASSERT_TRUE(client.ok());
  ASSERT_TRUE((*client)->Ping().ok());
  auto seen = realm.requests();
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].method, "POST");
  EXPECT_EQ(seen[0].Header("Content-Type"), "application/x-www-form-urlencoded");
}

}  // namespace
}  // namespace slipway::registry

namespace slipway::registry {
namespace {

TEST_F(FakeRegistryTest, BadNamesAreRefusedBeforeAnyRequest) {
  HttpTestServer registry([&](const RecordedRequest&) { return Status(200, "{}"); });
  auto client = Client(registry, false);
  EXPECT_EQ(client->HasBlob("../admin", Sha256Of("x")).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(client->GetManifest("r", "t?x=1").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(client->MountBlob("r", Sha256Of("x"), "a/../b").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(registry.requests().empty());
}

}  // namespace
}  // namespace slipway::registry
