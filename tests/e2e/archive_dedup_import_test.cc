// Deduplicated import (client/archive_upload.h) against the real slipwayd, with tarballs that
// other tools wrote (skopeo's docker-archive and oci-archive, buildah's docker-archive). Every
// imported image is pushed to a real docker-registry and checked with skopeo.
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "client/archive_upload.h"
#include "client/connection.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "storage/digest.h"
#include "tests/e2e/e2e_fixture.h"
#include "tests/support/registry_process.h"
#include "tests/support/subprocess.h"
#include "tests/support/temp_dir.h"

namespace slipway {
namespace {

using ::testing::HasSubstr;
using testing::MakeOciLayout;
using testing::ProcessResult;
using testing::RegistryProcess;
using testing::RunProcess;

// What a re-import may still send: tar headers, manifest.json / index.json, small per-layer
// metadata files and the end-of-archive blocks. Layers here are 300 KiB and more.
constexpr int64_t kRemainderBytes = 16 * 1024;

int64_t FileSize(const std::string& path) {
  std::error_code ec;
  auto size = std::filesystem::file_size(path, ec);
  return ec ? -1 : static_cast<int64_t>(size);
}

class ArchiveDedupImportTest : public testing::ClientTest {
 protected:
  void SetUp() override {
    testing::ClientTest::SetUp();
    if (HasFatalFailure()) return;
    client::ConnectionSettings settings;
    settings.address = server_->address();
    auto conn = client::Connection::Open(settings);
    ASSERT_TRUE(conn.ok()) << conn.status();
    conn_ = *std::move(conn);
  }

  absl::StatusOr<v1::ImportImageResponse> Upload(const std::string& tar,
                                                 const client::UploadProgressFn& progress = {},
                                                 const std::string& tag = "") {
    v1::ImportOptions options;
    if (!tag.empty()) options.add_tags(tag);
    return client::UploadArchive(*conn_, tar, options, progress);
  }

  ProcessResult Tool(const std::vector<std::string>& argv) {
    return RunProcess(argv, {{"TMPDIR", dir_.path()}}, absl::Seconds(180));
  }

  // The source image: the offline OCI layout of the e2e tests (two layers, ~1 MiB).
  std::string SourceLayout() {
    if (layout_.empty()) {
      EXPECT_THAT(MakeOciLayout(dir_.Sub("oci")), ::testing::StartsWith("sha256:"));
      layout_ = dir_.Sub("oci");
    }
    return layout_;
  }

  std::string SkopeoCopy(const std::string& dest_transport, const std::string& file,
                         const std::string& name) {
    std::string out = dir_.Sub(file);
    ProcessResult r = Tool({"skopeo", "--insecure-policy", "copy", "-q",
                            "oci:" + SourceLayout() + ":v1",
                            dest_transport + ":" + out + (name.empty() ? "" : ":" + name)});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return out;
  }

  // A private buildah store (vfs driver, own root), as tests/builddiff drives buildah.
  std::vector<std::string> Buildah(std::vector<std::string> args) {
    std::vector<std::string> argv = {"buildah", "--root", dir_.Sub("buildah/root"), "--runroot",
                                     dir_.Sub("buildah/run"), "--storage-driver", "vfs"};
    argv.insert(argv.end(), args.begin(), args.end());
    return argv;
  }

