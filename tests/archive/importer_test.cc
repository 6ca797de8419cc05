#include "storage/archive/importer.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "storage/archive/gzip_compressor.h"
#include "storage/media_types.h"
#include "tests/archive/archive_fixture.h"

namespace slipway {
namespace {

using ::slipway::testing::BuildTestImage;
using ::slipway::testing::MakeTar;
using ::slipway::testing::ReadFile;
using ::slipway::testing::ShellQuote;
using ::slipway::testing::TarEntry;
using ::slipway::testing::TestImage;
using ::slipway::testing::WriteFile;
using ::testing::HasSubstr;

std::string ConfigFor(const std::vector<Digest>& diff_ids) {
  nlohmann::json ids = nlohmann::json::array();
  for (const Digest& d : diff_ids) ids.push_back(d.ToString());
  return nlohmann::json({{"architecture", "amd64"},
                         {"os", "linux"},
                         {"rootfs", {{"type", "layers"}, {"diff_ids", ids}}}})
      .dump();
}

class ImporterTest : public ArchiveTest {
 protected:
  void SetUp() override {
    ArchiveTest::SetUp();
    image_ = BuildTestImage(dir_.Sub("layout"), "latest", 1);
  }

  // A legacy docker-save tar of the test image: uncompressed layers under <id>/layer.tar.
  std::vector<TarEntry> LegacyEntries(const std::string& tag = "example.com/app:v1") {
    std::string config = ReadFile(dir_.Sub("layout/blobs/sha256/" + image_.config_digest.hex()));
    std::vector<TarEntry> entries;
    nlohmann::json layers = nlohmann::json::array();
    for (size_t i = 0; i < image_.layer_tars.size(); ++i) {
      std::string id = std::string(64, static_cast<char>('a' + i));
      entries.push_back({id, "", TarEntry::kDir});
      entries.push_back({id + "/layer.tar", image_.layer_tars[i]});
      layers.push_back(id + "/layer.tar");
    }
    entries.push_back({image_.config_digest.hex() + ".json", config});
    nlohmann::json manifest = nlohmann::json::array(
        {{{"Config", image_.config_digest.hex() + ".json"}, {"RepoTags", {tag}}, {"Layers", layers}}});
    entries.push_back({"manifest.json", manifest.dump()});
    return entries;
  }

  void ExpectGoodImportStillWorks() {
    auto good = ImportBytes(MakeTar(LegacyEntries()));
    ASSERT_TRUE(good.ok()) << good.status();
    EXPECT_EQ(*good->image.config, image_.config_digest);
  }

  void ExpectRejected(const std::string& tar, absl::StatusCode code, const std::string& needle) {
    int before = BlobCount();
    auto images_before = index_->List();
    ASSERT_TRUE(images_before.ok());
    auto r = ImportBytes(tar);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), code) << r.status();
    EXPECT_THAT(std::string(r.status().message()), HasSubstr(needle));
    EXPECT_EQ(BlobCount(), before) << "a rejected import published blobs";
    auto listed = index_->List();
    ASSERT_TRUE(listed.ok());
    EXPECT_EQ(listed->size(), images_before->size());
    ExpectGoodImportStillWorks();
  }

  TestImage image_;
};

TEST_F(ImporterTest, SkopeoOciArchiveKeepsManifestAndConfigDigests) {
  std::string archive = dir_.Sub("image.oci.tar");
  Skopeo("copy oci:" + ShellQuote(dir_.Sub("layout")) + ":latest oci-archive:" + ShellQuote(archive) +
         ":latest");
  ImportOptions options;
  options.tags = {"test/app:1"};
  auto r = ImportFile(archive, options);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->image.manifest.digest, image_.manifest_digest);
  EXPECT_EQ(*r->image.config, image_.config_digest);
  EXPECT_EQ(r->layers_compressed, 0);
  EXPECT_EQ(r->blobs_stored, 5);
  EXPECT_EQ(r->blobs_present, 0);
  ASSERT_EQ(r->image.layers.size(), 3u);
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(r->image.layers[i].digest, image_.layer_digests[i]);
    auto mapping = index_->FindByCompressed(image_.layer_digests[i]);
    ASSERT_TRUE(mapping.ok()) << mapping.status();
    EXPECT_EQ(mapping->diff_id, image_.diff_ids[i]);  // verified by decompressing on import
    EXPECT_EQ(mapping->uncompressed_size, static_cast<int64_t>(image_.layer_tars[i].size()));
  }
  auto resolved = index_->Resolve("docker.io/test/app:1");
  ASSERT_TRUE(resolved.ok()) << resolved.status();
  EXPECT_EQ(resolved->manifest.digest, image_.manifest_digest);

  // The same archive again: nothing new stored.
  auto again = ImportFile(archive);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->blobs_stored, 0);
  EXPECT_EQ(again->blobs_present, 5);
}

