#include "server/registry/registry_client.h"

#include <random>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "server/registry/registry_call.h"
#include "storage/media_types.h"
#include "tests/support/registry_process.h"
#include "tests/support/subprocess.h"
#include "tests/support/temp_dir.h"

namespace slipway::registry {
namespace {

using ::slipway::testing::RegistryProcess;
using ::slipway::testing::RegistryProcessOptions;
using ::slipway::testing::ProcessResult;
using ::slipway::testing::RunProcess;
using ::slipway::testing::TempDir;

std::string RandomBytes(size_t n, uint32_t seed) {
  std::mt19937 gen(seed);
  std::string s(n, '\0');
  for (char& c : s) c = static_cast<char>(gen() & 0xff);
  return s;
}

class RegistryClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto store = FsBlobStore::Create({dir_.Sub("store")});
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = std::move(*store);
  }

  Descriptor Put(const std::string& content, absl::string_view media_type) {
    auto info = store_->PutSmall(content);
    EXPECT_TRUE(info.ok()) << info.status();
    return Descriptor{std::string(media_type), info->digest, info->size, {}};
  }

  std::unique_ptr<RegistryClient> Client(const RegistryProcess& registry,
                                         RegistryClientOptions options = {}) {
    options.registry = registry.host();
    if (registry.options().tls && options.tls.ca_pem.empty() && options.tls.ca_file.empty()) {
      options.tls.ca_pem = registry.certificates().CaPem();
    }
    auto c = RegistryClient::Create(options, clock_);
    EXPECT_TRUE(c.ok()) << c.status();
    return c.ok() ? std::move(*c) : nullptr;
  }

  // Pushes config + one layer + an OCI manifest under `tag`; returns the manifest bytes.
  std::string PushImage(RegistryClient& client, const std::string& repo, const std::string& tag,
                        Digest* manifest_digest) {
    Descriptor layer = Put(RandomBytes(50000, 7), media::kOciLayerGzip);
    nlohmann::json config = {{"architecture", "amd64"},
                             {"os", "linux"},
                             {"rootfs", {{"type", "layers"}, {"diff_ids", {layer.digest.ToString()}}}}};
    Descriptor cfg = Put(config.dump(), media::kOciConfig);
    for (const Descriptor* d : {&layer, &cfg}) {
      auto r = client.PutBlob(repo, *d, OpenFromStore(*store_, d->digest));
      EXPECT_TRUE(r.ok()) << r.status();
    }
    nlohmann::json manifest = {
        {"schemaVersion", 2},
        {"mediaType", std::string(media::kOciManifest)},
        {"config", {{"mediaType", cfg.media_type}, {"digest", cfg.digest.ToString()}, {"size", cfg.size}}},
        {"layers", {{{"mediaType", layer.media_type}, {"digest", layer.digest.ToString()}, {"size", layer.size}}}}};
    std::string bytes = manifest.dump();
    auto d = client.PutManifest(repo, tag, media::kOciManifest, bytes);
    EXPECT_TRUE(d.ok()) << d.status();
    if (d.ok()) *manifest_digest = *d;
    return bytes;
  }

  TempDir dir_;
  RealClock clock_;
  std::unique_ptr<FsBlobStore> store_;
};

TEST_F(RegistryClientTest, PingFallsBackToHttpOnLoopback) {
  auto registry = RegistryProcess::Start();
  ASSERT_NE(registry, nullptr);
  auto client = Client(*registry);
  ASSERT_NE(client, nullptr);
  EXPECT_TRUE(absl::StartsWith(client->base_url(), "https://"));
  ASSERT_TRUE(client->Ping().ok());
  EXPECT_EQ(client->base_url(), registry->url());
}