  // Two buildah images that share their one layer (a 300 KiB random file) and differ in a label,
  // saved as docker-archive tarballs.
  std::pair<std::string, std::string> BuildahArchives() {
    testing::WriteFile(dir_.Sub("ctx/hello.txt"), "hello from buildah\n");
    ProcessResult r = Tool({"/bin/sh", "-c",
                            "head -c 307200 /dev/urandom > '" + dir_.Sub("ctx/big.bin") + "'"});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    r = Tool(Buildah({"from", "scratch"}));
    EXPECT_EQ(r.exit_code, 0) << r.err;
    std::string container(absl::StripAsciiWhitespace(r.out));
    std::vector<std::vector<std::string>> steps = {
        {"copy", container, dir_.Sub("ctx/hello.txt"), dir_.Sub("ctx/big.bin"), "/data/"},
        {"config", "--label", "which=one", container},
        {"commit", "-q", container, "localhost/dedup/one:1"},
        {"config", "--label", "which=two", container},
        {"commit", "-q", container, "localhost/dedup/two:1"},
        {"push", "-q", "localhost/dedup/one:1",
         "docker-archive:" + dir_.Sub("one.tar") + ":localhost/dedup/one:1"},
        {"push", "-q", "localhost/dedup/two:1",
         "docker-archive:" + dir_.Sub("two.tar") + ":localhost/dedup/two:1"},
    };
    for (const auto& step : steps) {
      r = Tool(Buildah(step));
      EXPECT_EQ(r.exit_code, 0) << step[0] << ": " << r.err;
    }
    return {dir_.Sub("one.tar"), dir_.Sub("two.tar")};
  }

  // Pushes the stored image to the registry and checks it with skopeo: the manifest's digest is
  // the stored one and its layers are the stored layers.
  void PushAndVerify(const v1::Image& image, const std::string& repo) {
    if (registry_ == nullptr) registry_ = RegistryProcess::Start();
    ASSERT_NE(registry_, nullptr);
    const std::string ref = registry_->host() + "/" + repo + ":v1";
    ProcessResult r = Slipway({"push", image.manifest().digest(), ref, "--insecure"});
    ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
    const std::string raw_file = dir_.Sub("raw-" + std::to_string(++pushes_) + ".json");
    r = RunProcess({"/bin/sh", "-c",
                    "skopeo inspect --raw --tls-verify=false 'docker://" + ref + "' > '" +
                        raw_file + "'"},
                   {}, absl::Seconds(60));
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(Sha256Of(testing::ReadFile(raw_file)).ToString(), image.manifest().digest());
    r = RunProcess({"skopeo", "inspect", "--tls-verify=false", "docker://" + ref}, {},
                   absl::Seconds(60));
    ASSERT_EQ(r.exit_code, 0) << r.err;
    nlohmann::json inspect = nlohmann::json::parse(r.out, nullptr, false);
    ASSERT_FALSE(inspect.is_discarded()) << r.out;
    std::vector<std::string> want;
    for (const auto& l : image.layers()) want.push_back(l.digest());
    EXPECT_EQ(inspect["Layers"].get<std::vector<std::string>>(), want);
    EXPECT_EQ(inspect["Digest"].get<std::string>(), image.manifest().digest());
  }

  // The scenario every tool's tarball goes through: a first import sends everything, a second
  // sends only the small remainder and yields the same image, which then pushes correctly.
  v1::Image ImportTwiceAndPush(const std::string& tar, const std::string& repo) {
    const int64_t size = FileSize(tar);
    EXPECT_GT(size, 100 * 1024) << tar;
    auto first = Upload(tar);
    EXPECT_TRUE(first.ok()) << first.status();
    if (!first.ok()) return {};
    EXPECT_EQ(first->entries_from_store(), 0);
    EXPECT_GE(first->bytes_received(), size * 9 / 10);
    EXPECT_GE(first->blobs_stored(), 2);

    auto again = Upload(tar);
    EXPECT_TRUE(again.ok()) << again.status();
    if (!again.ok()) return {};
    EXPECT_EQ(again->image().manifest().digest(), first->image().manifest().digest());
    EXPECT_LE(again->bytes_received(), kRemainderBytes);
    EXPECT_GE(again->entries_from_store(), first->image().layers_size());
    EXPECT_GE(again->bytes_from_store(), size - kRemainderBytes - again->bytes_received());
    EXPECT_EQ(again->blobs_stored(), 0);
    PushAndVerify(again->image(), repo);
    return again->image();
  }

