#include "server/pull/puller.h"

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "storage/image_name.h"
#include "storage/media_types.h"
#include "tests/support/fault_proxy.h"
#include "tests/support/registry_process.h"
#include "tests/support/run_command.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_image.h"

namespace slipway::pull {
namespace {

using ::slipway::testing::FaultProxy;
using ::slipway::testing::FaultRule;
using ::slipway::testing::ReadFile;
using ::slipway::testing::RegistryProcess;
using ::slipway::testing::RegistryProcessOptions;
using ::slipway::testing::RunCommand;
using ::slipway::testing::ShellQuote;
using ::slipway::testing::TempDir;
using ::slipway::testing::TestImage;
using ::slipway::testing::WriteFile;

std::string LayoutBlob(const std::string& layout, const std::string& bytes) {
  Digest d = Sha256Of(bytes);
  WriteFile(layout + "/blobs/sha256/" + d.hex(), bytes);
  return d.ToString();
}

// The test image plus an arm64/v8 variant (same layers, its own config and manifest) under an
// OCI index tagged `tag` in the layout's index.json.
struct MultiArchLayout {
  TestImage amd64;
  Digest arm64_manifest = Sha256Of("");
  Digest index_digest = Sha256Of("");
};

MultiArchLayout BuildMultiArchLayout(const std::string& dir, const std::string& tag) {
  MultiArchLayout out;
  out.amd64 = ::slipway::testing::BuildTestImage(dir, tag, 3);
  std::string amd64_manifest =
      ReadFile(dir + "/blobs/sha256/" + out.amd64.manifest_digest.hex());
  nlohmann::json manifest = nlohmann::json::parse(amd64_manifest);
  nlohmann::json config =
      nlohmann::json::parse(ReadFile(dir + "/blobs/sha256/" + out.amd64.config_digest.hex()));
  config["architecture"] = "arm64";
  config["variant"] = "v8";
  std::string config_bytes = config.dump();
  manifest["config"]["digest"] = LayoutBlob(dir, config_bytes);
  manifest["config"]["size"] = config_bytes.size();
  std::string arm_bytes = manifest.dump();
  out.arm64_manifest = Sha256Of(arm_bytes);
  LayoutBlob(dir, arm_bytes);
  auto entry = [](const std::string& bytes, nlohmann::json platform) {
    return nlohmann::json{{"mediaType", std::string(media::kOciManifest)},
                          {"digest", Sha256Of(bytes).ToString()},
                          {"size", bytes.size()},
                          {"platform", platform}};
  };
  nlohmann::json index = {
      {"schemaVersion", 2},
      {"mediaType", std::string(media::kOciIndex)},
      {"manifests",
       {entry(amd64_manifest, {{"os", "linux"}, {"architecture", "amd64"}}),
        entry(arm_bytes, {{"os", "linux"}, {"architecture", "arm64"}, {"variant", "v8"}})}}};
  std::string index_bytes = index.dump();
  out.index_digest = Sha256Of(index_bytes);
  nlohmann::json layout_index = {
      {"schemaVersion", 2},
      {"manifests",
       {{{"mediaType", std::string(media::kOciIndex)},
         {"digest", LayoutBlob(dir, index_bytes)},
         {"size", index_bytes.size()},
         {"annotations", {{"org.opencontainers.image.ref.name", tag}}}}}}};
  WriteFile(dir + "/index.json", layout_index.dump());
  return out;
}

class PullerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto store = FsBlobStore::Create({dir_.Sub("store")});
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = std::move(*store);
    auto index = OpenSqliteImageIndex({dir_.Sub("index.db"), {}});
    ASSERT_TRUE(index.ok()) << index.status();
    index_ = std::move(*index);
  }

  std::unique_ptr<registry::RegistryClient> Client(const std::string& host,
                                                   registry::Credentials creds = {}) {
    registry::RegistryClientOptions options;
    options.registry = host;
    options.plain_http = true;
    options.credentials = std::move(creds);
    options.retry.max_attempts = 2;
    options.retry.initial_backoff = absl::Milliseconds(10);
    auto c = registry::RegistryClient::Create(options, clock_);
    EXPECT_TRUE(c.ok()) << c.status();
    return c.ok() ? std::move(*c) : nullptr;
  }