TEST_F(RegistryClientTest, MonolithicUploadHeadAndGet) {
  auto registry = RegistryProcess::Start();
  ASSERT_NE(registry, nullptr);
  auto client = Client(*registry);
  Descriptor blob = Put(RandomBytes(100000, 1), media::kOciLayerGzip);

  auto before = client->HasBlob("team/app", blob.digest, /*for_push=*/true);
  ASSERT_TRUE(before.ok()) << before.status();
  EXPECT_FALSE(before->has_value());

  auto put = client->PutBlob("team/app", blob, OpenFromStore(*store_, blob.digest));
  ASSERT_TRUE(put.ok()) << put.status();
  EXPECT_FALSE(put->chunked);
  EXPECT_EQ(put->bytes_sent, blob.size);

  auto after = client->HasBlob("team/app", blob.digest);
  ASSERT_TRUE(after.ok()) << after.status();
  ASSERT_TRUE(after->has_value());
  EXPECT_EQ(**after, blob.size);

  TempDir other;
  auto other_store = FsBlobStore::Create({other.path()});
  ASSERT_TRUE(other_store.ok());
  auto writer = (*other_store)->NewWriter({blob.digest, blob.size});
  ASSERT_TRUE(writer.ok());
  auto got = client->GetBlob("team/app", blob.digest, blob.size, **writer);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(*got, blob.size);
  ASSERT_TRUE((*writer)->Commit().ok());

  // A digest the registry does not have.
  auto missing_writer = (*other_store)->NewWriter();
  ASSERT_TRUE(missing_writer.ok());
  auto missing = client->GetBlob("team/app", Sha256Of("nope"), -1, **missing_writer);
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound) << missing.status();
}

TEST_F(RegistryClientTest, ChunkedUploadHonoursChunkSize) {
  auto registry = RegistryProcess::Start();
  ASSERT_NE(registry, nullptr);
  RegistryClientOptions options;
  options.monolithic_max_bytes = 1 << 20;
  options.chunk_bytes = 1 << 20;
  auto client = Client(*registry, options);
  Descriptor blob = Put(RandomBytes((7 << 19) + 123, 2), media::kOciLayerGzip);  // 3.5 MiB + 123
  auto put = client->PutBlob("chunks", blob, OpenFromStore(*store_, blob.digest));
  ASSERT_TRUE(put.ok()) << put.status();
  EXPECT_TRUE(put->chunked);
  EXPECT_EQ(put->bytes_sent, blob.size);
  EXPECT_EQ(put->resumes, 0);

  auto writer = store_->NewWriter({blob.digest, blob.size});
  ASSERT_TRUE(writer.ok());
  auto got = client->GetBlob("chunks", blob.digest, blob.size, **writer);
  ASSERT_TRUE(got.ok()) << got.status();
}

// A reader that fails like a dropped connection once, after `fail_after` bytes.
class FlakyReader : public BlobReader {
 public:
  FlakyReader(std::unique_ptr<BlobReader> inner, int64_t fail_after)
      : inner_(std::move(inner)), left_(fail_after) {}
  int64_t size() const override { return inner_->size(); }
  absl::StatusOr<size_t> Read(char* buf, size_t n) override {
    if (left_ <= 0) return MakeTransportError("reset", "simulated connection reset");
    auto got = inner_->Read(buf, std::min<size_t>(n, left_));
    if (got.ok()) left_ -= static_cast<int64_t>(*got);
    return got;
  }

 private:
  std::unique_ptr<BlobReader> inner_;
  int64_t left_;
};