TEST_F(ImporterTest, SkopeoDockerArchiveCompressesLayersReproducibly) {
  std::string archive = dir_.Sub("image.docker.tar");
  Skopeo("copy oci:" + ShellQuote(dir_.Sub("layout")) + ":latest docker-archive:" +
         ShellQuote(archive) + ":example.com/team/app:v1");
  auto r = ImportFile(archive);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(*r->image.config, image_.config_digest);
  EXPECT_EQ(r->layers_compressed, 3);
  EXPECT_EQ(r->image.manifest.media_type, media::kDockerManifest);
  EXPECT_THAT(r->image.tags, ::testing::ElementsAre("example.com/team/app:v1"));
  ASSERT_EQ(r->image.layers.size(), 3u);
  for (size_t i = 0; i < 3; ++i) {
    // Our level-1 compression of the same tar gives the same bytes as the test image's layers.
    EXPECT_EQ(r->image.layers[i].digest, image_.layer_digests[i]) << i;
    EXPECT_EQ(r->image.layers[i].media_type, media::kDockerLayerGzip);
    auto mapping = index_->FindByDiffId(image_.diff_ids[i]);
    ASSERT_TRUE(mapping.ok()) << mapping.status();
    EXPECT_EQ(mapping->compressed.digest, image_.layer_digests[i]);
  }
  auto stored = blobs_->ReadSmall(r->image.manifest.digest, 1 << 20);
  ASSERT_TRUE(stored.ok()) << stored.status();

  // A second store reproduces the same manifest digest from the same archive.
  auto other_blobs = FsBlobStore::Create({dir_.Sub("store2")});
  ASSERT_TRUE(other_blobs.ok()) << other_blobs.status();
  SqliteImageIndexOptions index_options;
  index_options.path = dir_.Sub("index2.db");
  auto other_index = OpenSqliteImageIndex(index_options);
  ASSERT_TRUE(other_index.ok()) << other_index.status();
  auto source = FileByteSource::Open(archive);
  ASSERT_TRUE(source.ok());
  auto r2 = ImportArchive(**source, {}, **other_blobs, **other_index);
  ASSERT_TRUE(r2.ok()) << r2.status();
  EXPECT_EQ(r2->image.manifest.digest, r->image.manifest.digest);
}

TEST_F(ImporterTest, LegacyArchiveWithSymlinkedLayer) {
  auto entries = LegacyEntries();
  // docker save writes a layer seen twice as a symlink to the first copy.
  std::string first = std::string(64, 'a');
  entries.insert(entries.end() - 2, {std::string(64, 'z'), "", TarEntry::kDir});
  entries.insert(entries.end() - 2, {std::string(64, 'z') + "/layer.tar", "", TarEntry::kSymlink,
                                     "../" + first + "/layer.tar"});
  std::vector<Digest> ids = image_.diff_ids;
  ids.push_back(image_.diff_ids[0]);
  std::string config = ConfigFor(ids);
  entries[entries.size() - 2] = {Sha256Of(config).hex() + ".json", config};
  nlohmann::json manifest = nlohmann::json::parse(entries.back().content);
  manifest[0]["Config"] = Sha256Of(config).hex() + ".json";
  manifest[0]["Layers"].push_back("./" + std::string(64, 'z') + "/layer.tar");
  entries.back().content = manifest.dump();
  entries.push_back({"repositories", R"({"example.com/app":{"v1":"zz"}})"});
  auto r = ImportBytes(MakeTar(entries));
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->image.layers.size(), 4u);
  EXPECT_EQ(r->image.layers[3].digest, r->image.layers[0].digest);
  EXPECT_EQ(r->layers_compressed, 4);
  EXPECT_EQ(r->blobs_stored, 5);  // manifest, config, three distinct layers
}