  // skopeo copy of an OCI layout to host/repo:tag (plain http).
  void SkopeoPush(const std::string& src, const std::string& dest, bool all = false,
                  const std::string& creds = "", const std::string& extra = "") {
    std::string cmd = absl::StrCat(
        "skopeo copy --quiet --dest-tls-verify=false ", all ? "--all " : "", extra, " ",
        creds.empty() ? "" : "--dest-creds " + ShellQuote(creds) + " ", ShellQuote(src), " ",
        ShellQuote("docker://" + dest));
    auto r = RunCommand(cmd);
    ASSERT_EQ(r.exit_code, 0) << cmd << "\n" << r.output;
  }

  // The manifest bytes skopeo (not our client) sees at `dest`.
  std::string SkopeoRaw(const std::string& dest, const std::string& creds = "") {
    std::string cmd = absl::StrCat("skopeo inspect --raw --tls-verify=false ",
                                   creds.empty() ? "" : "--creds " + ShellQuote(creds) + " ",
                                   ShellQuote("docker://" + dest), " 2>/dev/null");
    auto r = RunCommand(cmd);
    EXPECT_EQ(r.exit_code, 0) << cmd << "\n" << r.output;
    return r.output;
  }

  registry::ImageReference Ref(const std::string& text) {
    auto ref = registry::ParseImageReference(text);
    EXPECT_TRUE(ref.ok()) << ref.status();
    return ref.ok() ? *ref : registry::ImageReference{};
  }

  int StoreBlobCount() {
    int n = 0;
    EXPECT_TRUE(store_->List([&](const BlobStore::ListedBlob&) { ++n; }).ok());
    return n;
  }

  void ExpectBlobVerifies(const Digest& d) {
    auto reader = store_->NewReader(d, /*verify=*/true);
    ASSERT_TRUE(reader.ok()) << d.ToString() << ": " << reader.status();
    std::string buf(1 << 16, '\0');
    for (int i = 0; i < 100000; ++i) {
      auto n = (*reader)->Read(buf.data(), buf.size());
      ASSERT_TRUE(n.ok()) << d.ToString() << ": " << n.status();
      if (*n == 0) return;
    }
    FAIL() << "blob " << d.ToString() << " never ended";
  }

  TempDir dir_;
  registry::RealClock clock_;
  std::unique_ptr<FsBlobStore> store_;
  std::unique_ptr<ImageIndex> index_;
};

TEST_F(PullerTest, PullsPushedImageVerifiedAndSecondPullFetchesNothing) {
  auto registry = RegistryProcess::Start();
  ASSERT_NE(registry, nullptr);
  TempDir layout;
  TestImage image = ::slipway::testing::BuildTestImage(layout.Sub("oci"), "v1", 1);
  const std::string dest = registry->host() + "/team/app:v1";
  SkopeoPush("oci:" + image.layout_dir + ":v1", dest);
  std::string raw = SkopeoRaw(dest);
  ASSERT_FALSE(raw.empty());

  auto client = Client(registry->host());
  ASSERT_NE(client, nullptr);
  Puller puller(*client, *store_, *index_);
  PullStats stats;
  PullOptions options;
  options.tag = "pulled/app:v1";
  options.stats = &stats;
  auto record = puller.Pull(Ref(dest), options);
  ASSERT_TRUE(record.ok()) << record.status();

  EXPECT_EQ(record->manifest.digest, Sha256Of(raw));
  EXPECT_EQ(record->manifest.digest, image.manifest_digest);
  EXPECT_EQ(record->manifest.media_type, media::kOciManifest);
  ASSERT_TRUE(record->config.has_value());
  EXPECT_EQ(*record->config, image.config_digest);
  ASSERT_EQ(record->layers.size(), image.layer_digests.size());
  for (size_t i = 0; i < record->layers.size(); ++i) {
    EXPECT_EQ(record->layers[i].digest, image.layer_digests[i]);
  }
  EXPECT_EQ(record->os, "linux");
  EXPECT_EQ(record->architecture, "amd64");
  EXPECT_EQ(stats.manifests_fetched, 1);
  EXPECT_EQ(stats.blobs_fetched, 4);  // config + 3 layers
  EXPECT_EQ(stats.blobs_present, 0);
  EXPECT_FALSE(stats.resolved_from_index.has_value());

  // Stored exactly as served; every blob re-hashes to its digest.
  auto stored = store_->ReadSmall(record->manifest.digest, kMaxManifestBytes);
  ASSERT_TRUE(stored.ok()) << stored.status();
  EXPECT_EQ(*stored, raw);
  ExpectBlobVerifies(record->manifest.digest);
  ExpectBlobVerifies(*record->config);
  int64_t total = record->manifest.size;
  total += *store_->Stat(*record->config);
  for (const Descriptor& l : record->layers) {
    ExpectBlobVerifies(l.digest);
    total += l.size;
  }
  EXPECT_EQ(record->total_size, total);

  auto tag = NormalizeTag("pulled/app:v1");
  ASSERT_TRUE(tag.ok());
  auto resolved = index_->Resolve(*tag);
  ASSERT_TRUE(resolved.ok()) << resolved.status();
  EXPECT_EQ(resolved->manifest.digest, record->manifest.digest);

  // Again, by digest this time: nothing downloaded but the manifest.
  const int blobs_before = StoreBlobCount();
  PullStats again;
  PullOptions options2;
  options2.stats = &again;
  auto second =
      puller.Pull(Ref(registry->host() + "/team/app@" + image.manifest_digest.ToString()),
                  options2);
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_EQ(second->manifest.digest, record->manifest.digest);
  EXPECT_EQ(again.blobs_fetched, 0);
  EXPECT_EQ(again.bytes_fetched, 0);
  EXPECT_EQ(again.blobs_present, 4);
  EXPECT_EQ(StoreBlobCount(), blobs_before);
}

