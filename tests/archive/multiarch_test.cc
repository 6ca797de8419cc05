// Multi-platform (image index) archives: import whole or partial, export as OCI / combined /
// legacy, checked with skopeo.

#include <ctime>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "storage/archive/exporter.h"
#include "storage/garbage_collector.h"
#include "storage/media_types.h"
#include "tests/archive/archive_fixture.h"

namespace slipway {
namespace {

using ::slipway::testing::BuildTestImage;
using ::slipway::testing::ReadFile;
using ::slipway::testing::RunCommand;
using ::slipway::testing::ShellQuote;
using ::slipway::testing::StringByteSink;
using ::slipway::testing::TestImage;
using ::slipway::testing::WriteFile;
using json = nlohmann::json;

struct Child {
  Digest manifest = Sha256Of("");
  int64_t manifest_size = 0;
  Digest config = Sha256Of("");
  std::vector<Digest> layers;
};

class MultiArchTest : public ArchiveTest {
 protected:
  void SetUp() override {
    ArchiveTest::SetUp();
    layout_ = dir_.Sub("multi");
    TestImage amd = BuildTestImage(dir_.Sub("amd"), "latest", 11);
    TestImage arm = BuildTestImage(dir_.Sub("arm"), "latest", 12);
    // Two copies: the images share blobs (cp refuses one command writing a name twice).
    auto copied = RunCommand("mkdir -p " + ShellQuote(layout_ + "/blobs/sha256") + " && cp " +
                             ShellQuote(dir_.Sub("amd")) + "/blobs/sha256/* " +
                             ShellQuote(layout_ + "/blobs/sha256/") + " && cp " +
                             ShellQuote(dir_.Sub("arm")) + "/blobs/sha256/* " +
                             ShellQuote(layout_ + "/blobs/sha256/"));
    ASSERT_EQ(copied.exit_code, 0) << copied.output;
    amd_ = ChildOf(amd, "");
    arm_ = ChildOf(arm, "arm64");  // rewritten: config says arm64
    json manifests = json::array();
    for (auto [child, arch] : {std::make_pair(&amd_, "amd64"), std::make_pair(&arm_, "arm64")}) {
      manifests.push_back({{"mediaType", std::string(media::kOciManifest)},
                           {"digest", child->manifest.ToString()},
                           {"size", child->manifest_size},
                           {"platform", {{"os", "linux"}, {"architecture", arch}}}});
    }
    index_bytes_ = json{{"schemaVersion", 2},
                        {"mediaType", std::string(media::kOciIndex)},
                        {"manifests", manifests}}
                       .dump();
    index_digest_ = AddBlob(index_bytes_);
    json top = {{"schemaVersion", 2},
                {"manifests",
                 json::array({{{"mediaType", std::string(media::kOciIndex)},
                               {"digest", index_digest_.ToString()},
                               {"size", index_bytes_.size()},
                               {"annotations",
                                {{"org.opencontainers.image.ref.name", "example.com/multi:1.0"}}}}})}};
    WriteFile(layout_ + "/index.json", top.dump());
    WriteFile(layout_ + "/oci-layout", R"({"imageLayoutVersion":"1.0.0"})");
  }

  Digest AddBlob(const std::string& bytes) {
    Digest d = Sha256Of(bytes);
    WriteFile(layout_ + "/blobs/sha256/" + d.hex(), bytes);
    return d;
  }

  // The child for `image`; with `arch` set, its config and manifest are rewritten to say so.
  Child ChildOf(const TestImage& image, const std::string& arch) {
    Child c{image.manifest_digest, image.manifest_size, image.config_digest, image.layer_digests};
    if (arch.empty()) return c;
    json config = json::parse(ReadFile(layout_ + "/blobs/sha256/" + image.config_digest.hex()));
    config["architecture"] = arch;
    std::string config_bytes = config.dump();
    c.config = AddBlob(config_bytes);
    json manifest = json::parse(ReadFile(layout_ + "/blobs/sha256/" + image.manifest_digest.hex()));
    manifest["config"]["digest"] = c.config.ToString();
    manifest["config"]["size"] = config_bytes.size();
    std::string manifest_bytes = manifest.dump();
    c.manifest = AddBlob(manifest_bytes);
    c.manifest_size = static_cast<int64_t>(manifest_bytes.size());
    return c;
  }

  std::string Tar(const std::string& name) {
    std::string file = dir_.Sub(name);
    EXPECT_EQ(RunCommand("tar -C " + ShellQuote(layout_) + " -cf " + ShellQuote(file) +
                         " oci-layout index.json blobs")
                  .exit_code,
              0);
    return file;
  }

  std::string Export(const ImageRecord& image, ArchiveFormat format, const std::string& name) {
    ExportOptions options;
    options.format = format;
    StringByteSink sink;
    absl::Status s = ExportArchive(image, options, *blobs_, *index_, sink);
    EXPECT_TRUE(s.ok()) << s;
    WriteFile(dir_.Sub(name), sink.data());
    return dir_.Sub(name);
  }