TEST_F(ImporterTest, GoContainerRegistryStyle) {
  std::string config = ReadFile(dir_.Sub("layout/blobs/sha256/" + image_.config_digest.hex()));
  std::vector<TarEntry> entries = {{"sha256:" + image_.config_digest.hex(), config}};
  nlohmann::json layers = nlohmann::json::array();
  for (const Digest& d : image_.layer_digests) {
    entries.push_back({d.hex() + ".tar.gz", ReadFile(dir_.Sub("layout/blobs/sha256/" + d.hex()))});
    layers.push_back(d.hex() + ".tar.gz");
  }
  entries.push_back({"manifest.json",
                     nlohmann::json::array({{{"Config", "sha256:" + image_.config_digest.hex()},
                                             {"RepoTags", {"registry.local:5000/kaniko:1"}},
                                             {"Layers", layers}}})
                         .dump()});
  auto r = ImportBytes(MakeTar(entries));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->layers_compressed, 0);
  EXPECT_EQ(*r->image.config, image_.config_digest);
  EXPECT_THAT(r->image.tags, ::testing::ElementsAre("registry.local:5000/kaniko:1"));
  for (size_t i = 0; i < 3; ++i) EXPECT_EQ(r->image.layers[i].digest, image_.layer_digests[i]);
}

TEST_F(ImporterTest, SelectsByTagAmongSeveralImages) {
  auto entries = LegacyEntries();
  nlohmann::json manifest = nlohmann::json::parse(entries.back().content);
  nlohmann::json second = manifest[0];
  second["Layers"] = nlohmann::json::array({manifest[0]["Layers"][0]});
  std::string config = ConfigFor({image_.diff_ids[0]});
  second["Config"] = "second.json";
  second["RepoTags"] = {"other:2"};
  manifest.push_back(second);
  entries.back().content = manifest.dump();
  entries.insert(entries.begin(), {"second.json", config});
  std::string tar = MakeTar(entries);

  auto ambiguous = ImportBytes(tar);
  EXPECT_EQ(ambiguous.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(ambiguous.status().message()), HasSubstr("select_tag"));

  ImportOptions missing;
  missing.select_tag = "nope:1";
  EXPECT_EQ(ImportBytes(tar, missing).status().code(), absl::StatusCode::kNotFound);

  ImportOptions pick;
  pick.select_tag = "docker.io/library/other:2";
  auto r = ImportBytes(tar, pick);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->image.config, Sha256Of(config));
  EXPECT_EQ(r->image.layers.size(), 1u);
  EXPECT_THAT(r->image.tags, ::testing::ElementsAre("docker.io/library/other:2"));

  ImportOptions ignore;
  ignore.select_tag = "example.com/app:v1";
  ignore.ignore_archive_tags = true;
  ignore.tags = {"mine:1"};
  auto r2 = ImportBytes(tar, ignore);
  ASSERT_TRUE(r2.ok()) << r2.status();
  EXPECT_THAT(r2->image.tags, ::testing::ElementsAre("docker.io/library/mine:1"));
}

TEST_F(ImporterTest, RejectsTruncatedTar) {
  std::string tar = MakeTar(LegacyEntries());
  ExpectRejected(tar.substr(0, tar.size() / 2), absl::StatusCode::kInvalidArgument, "tar");
}

TEST_F(ImporterTest, RejectsDotDotAndAbsoluteEntries) {
  auto dotdot = LegacyEntries();
  dotdot.push_back({"../evil", "x"});
  ExpectRejected(MakeTar(dotdot), absl::StatusCode::kInvalidArgument, "../evil");
  auto absolute = LegacyEntries();
  absolute.insert(absolute.begin(), {"/etc/evil", "x"});
  ExpectRejected(MakeTar(absolute), absl::StatusCode::kInvalidArgument, "absolute");
}

TEST_F(ImporterTest, RejectsEscapingSymlink) {
  auto entries = LegacyEntries();
  entries.push_back({"link", "", TarEntry::kSymlink, "../../etc/passwd"});
  ExpectRejected(MakeTar(entries), absl::StatusCode::kInvalidArgument, "escapes");
}

TEST_F(ImporterTest, RejectsMissingNullAndInvalidManifestJson) {
  auto missing = LegacyEntries();
  missing.pop_back();
  ExpectRejected(MakeTar(missing), absl::StatusCode::kInvalidArgument, "manifest.json");
  auto null = LegacyEntries();
  null.back().content = "null";
  ExpectRejected(MakeTar(null), absl::StatusCode::kInvalidArgument, "manifest.json");
  auto invalid = LegacyEntries();
  invalid.back().content = "[{\"Config\":";
  ExpectRejected(MakeTar(invalid), absl::StatusCode::kInvalidArgument, "manifest.json");
  auto traversal = LegacyEntries();
  traversal.back().content = R"([{"Config":"sha256:../../x","Layers":[]}])";
  ExpectRejected(MakeTar(traversal), absl::StatusCode::kInvalidArgument, "..");
}