TEST_F(PullerTest, MultiArchIndexChoosesRequestedPlatform) {
  auto registry = RegistryProcess::Start();
  ASSERT_NE(registry, nullptr);
  TempDir layout;
  MultiArchLayout multi = BuildMultiArchLayout(layout.Sub("oci"), "multi");
  const std::string dest = registry->host() + "/team/multi:1";
  SkopeoPush("oci:" + layout.Sub("oci") + ":multi", dest, /*all=*/true);
  ASSERT_EQ(Sha256Of(SkopeoRaw(dest)), multi.index_digest);

  auto client = Client(registry->host());
  ASSERT_NE(client, nullptr);
  Puller puller(*client, *store_, *index_);

  PullStats stats;
  PullOptions arm;
  arm.platform = {"linux", "arm64", ""};
  arm.stats = &stats;
  auto arm_record = puller.Pull(Ref(dest), arm);
  ASSERT_TRUE(arm_record.ok()) << arm_record.status();
  EXPECT_EQ(arm_record->manifest.digest, multi.arm64_manifest);
  EXPECT_EQ(arm_record->architecture, "arm64");
  EXPECT_EQ(arm_record->variant, "v8");
  EXPECT_EQ(stats.manifests_fetched, 2);
  ASSERT_TRUE(stats.resolved_from_index.has_value());
  EXPECT_EQ(*stats.resolved_from_index, multi.index_digest);
  EXPECT_EQ(stats.blobs_fetched, 4);

  // Default platform linux/amd64: the shared layers are already here, only its config is new.
  PullStats amd_stats;
  PullOptions amd;
  amd.stats = &amd_stats;
  auto amd_record = puller.Pull(Ref(dest), amd);
  ASSERT_TRUE(amd_record.ok()) << amd_record.status();
  EXPECT_EQ(amd_record->manifest.digest, multi.amd64.manifest_digest);
  EXPECT_EQ(amd_record->architecture, "amd64");
  EXPECT_EQ(amd_stats.blobs_fetched, 1);
  EXPECT_EQ(amd_stats.blobs_present, 3);

  const int blobs_before = StoreBlobCount();
  PullOptions s390x;
  s390x.platform = {"linux", "s390x", ""};
  auto missing = puller.Pull(Ref(dest), s390x);
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound) << missing.status();
  EXPECT_TRUE(absl::StrContains(missing.status().message(), "linux/s390x"));
  EXPECT_TRUE(absl::StrContains(missing.status().message(), "linux/amd64"));
  EXPECT_TRUE(absl::StrContains(missing.status().message(), "linux/arm64/v8"));
  EXPECT_EQ(StoreBlobCount(), blobs_before);
}

