// Deduplicated import on the server side: entries the client did not stream (ImportOptions
// .present) are taken from the real store and pass every check a streamed entry passes.
#include <filesystem>
#include <set>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "storage/archive/importer.h"
#include "storage/archive/present_entries.h"
#include "tests/archive/archive_fixture.h"

namespace slipway {
namespace {

using ::slipway::testing::BuildTestImage;
using ::slipway::testing::MakeTar;
using ::slipway::testing::ReadFile;
using ::slipway::testing::TarEntry;
using ::slipway::testing::TestImage;
using ::testing::HasSubstr;

class PresentEntriesTest : public ArchiveTest {
 protected:
  void SetUp() override {
    ArchiveTest::SetUp();
    image_ = BuildTestImage(dir_.Sub("layout"), "example.com/app:v1", 1);
  }

  std::string Blob(const Digest& d) { return ReadFile(dir_.Sub("layout/blobs/sha256/" + d.hex())); }

  // The layout as an OCI archive tar, without the blobs in `omit` (claimed present instead).
  std::string OciTar(const std::set<Digest>& omit, ImportOptions& options) {
    std::vector<TarEntry> entries = {
        {"oci-layout", ReadFile(dir_.Sub("layout/oci-layout"))},
        {"index.json", ReadFile(dir_.Sub("layout/index.json"))},
        {"blobs", "", TarEntry::kDir},
        {"blobs/sha256", "", TarEntry::kDir}};
    for (const auto& f : std::filesystem::directory_iterator(dir_.Sub("layout/blobs/sha256"))) {
      std::string hex = f.path().filename().string();
      auto digest = Digest::FromHex(hex);
      EXPECT_TRUE(digest.ok());
      std::string name = "blobs/sha256/" + hex;
      if (omit.count(*digest) > 0) {
        options.present.push_back({name, *digest});
      } else {
        entries.push_back({name, ReadFile(f.path().string())});
      }
    }
    return MakeTar(entries);
  }

  // A legacy docker-save tar; layer tars in `omit_layers` are claimed by diff_id.
  std::string LegacyTar(bool omit_layers, ImportOptions& options) {
    std::vector<TarEntry> entries;
    nlohmann::json layers = nlohmann::json::array();
    for (size_t i = 0; i < image_.layer_tars.size(); ++i) {
      std::string name = std::string(64, static_cast<char>('a' + i)) + "/layer.tar";
      layers.push_back(name);
      if (omit_layers) {
        options.present.push_back({name, image_.diff_ids[i]});
      } else {
        entries.push_back({name, image_.layer_tars[i]});
      }
    }
    entries.push_back({"config.json", Blob(image_.config_digest)});
    nlohmann::json manifest = nlohmann::json::array(
        {{{"Config", "config.json"}, {"RepoTags", {"example.com/legacy:1"}}, {"Layers", layers}}});
    entries.push_back({"manifest.json", manifest.dump()});
    return MakeTar(entries);
  }

  std::set<Digest> LayersAndConfig() {
    std::set<Digest> out(image_.layer_digests.begin(), image_.layer_digests.end());
    out.insert(image_.config_digest);
    return out;
  }

  int ImageCount() {
    auto list = index_->List();
    EXPECT_TRUE(list.ok());
    return list.ok() ? static_cast<int>(list->size()) : -1;
  }

  TestImage image_;
};

TEST_F(PresentEntriesTest, OmittedOciBlobsComeFromTheStoreAndGiveTheSameImage) {
  ImportOptions full;
  auto first = ImportBytes(OciTar({}, full));
  ASSERT_TRUE(first.ok()) << first.status();
  ImportOptions options;
  std::string tar = OciTar(LayersAndConfig(), options);
  auto again = ImportBytes(tar, options);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->image.manifest.digest, image_.manifest_digest);
  EXPECT_EQ(again->entries_from_store, static_cast<int>(LayersAndConfig().size()));
  EXPECT_LT(again->bytes_received, 16 * 1024);
  EXPECT_GT(again->bytes_from_store, 100 * 1024);
  EXPECT_EQ(again->blobs_stored, 0);
  ASSERT_EQ(again->image.layers.size(), image_.layer_digests.size());
  for (size_t i = 0; i < image_.layer_digests.size(); ++i) {
    EXPECT_EQ(again->image.layers[i].digest, image_.layer_digests[i]);
  }
}

TEST_F(PresentEntriesTest, AClaimTheStoreCannotHonourIsFailedPreconditionAndPublishesNothing) {
  ImportOptions options;
  std::string tar = OciTar({image_.layer_digests[0]}, options);
  auto result = ImportBytes(tar, options);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), absl::StatusCode::kFailedPrecondition) << result.status();
  EXPECT_THAT(std::string(result.status().message()),
              HasSubstr("blobs/sha256/" + image_.layer_digests[0].hex()));
  EXPECT_EQ(BlobCount(), 0);
  EXPECT_EQ(ImageCount(), 0);
}