  std::unique_ptr<client::Connection> conn_;
  std::unique_ptr<RegistryProcess> registry_;
  std::string layout_;
  int pushes_ = 0;
};

TEST_F(ArchiveDedupImportTest, SkopeoDockerArchiveSendsOnlyTheRemainderTheSecondTime) {
  std::string tar = SkopeoCopy("docker-archive", "skopeo-docker.tar", "dedup/docker:1");
  v1::Image image = ImportTwiceAndPush(tar, "skopeo/docker");
  EXPECT_EQ(image.layers_size(), 2);
  // The CLI goes through the same path and says what it did not send.
  ProcessResult r = Slipway({"import", tar});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr(image.manifest().digest()));
  EXPECT_THAT(r.out, HasSubstr("entries not sent"));
}

TEST_F(ArchiveDedupImportTest, SkopeoOciArchiveSendsOnlyTheRemainderTheSecondTime) {
  std::string tar = SkopeoCopy("oci-archive", "skopeo-oci.tar", "dedup/oci:1");
  v1::Image image = ImportTwiceAndPush(tar, "skopeo/oci");
  EXPECT_EQ(image.layers_size(), 2);
}

TEST_F(ArchiveDedupImportTest, BuildahDockerArchiveAndASecondImageSharingItsLayer) {
  auto [one, two] = BuildahArchives();
  v1::Image first = ImportTwiceAndPush(one, "buildah/one");
  ASSERT_EQ(first.layers_size(), 1);

  // Another image with the same layer: its layer tar (300 KiB) is not sent at all.
  auto shared = Upload(two);
  ASSERT_TRUE(shared.ok()) << shared.status();
  EXPECT_NE(shared->image().manifest().digest(), first.manifest().digest());
  EXPECT_LE(shared->bytes_received(), kRemainderBytes);
  EXPECT_GE(shared->entries_from_store(), 1);
  ASSERT_EQ(shared->image().layers_size(), 1);
  EXPECT_EQ(shared->image().layers(0).digest(), first.layers(0).digest());
  PushAndVerify(shared->image(), "buildah/two");
}

TEST_F(ArchiveDedupImportTest, AnImageInAnotherFormatSharingAllLayersSendsNoLayerBytes) {
  std::string oci = SkopeoCopy("oci-archive", "skopeo-oci.tar", "dedup/oci:1");
  std::string docker = SkopeoCopy("docker-archive", "skopeo-docker.tar", "dedup/docker:1");
  auto stored = Upload(oci);
  ASSERT_TRUE(stored.ok()) << stored.status();
  // The docker-archive carries the layers uncompressed; the store knows them by diff_id.
  auto shared = Upload(docker);
  ASSERT_TRUE(shared.ok()) << shared.status();
  EXPECT_LE(shared->bytes_received(), kRemainderBytes);
  EXPECT_EQ(shared->layers_compressed(), 0);
  ASSERT_EQ(shared->image().layers_size(), stored->image().layers_size());
  for (int i = 0; i < shared->image().layers_size(); ++i) {
    EXPECT_EQ(shared->image().layers(i).digest(), stored->image().layers(i).digest());
  }
  PushAndVerify(shared->image(), "cross/docker");
}

TEST_F(ArchiveDedupImportTest, ABlobThatDoesNotMatchItsNameIsDataLossAndNothingIsVisible) {
  // The good image is stored first, so the store holds every blob the bad tar names: the
  // client must still send the mismatching blob rather than trust its name.
  std::string good = SkopeoCopy("oci-archive", "good.tar", "dedup/good:1");
  auto stored = Upload(good);
  ASSERT_TRUE(stored.ok()) << stored.status();
  ASSERT_GE(stored->image().layers_size(), 1);

  std::string bad_dir = dir_.Sub("bad");
  std::filesystem::copy(SourceLayout(), bad_dir, std::filesystem::copy_options::recursive);
  std::string layer_hex = stored->image().layers(0).digest().substr(7);
  std::string blob = bad_dir + "/blobs/sha256/" + layer_hex;
  ASSERT_TRUE(std::filesystem::exists(blob)) << blob;
  std::filesystem::permissions(blob, std::filesystem::perms::owner_write,
                               std::filesystem::perm_options::add);
  {
    std::fstream f(blob, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(100);
    f.put('\x5a');  // one byte differs: the blob no longer hashes to its name
  }
  ProcessResult r = Tool({"tar", "-C", bad_dir, "-cf", dir_.Sub("bad.tar"), "."});
  ASSERT_EQ(r.exit_code, 0) << r.err;

  auto bad = Upload(dir_.Sub("bad.tar"), {}, "dedup/bad:1");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kDataLoss) << bad.status();
  EXPECT_THAT(std::string(bad.status().message()), HasSubstr(layer_hex));

  r = Slipway({"images", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr(stored->image().manifest().digest()));
  // The bad tar names the same manifest as the good one; the failed import added no tag.
  EXPECT_THAT(r.out, ::testing::Not(HasSubstr("dedup/bad")));
  // The stored layer still verifies.
  r = RunProcess({"sha256sum", server_->data_dir() + "/blobs/sha256/" + layer_hex});
  EXPECT_THAT(r.out, HasSubstr(layer_hex));
}

TEST_F(ArchiveDedupImportTest, AnOmittedBlobThatLeavesTheStoreIsSentAgainInFull) {
  std::string tar = SkopeoCopy("oci-archive", "skopeo-oci.tar", "dedup/oci:1");
  auto stored = Upload(tar);
  ASSERT_TRUE(stored.ok()) << stored.status();
  ASSERT_GE(stored->image().layers_size(), 1);
  // Untag and drop the blob behind the client's back once it has decided to omit it, as a
  // garbage collection between FindMissingBlobs and the import would.
  ProcessResult r = Slipway({"rm", stored->image().manifest().digest()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string blob =
      server_->data_dir() + "/blobs/sha256/" + stored->image().layers(0).digest().substr(7);
  bool removed = false;
  int sending_calls = 0;
  auto progress = [&](const client::UploadProgress& p) {
    if (p.phase != client::UploadProgress::Phase::kSending) return;
    ++sending_calls;
    if (!removed && p.entries_omitted > 0) removed = std::filesystem::remove(blob);
  };
  auto again = Upload(tar, progress);
  ASSERT_TRUE(removed);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->image().manifest().digest(), stored->image().manifest().digest());
  EXPECT_EQ(again->entries_from_store(), 0);  // the retry sent everything
  EXPECT_GE(again->bytes_received(), FileSize(tar) * 9 / 10);
  EXPECT_TRUE(std::filesystem::exists(blob));
  PushAndVerify(again->image(), "retry/oci");
}

TEST_F(ArchiveDedupImportTest, ADockerCombinedExportReimportsWithoutLayerBytes) {
  // Docker 25+ combined layout (OCI blobs plus manifest.json), as `slipway export` writes it.
  std::string oci = SkopeoCopy("oci-archive", "skopeo-oci.tar", "dedup/oci:1");
  auto stored = Upload(oci);
  ASSERT_TRUE(stored.ok()) << stored.status();
  const std::string combined = dir_.Sub("combined.tar");
  ProcessResult r = Slipway({"export", stored->image().manifest().digest(), "-o", combined,
                             "--format", "docker"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto again = Upload(combined, {}, "dedup/combined:1");
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_LE(again->bytes_received(), kRemainderBytes);
  EXPECT_GE(again->entries_from_store(), stored->image().layers_size());
  EXPECT_EQ(again->image().config_digest(), stored->image().config_digest());
  PushAndVerify(again->image(), "combined/app");
}

TEST_F(ArchiveDedupImportTest, NonTarFilesStreamUnchangedAndLocalErrorsNameTheFile) {
  testing::WriteFile(dir_.Sub("junk.tar"), std::string(5000, 'j'));
  auto junk = Upload(dir_.Sub("junk.tar"));
  ASSERT_FALSE(junk.ok());
  EXPECT_EQ(junk.status().code(), absl::StatusCode::kInvalidArgument) << junk.status();
  EXPECT_THAT(std::string(junk.status().message()), ::testing::StartsWith("ImportImage: "));

  auto missing = Upload(dir_.Sub("missing.tar"));
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound) << missing.status();
  EXPECT_THAT(std::string(missing.status().message()), HasSubstr(dir_.Sub("missing.tar")));
}

}  // namespace
}  // namespace slipway