TEST_F(PullerTest, MissingTagOrRepositoryIsNotFound) {
  auto registry = RegistryProcess::Start();
  ASSERT_NE(registry, nullptr);
  TempDir layout;
  TestImage image = ::slipway::testing::BuildTestImage(layout.Sub("oci"), "v1", 2);
  SkopeoPush("oci:" + image.layout_dir + ":v1", registry->host() + "/team/app:v1");
  auto client = Client(registry->host());
  ASSERT_NE(client, nullptr);
  Puller puller(*client, *store_, *index_);
  for (const std::string& ref : {registry->host() + "/team/app:nope",
                                 registry->host() + "/team/absent:v1"}) {
    auto r = puller.Pull(Ref(ref));
    EXPECT_EQ(r.status().code(), absl::StatusCode::kNotFound) << ref << ": " << r.status();
  }
  EXPECT_EQ(StoreBlobCount(), 0);
  auto images = index_->List();
  ASSERT_TRUE(images.ok());
  EXPECT_TRUE(images->empty());
}

TEST_F(PullerTest, BasicAuthRightAndWrongCredentials) {
  RegistryProcessOptions ro;
  ro.basic_auth = true;
  auto registry = RegistryProcess::Start(ro);
  ASSERT_NE(registry, nullptr);
  TempDir layout;
  TestImage image = ::slipway::testing::BuildTestImage(layout.Sub("oci"), "v1", 4);
  const std::string dest = registry->host() + "/secure/app:v1";
  SkopeoPush("oci:" + image.layout_dir + ":v1", dest, false, ro.username + ":" + ro.password);

  {
    auto client = Client(registry->host(), {ro.username, "wrong-password", "", ""});
    ASSERT_NE(client, nullptr);
    Puller puller(*client, *store_, *index_);
    auto r = puller.Pull(Ref(dest));
    EXPECT_EQ(r.status().code(), absl::StatusCode::kUnauthenticated) << r.status();
    EXPECT_FALSE(absl::StrContains(r.status().message(), "wrong-password"));
  }
  {
    auto client = Client(registry->host());  // no credentials at all
    ASSERT_NE(client, nullptr);
    Puller puller(*client, *store_, *index_);
    auto r = puller.Pull(Ref(dest));
    EXPECT_EQ(r.status().code(), absl::StatusCode::kUnauthenticated) << r.status();
  }
  EXPECT_EQ(StoreBlobCount(), 0);

  auto client = Client(registry->host(), {ro.username, ro.password, "", ""});
  ASSERT_NE(client, nullptr);
  Puller puller(*client, *store_, *index_);
  auto r = puller.Pull(Ref(dest));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->manifest.digest, image.manifest_digest);
}

// Serves wrong bytes of the right length for one layer: the pull fails with DATA_LOSS and
// nothing at all is published or recorded, not even the blobs that did verify.
TEST_F(PullerTest, CorruptedBlobIsDataLossAndNothingIsRecorded) {
  auto registry = RegistryProcess::Start();
  ASSERT_NE(registry, nullptr);
  TempDir layout;
  TestImage image = ::slipway::testing::BuildTestImage(layout.Sub("oci"), "v1", 5);
  SkopeoPush("oci:" + image.layout_dir + ":v1", registry->host() + "/team/app:v1");
  auto proxy = FaultProxy::Start(registry->port());
  ASSERT_TRUE(proxy.ok()) << proxy.status();
  const Digest& victim = image.layer_digests[1];
  std::string real = ReadFile(image.layout_dir + "/blobs/sha256/" + victim.hex());
  std::string wrong = real;
  wrong[wrong.size() / 2] ^= 0x5a;
  ASSERT_TRUE((*proxy)
                  ->AddRule(FaultRule()
                                .Method("GET")
                                .PathContains("/blobs/" + victim.ToString())
                                .Always()
                                .Respond(200, {{"Content-Type", "application/octet-stream"}},
                                         wrong))
                  .ok());

  const int blobs_before = StoreBlobCount();
  auto client = Client((*proxy)->HostPort());
  ASSERT_NE(client, nullptr);
  Puller puller(*client, *store_, *index_);
  PullOptions options;
  options.tag = "corrupt:v1";
  auto r = puller.Pull(Ref((*proxy)->HostPort() + "/team/app:v1"), options);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kDataLoss) << r.status();
  EXPECT_TRUE(absl::StrContains(r.status().message(), victim.ToString())) << r.status();
  EXPECT_GE((*proxy)->TimesFired(0), 1);
  EXPECT_EQ(StoreBlobCount(), blobs_before);
  EXPECT_FALSE(store_->Contains(victim));
  auto images = index_->List();
  ASSERT_TRUE(images.ok());
  EXPECT_TRUE(images->empty());
  EXPECT_FALSE(index_->Resolve(*NormalizeTag("corrupt:v1")).ok());
}