  std::string layout_;
  Child amd_, arm_;
  std::string index_bytes_;
  Digest index_digest_ = Sha256Of("");
};

TEST_F(MultiArchTest, ImportsWholeIndexAndGcKeepsEveryChildBlob) {
  auto r = ImportFile(Tar("multi.tar"));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->image.manifest.digest, index_digest_);
  EXPECT_EQ(r->image.manifest.media_type, media::kOciIndex);
  EXPECT_FALSE(r->image.config.has_value());
  EXPECT_TRUE(r->image.layers.empty());
  EXPECT_EQ(r->image.architecture, "");

  auto resolved = index_->Resolve("example.com/multi:1.0");
  ASSERT_TRUE(resolved.ok()) << resolved.status();
  EXPECT_EQ(resolved->manifest.digest, index_digest_);

  std::vector<Digest> want = {index_digest_};
  for (const Child* c : {&amd_, &arm_}) {
    want.push_back(c->manifest);
    want.push_back(c->config);
    for (const Digest& l : c->layers) want.push_back(l);
  }
  GarbageCollector gc(*blobs_, *index_, [] { return static_cast<int64_t>(std::time(nullptr)) + 10; });
  GcOptions options;
  options.grace_period_seconds = 0;
  auto report = gc.Run(options);
  ASSERT_TRUE(report.ok()) << report.status();
  for (const Digest& d : want) {
    EXPECT_TRUE(blobs_->Stat(d).ok()) << d.ToString() << " was collected";
  }
  auto stored = blobs_->ReadSmall(index_digest_, 1 << 20);
  ASSERT_TRUE(stored.ok());
  EXPECT_EQ(*stored, index_bytes_);
}

TEST_F(MultiArchTest, OciExportKeepsTheIndexForSkopeo) {
  auto r = ImportFile(Tar("multi.tar"));
  ASSERT_TRUE(r.ok()) << r.status();
  std::string file = Export(r->image, ArchiveFormat::kOciArchive, "out.oci.tar");
  std::string raw = Skopeo("inspect --raw oci-archive:" + ShellQuote(file));
  while (!raw.empty() && raw.back() == '\n' && raw != index_bytes_) raw.pop_back();
  EXPECT_EQ(Sha256Of(raw), index_digest_) << raw;
  Skopeo("copy --all oci-archive:" + ShellQuote(file) + " oci:" + ShellQuote(dir_.Sub("copied")) +
         ":x");
  json copied = json::parse(ReadFile(dir_.Sub("copied") + "/index.json"));
  EXPECT_EQ(copied["manifests"][0]["digest"], index_digest_.ToString());

  // And the exported archive imports back to the same image.
  auto again = ImportFile(file);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->image.manifest.digest, index_digest_);
}

TEST_F(MultiArchTest, CombinedAndLegacyExportsDescribeTheAmd64Child) {
  auto r = ImportFile(Tar("multi.tar"));
  ASSERT_TRUE(r.ok()) << r.status();
  std::string combined = Export(r->image, ArchiveFormat::kDockerCombined, "combined.tar");
  ASSERT_EQ(RunCommand("mkdir -p " + ShellQuote(dir_.Sub("x")) + " && tar -C " +
                       ShellQuote(dir_.Sub("x")) + " -xf " + ShellQuote(combined))
                .exit_code,
            0);
  json manifest = json::parse(ReadFile(dir_.Sub("x") + "/manifest.json"));
  EXPECT_EQ(manifest[0]["Config"], "blobs/sha256/" + amd_.config.hex());
  json index = json::parse(ReadFile(dir_.Sub("x") + "/index.json"));
  EXPECT_EQ(index["manifests"][0]["digest"], index_digest_.ToString());

  std::string legacy = Export(r->image, ArchiveFormat::kDockerLegacy, "legacy.tar");
  std::string inspect = Skopeo("inspect docker-archive:" + ShellQuote(legacy));
  EXPECT_THAT(inspect, ::testing::HasSubstr("\"Architecture\": \"amd64\""));
}

TEST_F(MultiArchTest, PartialArchiveImportsTheCompleteChild) {
  ASSERT_EQ(std::remove((layout_ + "/blobs/sha256/" + arm_.config.hex()).c_str()), 0);
  auto r = ImportFile(Tar("partial.tar"));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->image.manifest.digest, amd_.manifest);
  ASSERT_TRUE(r->image.config.has_value());
  EXPECT_EQ(*r->image.config, amd_.config);
  EXPECT_EQ(r->image.architecture, "amd64");
  auto resolved = index_->Resolve("example.com/multi:1.0");
  ASSERT_TRUE(resolved.ok()) << resolved.status();
  EXPECT_EQ(resolved->manifest.digest, amd_.manifest);
}

TEST_F(MultiArchTest, ArchiveWithNoCompleteChildIsRejected) {
  ASSERT_EQ(std::remove((layout_ + "/blobs/sha256/" + arm_.config.hex()).c_str()), 0);
  ASSERT_EQ(std::remove((layout_ + "/blobs/sha256/" + amd_.config.hex()).c_str()), 0);
  auto r = ImportFile(Tar("none.tar"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << r.status();
  EXPECT_THAT(r.status().message(), ::testing::HasSubstr("none of its 2"));
}

}  // namespace
}  // namespace slipway
