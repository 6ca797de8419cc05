#include "storage/archive/exporter.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/archive/archive_fixture.h"

namespace slipway {
namespace {

using ::slipway::testing::BuildTestImage;
using ::slipway::testing::ReadFile;
using ::slipway::testing::ShellQuote;
using ::slipway::testing::StringByteSink;
using ::slipway::testing::TestImage;
using ::slipway::testing::WriteFile;

class ExporterTest : public ArchiveTest {
 protected:
  void SetUp() override {
    ArchiveTest::SetUp();
    image_ = BuildTestImage(dir_.Sub("layout"), "latest", 7);
    std::string archive = dir_.Sub("in.oci.tar");
    Skopeo("copy oci:" + ShellQuote(dir_.Sub("layout")) + ":latest oci-archive:" +
           ShellQuote(archive) + ":latest");
    ImportOptions options;
    options.tags = {"example.com/team/app:v1"};
    auto r = ImportFile(archive, options);
    ASSERT_TRUE(r.ok()) << r.status();
    record_ = r->image;
  }

  std::string Export(ArchiveFormat format, const std::string& name) {
    ExportOptions options;
    options.format = format;
    StringByteSink sink;
    absl::Status s = ExportArchive(record_, options, *blobs_, *index_, sink);
    EXPECT_TRUE(s.ok()) << s;
    WriteFile(dir_.Sub(name), sink.data());
    return dir_.Sub(name);
  }

  // Manifest and config digests of the single image in an OCI layout directory.
  std::pair<std::string, std::string> LayoutDigests(const std::string& layout) {
    auto index = nlohmann::json::parse(ReadFile(layout + "/index.json"), nullptr, false);
    if (index.is_discarded() || index["manifests"].empty()) {
      ADD_FAILURE() << "bad index.json in " << layout;
      return {};
    }
    std::string manifest_digest = index["manifests"][0]["digest"];
    auto manifest = nlohmann::json::parse(
        ReadFile(layout + "/blobs/sha256/" + manifest_digest.substr(7)), nullptr, false);
    return {manifest_digest, manifest["config"]["digest"].get<std::string>()};
  }

  // Config digest of an image copied by skopeo to a dir: layout. (Converting a Docker schema 2
  // image to OCI makes skopeo re-serialize the config, so oci: is not used for these checks.)
  std::string DirConfigDigest(const std::string& dir) {
    auto manifest = nlohmann::json::parse(ReadFile(dir + "/manifest.json"), nullptr, false);
    if (manifest.is_discarded()) {
      ADD_FAILURE() << "bad manifest.json in " << dir;
      return "";
    }
    return manifest["config"]["digest"].get<std::string>();
  }