TEST_F(PullerTest, MalformedManifestIsInvalidArgument) {
  auto registry = RegistryProcess::Start();
  ASSERT_NE(registry, nullptr);
  auto proxy = FaultProxy::Start(registry->port());
  ASSERT_TRUE(proxy.ok()) << proxy.status();
  ASSERT_TRUE((*proxy)
                  ->AddRule(FaultRule()
                                .Method("GET")
                                .PathContains("/manifests/")
                                .Always()
                                .Respond(200, {{"Content-Type", std::string(media::kOciManifest)}},
                                         R"({"schemaVersion":2,"config":{"digest":"md5:x"}})"))
                  .ok());
  auto client = Client((*proxy)->HostPort());
  ASSERT_NE(client, nullptr);
  Puller puller(*client, *store_, *index_);
  auto r = puller.Pull(Ref((*proxy)->HostPort() + "/team/app:v1"));
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << r.status();
  EXPECT_EQ(StoreBlobCount(), 0);
}

TEST_F(PullerTest, CancelledBeforeBlobsRecordsNothing) {
  auto registry = RegistryProcess::Start();
  ASSERT_NE(registry, nullptr);
  TempDir layout;
  TestImage image = ::slipway::testing::BuildTestImage(layout.Sub("oci"), "v1", 6);
  SkopeoPush("oci:" + image.layout_dir + ":v1", registry->host() + "/team/app:v1");
  auto client = Client(registry->host());
  ASSERT_NE(client, nullptr);
  Puller puller(*client, *store_, *index_);
  std::atomic<int> checks{0};
  PullOptions options;
  options.cancelled = [&] { return ++checks > 2; };  // after the manifest, before the blobs
  PullStats stats;
  options.stats = &stats;
  auto r = puller.Pull(Ref(registry->host() + "/team/app:v1"), options);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kCancelled) << r.status();
  EXPECT_LE(stats.blobs_fetched, 1);
  EXPECT_EQ(StoreBlobCount(), 0);
  EXPECT_TRUE(index_->List()->empty());
}

// The registry answers the chosen platform's manifest with another manifest's bytes: the
// digest the index promised does not match, so nothing is fetched further or recorded.
TEST_F(PullerTest, ChildManifestNotMatchingIndexEntryIsDataLoss) {
  auto registry = RegistryProcess::Start();
  ASSERT_NE(registry, nullptr);
  TempDir layout;
  MultiArchLayout multi = BuildMultiArchLayout(layout.Sub("oci"), "multi");
  SkopeoPush("oci:" + layout.Sub("oci") + ":multi", registry->host() + "/team/multi:1", true);
  auto proxy = FaultProxy::Start(registry->port());
  ASSERT_TRUE(proxy.ok()) << proxy.status();
  std::string amd64_bytes =
      ReadFile(layout.Sub("oci") + "/blobs/sha256/" + multi.amd64.manifest_digest.hex());
  ASSERT_TRUE((*proxy)
                  ->AddRule(FaultRule()
                                .Method("GET")
                                .PathContains("/manifests/" + multi.arm64_manifest.ToString())
                                .Always()
                                .Respond(200, {{"Content-Type", std::string(media::kOciManifest)}},
                                         amd64_bytes))
                  .ok());
  auto client = Client((*proxy)->HostPort());
  ASSERT_NE(client, nullptr);
  Puller puller(*client, *store_, *index_);
  PullOptions arm;
  arm.platform = {"linux", "arm64", "v8"};
  PullStats stats;
  arm.stats = &stats;
  auto r = puller.Pull(Ref((*proxy)->HostPort() + "/team/multi:1"), arm);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kDataLoss) << r.status();
  EXPECT_EQ((*proxy)->TimesFired(0), 1);
  EXPECT_EQ(stats.blobs_fetched, 0);
  EXPECT_EQ(StoreBlobCount(), 0);
  EXPECT_TRUE(index_->List()->empty());
}