TEST_F(ImporterTest, RejectsOciBlobWhoseBytesDoNotMatchItsName) {
  std::string archive = dir_.Sub("image.oci.tar");
  Skopeo("copy oci:" + ShellQuote(dir_.Sub("layout")) + ":latest oci-archive:" + ShellQuote(archive) +
         ":latest");
  Run("mkdir -p " + ShellQuote(dir_.Sub("x")) + " && tar -xf " + ShellQuote(archive) + " -C " +
      ShellQuote(dir_.Sub("x")));
  // Swap the bytes of one layer for another's.
  std::string layer0 = dir_.Sub("x/blobs/sha256/" + image_.layer_digests[0].hex());
  Run("cp " + ShellQuote(dir_.Sub("x/blobs/sha256/" + image_.layer_digests[2].hex())) + " " +
      ShellQuote(layer0));
  Run("tar -cf " + ShellQuote(dir_.Sub("bad.tar")) + " -C " + ShellQuote(dir_.Sub("x")) + " .");
  ExpectRejected(ReadFile(dir_.Sub("bad.tar")), absl::StatusCode::kDataLoss,
                 image_.layer_digests[0].hex());

  // A descriptor digest that is not a digest at all.
  std::vector<TarEntry> entries = {
      {"oci-layout", R"({"imageLayoutVersion":"1.0.0"})"},
      {"index.json",
       R"({"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:../../x","size":1}]})"}};
  ExpectRejected(MakeTar(entries), absl::StatusCode::kInvalidArgument, "digest");
}

TEST_F(ImporterTest, RejectsLayerThatDoesNotMatchDiffId) {
  auto entries = LegacyEntries();
  entries[1].content = image_.layer_tars[1];  // layer 0 replaced by layer 1's bytes
  ExpectRejected(MakeTar(entries), absl::StatusCode::kDataLoss, "diff_id");
}

// What `docker save` writes since Docker 25: an OCI layout with uncompressed layers, plus
// manifest.json. The layers are compressed on the way in and the manifest rewritten around them.
TEST_F(ImporterTest, Docker25CombinedWithUncompressedLayers) {
  std::string config = ReadFile(dir_.Sub("layout/blobs/sha256/" + image_.config_digest.hex()));
  std::vector<TarEntry> entries = {{"blobs", "", TarEntry::kDir}, {"blobs/sha256", "", TarEntry::kDir}};
  nlohmann::json layers = nlohmann::json::array();
  nlohmann::json layer_paths = nlohmann::json::array();
  for (const std::string& tar : image_.layer_tars) {
    entries.push_back({"blobs/sha256/" + Sha256Of(tar).hex(), tar});
    layers.push_back({{"mediaType", "application/vnd.oci.image.layer.v1.tar"},
                      {"digest", Sha256Of(tar).ToString()},
                      {"size", tar.size()}});
    layer_paths.push_back("blobs/sha256/" + Sha256Of(tar).hex());
  }
  entries.push_back({"blobs/sha256/" + image_.config_digest.hex(), config});
  std::string manifest =
      nlohmann::json({{"schemaVersion", 2},
                      {"mediaType", "application/vnd.oci.image.manifest.v1+json"},
                      {"config",
                       {{"mediaType", "application/vnd.oci.image.config.v1+json"},
                        {"digest", image_.config_digest.ToString()},
                        {"size", config.size()}}},
                      {"layers", layers}})
          .dump();
  entries.push_back({"blobs/sha256/" + Sha256Of(manifest).hex(), manifest});
  entries.push_back(
      {"index.json",
       nlohmann::json({{"schemaVersion", 2},
                       {"manifests",
                        {{{"mediaType", "application/vnd.oci.image.manifest.v1+json"},
                          {"digest", Sha256Of(manifest).ToString()},
                          {"size", manifest.size()},
                          {"annotations",
                           {{"io.containerd.image.name", "docker.io/library/app:25"},
                            {"org.opencontainers.image.ref.name", "25"}}}}}}})
           .dump()});
  entries.push_back({"manifest.json",
                     nlohmann::json::array({{{"Config", "blobs/sha256/" + image_.config_digest.hex()},
                                             {"RepoTags", {"app:25", "app:also"}},
                                             {"Layers", layer_paths}}})
                         .dump()});
  entries.push_back({"oci-layout", R"({"imageLayoutVersion":"1.0.0"})"});
  std::string tar = MakeTar(entries);
  auto r = ImportBytes(tar);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->bytes_received, static_cast<int64_t>(tar.size()));
  EXPECT_EQ(r->layers_compressed, 3);
  EXPECT_EQ(*r->image.config, image_.config_digest);
  EXPECT_NE(r->image.manifest.digest, Sha256Of(manifest));
  EXPECT_EQ(r->image.manifest.media_type, media::kOciManifest);
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(r->image.layers[i].digest, image_.layer_digests[i]);
    EXPECT_EQ(r->image.layers[i].media_type, media::kOciLayerGzip);
    EXPECT_FALSE(blobs_->Contains(image_.diff_ids[i])) << "uncompressed layer was stored";
  }
  EXPECT_THAT(r->image.tags, ::testing::ElementsAre("docker.io/library/app:25",
                                                    "docker.io/library/app:also"));
}