  TestImage image_;
  ImageRecord record_{Descriptor{"", Sha256Of(""), 0, {}}, std::nullopt, {}, "", "", "", 0, 0, {}};
};

TEST_F(ExporterTest, DockerCombinedReadBySkopeoBothWays) {
  std::string file = Export(ArchiveFormat::kDockerCombined, "combined.tar");
  std::string inspect = Skopeo("inspect docker-archive:" + ShellQuote(file));
  EXPECT_THAT(inspect, ::testing::HasSubstr("\"Architecture\": \"amd64\""));

  // As an OCI archive: digests identical to the stored ones.
  Skopeo("copy oci-archive:" + ShellQuote(file) + ":v1 oci:" + ShellQuote(dir_.Sub("as-oci")) + ":x");
  auto [manifest, config] = LayoutDigests(dir_.Sub("as-oci"));
  EXPECT_EQ(manifest, image_.manifest_digest.ToString());
  EXPECT_EQ(config, image_.config_digest.ToString());

  // As a docker-archive: same config (skopeo rebuilds the manifest around uncompressed layers).
  Skopeo("copy docker-archive:" + ShellQuote(file) + " dir:" + ShellQuote(dir_.Sub("as-docker")));
  EXPECT_EQ(DirConfigDigest(dir_.Sub("as-docker")), image_.config_digest.ToString());

  // And it comes back in through our importer unchanged.
  auto again = ImportFile(file);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->image.manifest.digest, image_.manifest_digest);
  EXPECT_THAT(again->image.tags, ::testing::ElementsAre("example.com/team/app:v1"));
}

TEST_F(ExporterTest, OciArchiveUnpacksWithUmoci) {
  std::string file = Export(ArchiveFormat::kOciArchive, "image.oci.tar");
  Run("mkdir -p " + ShellQuote(dir_.Sub("layout-out")) + " && tar -xf " + ShellQuote(file) +
      " -C " + ShellQuote(dir_.Sub("layout-out")));
  Run("umoci unpack --image " + ShellQuote(dir_.Sub("layout-out")) + ":v1 " +
      ShellQuote(dir_.Sub("bundle")));
  for (const std::string& f : image_.files) {
    EXPECT_FALSE(ReadFile(dir_.Sub("bundle/rootfs/" + f)).empty()) << f;
  }
  EXPECT_EQ(ReadFile(dir_.Sub("bundle/rootfs/bin/busybox")), ReadFile("/bin/busybox"));
  Skopeo("copy oci-archive:" + ShellQuote(file) + ":v1 oci:" + ShellQuote(dir_.Sub("copy")) + ":x");
  EXPECT_EQ(LayoutDigests(dir_.Sub("copy")).first, image_.manifest_digest.ToString());
}

TEST_F(ExporterTest, LegacyDockerArchiveHasUncompressedLayers) {
  // The import recorded the uncompressed sizes, so this export takes them from the index; the
  // counting path is covered by LegacyExportCountsUnknownSizesAndRecordsThem.
  std::string file = Export(ArchiveFormat::kDockerLegacy, "legacy.tar");
  Run("mkdir -p " + ShellQuote(dir_.Sub("legacy")) + " && tar -xf " + ShellQuote(file) + " -C " +
      ShellQuote(dir_.Sub("legacy")));
  for (size_t i = 0; i < image_.diff_ids.size(); ++i) {
    EXPECT_EQ(ReadFile(dir_.Sub("legacy/" + image_.diff_ids[i].hex() + "/layer.tar")),
              image_.layer_tars[i]);
  }
  auto manifest = nlohmann::json::parse(ReadFile(dir_.Sub("legacy/manifest.json")));
  EXPECT_EQ(manifest[0]["RepoTags"][0], "example.com/team/app:v1");
  Skopeo("copy docker-archive:" + ShellQuote(file) + " dir:" + ShellQuote(dir_.Sub("from-legacy")));
  EXPECT_EQ(DirConfigDigest(dir_.Sub("from-legacy")), image_.config_digest.ToString());
  auto back = ImportFile(file);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(*back->image.config, image_.config_digest);
  EXPECT_EQ(back->layers_compressed, 3);
}

TEST_F(ExporterTest, LegacyExportCountsUnknownSizesAndRecordsThem) {
  // A fresh index that has the image but no compression mappings.
  SqliteImageIndexOptions options;
  options.path = dir_.Sub("fresh.db");
  auto fresh = OpenSqliteImageIndex(options);
  ASSERT_TRUE(fresh.ok()) << fresh.status();
  std::vector<Descriptor> all = record_.layers;
  all.push_back(record_.manifest);
  all.push_back(Descriptor{"application/vnd.oci.image.config.v1+json", *record_.config,
                           *blobs_->Stat(*record_.config), {}});
  ASSERT_TRUE((*fresh)->PutImage(record_, all).ok());
  ExportOptions export_options;
  export_options.format = ArchiveFormat::kDockerLegacy;
  StringByteSink sink;
  ASSERT_TRUE(ExportArchive(record_, export_options, *blobs_, **fresh, sink).ok());
  for (size_t i = 0; i < image_.diff_ids.size(); ++i) {
    auto mapping = (*fresh)->FindByCompressed(image_.layer_digests[i]);
    ASSERT_TRUE(mapping.ok()) << mapping.status();
    EXPECT_EQ(mapping->uncompressed_size, static_cast<int64_t>(image_.layer_tars[i].size()));
  }
  StringByteSink again;
  ASSERT_TRUE(ExportArchive(record_, export_options, *blobs_, **fresh, again).ok());
  EXPECT_EQ(again.data(), sink.data());
}

TEST_F(ExporterTest, ExportIsDeterministic) {
  for (ArchiveFormat f : {ArchiveFormat::kDockerCombined, ArchiveFormat::kOciArchive,
                          ArchiveFormat::kDockerLegacy}) {
    ExportOptions options;
    options.format = f;
    StringByteSink a, b;
    ASSERT_TRUE(ExportArchive(record_, options, *blobs_, *index_, a).ok());
    ASSERT_TRUE(ExportArchive(record_, options, *blobs_, *index_, b).ok());
    EXPECT_EQ(Sha256Of(a.data()).hex(), Sha256Of(b.data()).hex());
  }
}

TEST_F(ExporterTest, MissingBlobIsDataLoss) {
  ASSERT_TRUE(blobs_->Delete(record_.layers[1].digest).ok());
  ExportOptions options;
  StringByteSink sink;
  absl::Status s = ExportArchive(record_, options, *blobs_, *index_, sink);
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss) << s;
  EXPECT_THAT(std::string(s.message()), ::testing::HasSubstr(record_.layers[1].digest.hex()));
}

}  // namespace
}  // namespace slipway