TEST_F(PullerTest, PastDeadlineFailsWithoutTraffic) {
  auto registry = RegistryProcess::Start();
  ASSERT_NE(registry, nullptr);
  auto proxy = FaultProxy::Start(registry->port());
  ASSERT_TRUE(proxy.ok()) << proxy.status();
  auto client = Client((*proxy)->HostPort());
  ASSERT_NE(client, nullptr);
  Puller puller(*client, *store_, *index_);
  PullOptions options;
  options.call.deadline = absl::Now() - absl::Seconds(1);
  auto r = puller.Pull(Ref((*proxy)->HostPort() + "/team/app:v1"), options);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kDeadlineExceeded) << r.status();
  EXPECT_TRUE((*proxy)->Requests().empty());
}

TEST_F(PullerTest, BadTagFailsBeforeAnyRequest) {
  auto registry = RegistryProcess::Start();
  ASSERT_NE(registry, nullptr);
  auto proxy = FaultProxy::Start(registry->port());
  ASSERT_TRUE(proxy.ok()) << proxy.status();
  auto client = Client((*proxy)->HostPort());
  ASSERT_NE(client, nullptr);
  Puller puller(*client, *store_, *index_);
  PullOptions options;
  options.tag = "Upper/Case:v1";
  auto r = puller.Pull(Ref((*proxy)->HostPort() + "/team/app:v1"), options);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << r.status();
  EXPECT_TRUE((*proxy)->Requests().empty());
}

// skopeo converts the image to Docker v2 schema 2 on the way: the manifest is stored as the
// registry serves it (its Docker media type and digest, not the OCI original's).
TEST_F(PullerTest, DockerSchema2ManifestStoredAsServed) {
  auto registry = RegistryProcess::Start();
  ASSERT_NE(registry, nullptr);
  TempDir layout;
  TestImage image = ::slipway::testing::BuildTestImage(layout.Sub("oci"), "v1", 7);
  const std::string dest = registry->host() + "/team/docker:v1";
  SkopeoPush("oci:" + image.layout_dir + ":v1", dest, false, "", "--format v2s2");
  std::string raw = SkopeoRaw(dest);
  ASSERT_NE(Sha256Of(raw), image.manifest_digest);

  auto client = Client(registry->host());
  ASSERT_NE(client, nullptr);
  Puller puller(*client, *store_, *index_);
  auto r = puller.Pull(Ref(dest));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->manifest.digest, Sha256Of(raw));
  EXPECT_EQ(r->manifest.media_type, media::kDockerManifest);
  EXPECT_EQ(*store_->ReadSmall(r->manifest.digest, kMaxManifestBytes), raw);
  ASSERT_EQ(r->layers.size(), 3u);
  for (const Descriptor& l : r->layers) {
    EXPECT_EQ(l.media_type, media::kDockerLayerGzip);
    ExpectBlobVerifies(l.digest);
  }
  ExpectBlobVerifies(*r->config);
}

TEST(PlatformTest, Matching) {
  EXPECT_TRUE(PlatformMatches({"linux", "arm64", ""}, {"linux", "arm64", "v8"}));
  EXPECT_TRUE(PlatformMatches({"linux", "arm64", "v8"}, {"linux", "arm64", ""}));
  EXPECT_FALSE(PlatformMatches({"linux", "arm", "v6"}, {"linux", "arm", "v7"}));
  EXPECT_TRUE(PlatformMatches({"linux", "arm", ""}, {"linux", "arm", "v7"}));
  EXPECT_FALSE(PlatformMatches({"windows", "amd64", ""}, {"linux", "amd64", ""}));
  EXPECT_EQ(PlatformString({"linux", "arm64", "v8"}), "linux/arm64/v8");
  EXPECT_EQ(PlatformString({"linux", "amd64", ""}), "linux/amd64");
}

}  // namespace
}  // namespace slipway::pull