TEST_F(RegistryClientTest, ChunkedUploadResumesAfterConnectionReset) {
  auto registry = RegistryProcess::Start();
  ASSERT_NE(registry, nullptr);
  RegistryClientOptions options;
  options.monolithic_max_bytes = 1 << 20;
  options.chunk_bytes = 2 << 20;
  options.retry.initial_backoff = absl::Milliseconds(1);
  auto client = Client(*registry, options);
  Descriptor blob = Put(RandomBytes(5 << 20, 3), media::kOciLayerGzip);
  int opens = 0;
  BlobOpener from_store = OpenFromStore(*store_, blob.digest);
  std::vector<int64_t> offsets;
  BlobOpener flaky = [&](int64_t offset) -> absl::StatusOr<std::unique_ptr<BlobReader>> {
    offsets.push_back(offset);
    auto r = from_store(offset);
    if (!r.ok()) return r.status();
    // The second chunk (the second open) breaks 300 KiB past its start, once.
    if (++opens == 2) {
      return std::unique_ptr<BlobReader>(new FlakyReader(std::move(*r), 300 * 1024));
    }
    return r;
  };
  RetryStats stats;
  auto put = client->PutBlob("resume", blob, flaky, {}, CallOptions{std::nullopt, &stats});
  ASSERT_TRUE(put.ok()) << put.status();
  EXPECT_EQ(put->resumes, 1);
  // docker-registry cancels a session whose PATCH broke, so the upload restarts from 0 and
  // the bytes before the break are sent twice.
  EXPECT_GT(put->bytes_sent, blob.size);
  EXPECT_EQ(stats.reasons, std::vector<std::string>{"reset"});
  // Chunks open at their own offset; after the lost session the blob starts again at 0.
  EXPECT_EQ(offsets, (std::vector<int64_t>{0, 2 << 20, 0, 2 << 20, 4 << 20}));
  auto head = client->HasBlob("resume", blob.digest);
  ASSERT_TRUE(head.ok() && head->has_value()) << head.status();
  EXPECT_EQ(**head, blob.size);
}

TEST_F(RegistryClientTest, CrossRepositoryMount) {
  auto registry = RegistryProcess::Start();
  ASSERT_NE(registry, nullptr);
  auto client = Client(*registry);
  Descriptor blob = Put(RandomBytes(4096, 4), media::kOciLayerGzip);
  ASSERT_TRUE(client->PutBlob("src/app", blob, OpenFromStore(*store_, blob.digest)).ok());

  auto mounted = client->MountBlob("dst/app", blob.digest, "src/app");
  ASSERT_TRUE(mounted.ok()) << mounted.status();
  EXPECT_TRUE(mounted->mounted);
  auto head = client->HasBlob("dst/app", blob.digest);
  ASSERT_TRUE(head.ok() && head->has_value());

  // Not in the source repository: the registry opens an upload instead, which PutBlob uses.
  Descriptor fresh = Put(RandomBytes(4096, 5), media::kOciLayerGzip);
  auto not_mounted = client->MountBlob("dst/app", fresh.digest, "src/app");
  ASSERT_TRUE(not_mounted.ok()) << not_mounted.status();
  EXPECT_FALSE(not_mounted->mounted);
  ASSERT_FALSE(not_mounted->upload_location.empty());
  PutBlobOptions put_options;
  put_options.upload_location = not_mounted->upload_location;
  auto put = client->PutBlob("dst/app", fresh, OpenFromStore(*store_, fresh.digest), put_options);
  ASSERT_TRUE(put.ok()) << put.status();
  EXPECT_TRUE(client->HasBlob("dst/app", fresh.digest)->has_value());
}

TEST_F(RegistryClientTest, ManifestRoundTripVerifiedBySkopeo) {
  auto registry = RegistryProcess::Start();
  ASSERT_NE(registry, nullptr);
  auto client = Client(*registry);
  Digest digest = Sha256Of("");
  std::string bytes = PushImage(*client, "team/img", "v1", &digest);
  EXPECT_EQ(digest, Sha256Of(bytes));

  auto by_tag = client->GetManifest("team/img", "v1");
  ASSERT_TRUE(by_tag.ok()) << by_tag.status();
  EXPECT_EQ(by_tag->bytes, bytes);
  EXPECT_EQ(by_tag->digest, digest);
  EXPECT_EQ(by_tag->media_type, media::kOciManifest);
  auto by_digest = client->GetManifest("team/img", digest.ToString());
  ASSERT_TRUE(by_digest.ok()) << by_digest.status();
  auto head = client->HeadManifest("team/img", "v1");
  ASSERT_TRUE(head.ok() && head->has_value()) << head.status();
  EXPECT_EQ((*head)->claimed_digest, digest);
  auto absent = client->HeadManifest("team/img", "nope");
  ASSERT_TRUE(absent.ok());
  EXPECT_FALSE(absent->has_value());
  EXPECT_EQ(client->GetManifest("team/img", "nope").status().code(), absl::StatusCode::kNotFound);
  // Pushing by a digest that is not the manifest's own is refused before any request.
  EXPECT_EQ(client->PutManifest("team/img", Sha256Of("x").ToString(), media::kOciManifest, bytes)
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);

  // Independent verifiers: skopeo sees the same bytes, and a copy re-checks every digest.
  const std::string ref = absl::StrCat("docker://", registry->host(), "/team/img:v1");
  ProcessResult raw = RunProcess({slipway::testing::FindProgram("skopeo"), "inspect", "--raw", "--tls-verify=false", ref});
  ASSERT_EQ(raw.exit_code, 0) << raw.err;
  EXPECT_EQ(Sha256Of(raw.out), digest);
  ProcessResult copy = RunProcess({slipway::testing::FindProgram("skopeo"), "copy", "--src-tls-verify=false", ref,
                                   absl::StrCat("oci:", dir_.Sub("copy"), ":v1")});
  ASSERT_EQ(copy.exit_code, 0) << copy.out << copy.err;
}