TEST_F(PresentEntriesTest, ALegacyLayerClaimedByDiffIdUsesTheStoredCompressedLayer) {
  ImportOptions full;
  ASSERT_TRUE(ImportBytes(OciTar({}, full)).ok());
  const int blobs_before = BlobCount();
  ImportOptions options;
  std::string tar = LegacyTar(/*omit_layers=*/true, options);
  auto result = ImportBytes(tar, options);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->layers_compressed, 0);  // nothing was compressed again
  EXPECT_EQ(result->entries_from_store, static_cast<int>(image_.layer_tars.size()));
  ASSERT_EQ(result->image.layers.size(), image_.layer_digests.size());
  for (size_t i = 0; i < image_.layer_digests.size(); ++i) {
    EXPECT_EQ(result->image.layers[i].digest, image_.layer_digests[i]);
  }
  EXPECT_EQ(BlobCount(), blobs_before + 1);  // only the docker manifest written for it

  // The same tar streamed in full gives the same image: the claim changes what travels only.
  ImportOptions none;
  auto streamed = ImportBytes(LegacyTar(false, none), none);
  ASSERT_TRUE(streamed.ok()) << streamed.status();
  EXPECT_EQ(streamed->image.manifest.digest, result->image.manifest.digest);
}

TEST_F(PresentEntriesTest, ClaimsWithBadPathsAreInvalidArgumentNamingTheField) {
  ImportOptions full;
  ASSERT_TRUE(ImportBytes(OciTar({}, full)).ok());
  for (const std::string& path : {std::string("../escape"), std::string("/abs"),
                                  std::string("index.json")}) {
    ImportOptions options;
    std::string tar = OciTar({}, options);
    options.present.push_back({path, image_.config_digest});
    auto result = ImportBytes(tar, options);
    ASSERT_FALSE(result.ok()) << path;
    EXPECT_EQ(result.status().code(), absl::StatusCode::kInvalidArgument) << result.status();
    EXPECT_THAT(std::string(result.status().message()), HasSubstr("present[0].path")) << path;
  }
}

TEST_F(PresentEntriesTest, AClaimedBlobUnderAnotherBlobsNameIsDataLoss) {
  ImportOptions full;
  ASSERT_TRUE(ImportBytes(OciTar({}, full)).ok());
  ImportOptions options;
  std::string tar = OciTar({image_.layer_digests[0]}, options);
  // Claim the right name with another stored blob's bytes.
  options.present[0].digest = image_.layer_digests[1];
  auto result = ImportBytes(tar, options);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), absl::StatusCode::kDataLoss) << result.status();
}

TEST_F(PresentEntriesTest, AStoredLayerWithoutACompressionRecordIsDecompressedForItsDiffId) {
  // The layers are in the store (as a pull would leave them) but the index knows nothing.
  for (const Digest& d : image_.layer_digests) ASSERT_TRUE(blobs_->PutSmall(Blob(d)).ok());
  ASSERT_FALSE(index_->FindByCompressed(image_.layer_digests[0]).ok());
  ImportOptions options;
  std::set<Digest> layers(image_.layer_digests.begin(), image_.layer_digests.end());
  auto result = ImportBytes(OciTar(layers, options), options);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->image.manifest.digest, image_.manifest_digest);
  auto recorded = index_->FindByCompressed(image_.layer_digests[0]);
  ASSERT_TRUE(recorded.ok()) << recorded.status();
  EXPECT_EQ(recorded->diff_id, image_.diff_ids[0]);
}

}  // namespace
}  // namespace slipway