TEST_F(ImporterTest, ZstdLayersAreKeptAndDescribedInOciTerms) {
  std::string config = ReadFile(dir_.Sub("layout/blobs/sha256/" + image_.config_digest.hex()));
  std::vector<TarEntry> entries = {{"config.json", config}};
  nlohmann::json layers = nlohmann::json::array();
  std::vector<Digest> zstd_digests;
  for (size_t i = 0; i < image_.layer_tars.size(); ++i) {
    WriteFile(dir_.Sub("l.tar"), image_.layer_tars[i]);
    Run("zstd -q -f -3 " + ShellQuote(dir_.Sub("l.tar")) + " -o " + ShellQuote(dir_.Sub("l.tar.zst")));
    std::string zst = ReadFile(dir_.Sub("l.tar.zst"));
    zstd_digests.push_back(Sha256Of(zst));
    entries.push_back({"layer" + std::to_string(i) + ".tar.zst", zst});
    layers.push_back("layer" + std::to_string(i) + ".tar.zst");
  }
  entries.push_back({"manifest.json",
                     nlohmann::json::array({{{"Config", "config.json"}, {"Layers", layers}}}).dump()});
  auto r = ImportBytes(MakeTar(entries));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->layers_compressed, 0);
  EXPECT_EQ(r->image.manifest.media_type, media::kOciManifest);
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(r->image.layers[i].digest, zstd_digests[i]);
    EXPECT_EQ(r->image.layers[i].media_type, media::kOciLayerZstd);
    auto mapping = index_->FindByCompressed(zstd_digests[i]);
    ASSERT_TRUE(mapping.ok()) << mapping.status();
    EXPECT_EQ(mapping->diff_id, image_.diff_ids[i]);
  }
}

TEST_F(ImporterTest, RejectsCorruptCompressedLayer) {
  std::string config = ReadFile(dir_.Sub("layout/blobs/sha256/" + image_.config_digest.hex()));
  std::string gz = ReadFile(dir_.Sub("layout/blobs/sha256/" + image_.layer_digests[1].hex()));
  gz[gz.size() / 2] ^= 0x5a;
  std::vector<TarEntry> entries = {{"c.json", config}, {"0.tar.gz", gz}};
  entries.push_back(
      {"manifest.json",
       nlohmann::json::array({{{"Config", "c.json"}, {"Layers", {"0.tar.gz", "0.tar.gz", "0.tar.gz"}}}})
           .dump()});
  ExpectRejected(MakeTar(entries), absl::StatusCode::kDataLoss, "0.tar.gz");
}

TEST_F(ImporterTest, RejectsOversizedManifestJson) {
  auto entries = LegacyEntries();
  entries.back().content = "[" + std::string(5 << 20, ' ') + "]";
  ExpectRejected(MakeTar(entries), absl::StatusCode::kResourceExhausted, "manifest.json");
}

TEST_F(ImporterTest, RejectsBadCallerTagBeforeReading) {
  ImportOptions options;
  options.tags = {"UPPER/case:1"};
  auto r = ImportBytes(MakeTar(LegacyEntries()), options);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(BlobCount(), 0);
}

}  // namespace
}  // namespace slipway