TEST_F(RegistryClientTest, ManifestBodyCapIsEnforced) {
  auto registry = RegistryProcess::Start();
  ASSERT_NE(registry, nullptr);
  auto client = Client(*registry);
  ASSERT_TRUE(client->Ping().ok());
  Descriptor big = Put(RandomBytes(kMaxManifestBytes + 1, 6), media::kOciLayerGzip);
  ASSERT_TRUE(client->PutBlob("cap", big, OpenFromStore(*store_, big.digest)).ok());
  auto http = HttpClient::Create({});
  ASSERT_TRUE(http.ok());
  HttpRequest req;
  req.url = registry->url() + "/v2/cap/blobs/" + big.digest.ToString();
  req.max_body_bytes = kMaxManifestBytes;
  auto resp = (*http)->Send(req);
  ASSERT_FALSE(resp.ok());
  EXPECT_EQ(resp.status().code(), absl::StatusCode::kResourceExhausted) << resp.status();
  EXPECT_EQ(client->PutManifest("cap", "t", media::kOciManifest, std::string(kMaxManifestBytes + 1, ' '))
                .status()
                .code(),
            absl::StatusCode::kResourceExhausted);
}

TEST_F(RegistryClientTest, BasicAuthGoodAndBadPassword) {
  RegistryProcessOptions ro;
  ro.basic_auth = true;
  auto registry = RegistryProcess::Start(ro);
  ASSERT_NE(registry, nullptr);

  RegistryClientOptions good;
  good.credentials.username = ro.username;
  good.credentials.password = ro.password;
  auto client = Client(*registry, good);
  ASSERT_TRUE(client->Ping().ok());
  Digest digest = Sha256Of("");
  PushImage(*client, "private/app", "latest", &digest);
  EXPECT_TRUE(client->HeadManifest("private/app", "latest")->has_value());

  RegistryClientOptions bad;
  bad.credentials.username = ro.username;
  bad.credentials.password = "Wrong-Canary-Password-93ab";
  auto bad_client = Client(*registry, bad);
  absl::Status ping = bad_client->Ping();
  EXPECT_EQ(ping.code(), absl::StatusCode::kUnauthenticated) << ping;
  auto head = bad_client->HasBlob("private/app", digest);
  EXPECT_EQ(head.status().code(), absl::StatusCode::kUnauthenticated);
  for (const absl::Status& s : {ping, head.status()}) {
    EXPECT_EQ(s.ToString().find("Wrong-Canary-Password-93ab"), std::string::npos) << s;
    EXPECT_EQ(s.ToString().find(ro.password), std::string::npos) << s;
  }

  auto anonymous = Client(*registry);
  absl::Status anon = anonymous->Ping();
  EXPECT_EQ(anon.code(), absl::StatusCode::kUnauthenticated) << anon;
  EXPECT_NE(anon.message().find("no credentials"), std::string::npos) << anon;
}

TEST_F(RegistryClientTest, TlsRegistryWithRightAndWrongCa) {
  RegistryProcessOptions ro;
  ro.tls = true;
  auto registry = RegistryProcess::Start(ro);
  ASSERT_NE(registry, nullptr);
  auto client = Client(*registry);
  ASSERT_TRUE(client->Ping().ok());
  EXPECT_EQ(client->base_url(), registry->url());
  Digest digest = Sha256Of("");
  PushImage(*client, "secure/app", "1", &digest);
  auto m = client->GetManifest("secure/app", "1");
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(m->digest, digest);

  TempDir other;
  auto wrong = slipway::testing::MakeTestCertificates(other.path(), "wrong-ca");
  RegistryClientOptions bad;
  bad.tls.ca_file = wrong.ca_cert;
  auto bad_client = Client(*registry, bad);
  absl::Status s = bad_client->Ping();
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition) << s;
  EXPECT_NE(s.message().find("TLS certificate verification failed"), std::string::npos) << s;
  EXPECT_TRUE(absl::StartsWith(bad_client->base_url(), "https://"));  // never downgraded
}

TEST(UploadRangeTest, NextOffset) {
  EXPECT_EQ(NextOffsetFromRange("0-1048575", 0), 1048576);
  EXPECT_EQ(NextOffsetFromRange("bytes=0-99", 0), 100);
  EXPECT_EQ(NextOffsetFromRange("0-0", 0), 0);
  EXPECT_EQ(NextOffsetFromRange("0-0", 1), 1);
  EXPECT_FALSE(NextOffsetFromRange("5-9", 0).has_value());
  EXPECT_FALSE(NextOffsetFromRange("junk", 0).has_value());
}

}  // namespace
}  // namespace slipway::registry

namespace slipway::registry {
namespace {

TEST_F(RegistryClientTest, MutualTlsWithClientCertificate) {
  RegistryProcessOptions ro;
  ro.tls = true;
  ro.require_client_cert = true;
  auto registry = RegistryProcess::Start(ro);
  ASSERT_NE(registry, nullptr);
  const auto& certs = registry->certificates();
  RegistryClientOptions with_cert;
  with_cert.tls.client_cert_pem = slipway::testing::ReadFile(certs.client_cert);
  with_cert.tls.client_key_file = certs.client_key;
  auto client = Client(*registry, with_cert);
  ASSERT_TRUE(client->Ping().ok());

  auto without = Client(*registry);
  absl::Status s = without->Ping();
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition) << s;  // not retried as a reset
  EXPECT_NE(s.message().find("client certificate"), std::string::npos) << s;
}

// One client shared by several threads: the handle pool, token cache and share locks hold up.
TEST_F(RegistryClientTest, ConcurrentUploadsShareOneClient) {
  RegistryProcessOptions ro;
  ro.basic_auth = true;
  auto registry = RegistryProcess::Start(ro);
  ASSERT_NE(registry, nullptr);
  RegistryClientOptions options;
  options.credentials.username = ro.username;
  options.credentials.password = ro.password;
  options.monolithic_max_bytes = 256 * 1024;
  options.chunk_bytes = 256 * 1024;
  auto client = Client(*registry, options);
  std::vector<Descriptor> blobs;
  for (int i = 0; i < 8; ++i) {
    blobs.push_back(Put(RandomBytes(100000 + i * 70000, 100 + i), media::kOciLayerGzip));
  }
  std::vector<absl::Status> results(blobs.size());
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (size_t i = t; i < blobs.size(); i += 4) {
        auto r = client->PutBlob(absl::StrCat("par/repo", i % 2), blobs[i],
                                 OpenFromStore(*store_, blobs[i].digest));
        results[i] = r.status();
      }
    });
  }
  for (auto& th : threads) th.join();
  for (size_t i = 0; i < blobs.size(); ++i) {
    ASSERT_TRUE(results[i].ok()) << i << ": " << results[i];
    auto head = client->HasBlob(absl::StrCat("par/repo", i % 2), blobs[i].digest);
    ASSERT_TRUE(head.ok() && head->has_value()) << i;
    EXPECT_EQ(**head, blobs[i].size);
  }
}

}  // namespace
}  // namespace slipway::registry
