// The client binary against the real server: an image through the store and back out, checked
// with skopeo (an independent verifier), plus draining an in-flight import on SIGTERM.
#include <sys/stat.h>

#include <filesystem>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "slipway/v1/slipway.grpc.pb.h"
#include "tests/e2e/e2e_fixture.h"
#include "tests/support/slipwayd_process.h"
#include "tests/support/subprocess.h"
#include "tests/support/temp_dir.h"

namespace slipway {
namespace {

using ::testing::HasSubstr;
using testing::ProcessResult;
using testing::RunProcess;
using testing::SlipwaydOptions;
using testing::SlipwaydProcess;
using testing::TempDir;

using testing::MakeOciLayout;
using testing::RepoRoot;

class ClientImportExportTest : public testing::ClientTest {};

TEST_F(ClientImportExportTest, ImportDirectoryTagExportAndRemove) {
  std::string digest = MakeOciLayout(dir_.Sub("oci"));
  ASSERT_THAT(digest, ::testing::StartsWith("sha256:"));

  ProcessResult r = Slipway({"import", dir_.Sub("oci"), "--tag", "demo/busybox:v1"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr(digest));

  r = Slipway({"tag", "demo/busybox:v1", "registry.example.com/demo/busybox:v2"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = Slipway({"images"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("demo/busybox:v1"));
  EXPECT_THAT(r.out, HasSubstr("registry.example.com/demo/busybox:v2"));
  r = Slipway({"images", "--json"});
  EXPECT_THAT(r.out, HasSubstr(digest));

  // Docker format into a directory that does not exist yet; skopeo reads it back.
  std::string out = dir_.Sub("out/nested/busybox.tar");
  r = Slipway({"export", "demo/busybox:v1", "-o", out});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  for (const auto& entry : std::filesystem::directory_iterator(dir_.Sub("out/nested"))) {
    EXPECT_EQ(entry.path().filename(), "busybox.tar") << "temp file left: " << entry.path();
  }
  // skopeo's docker-archive transport rebuilds a Docker manifest from the layer tars, so the
  // image identity to compare is the config digest (which covers every layer's diff_id).
  auto config_digest = [](const std::string& transport) {
    ProcessResult r = RunProcess(
        {"/bin/sh", "-c", "skopeo inspect --raw \"$0\" | jq -r .config.digest", transport}, {},
        absl::Seconds(60));
    EXPECT_EQ(r.exit_code, 0) << transport << ": " << r.err;
    return std::string(absl::StripAsciiWhitespace(r.out));
  };
  std::string want = config_digest("oci:" + dir_.Sub("oci") + ":v1");
  ASSERT_THAT(want, ::testing::StartsWith("sha256:"));
  EXPECT_EQ(config_digest("docker-archive:" + out), want);

  // OCI format to stdout.
  r = Slipway({"export", digest, "-o", "-", "--format", "oci"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_GT(r.out.size(), 1000u);

  // A missing ref fails in one line and leaves no file behind.
  r = Slipway({"export", "nope:1", "-o", dir_.Sub("none/x.tar")});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("slipway: ExportImage: "));
  EXPECT_FALSE(std::filesystem::exists(dir_.Sub("none/x.tar")));

  r = Slipway({"rm", "demo/busybox:v1"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = Slipway({"rm", digest});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("deleted " + digest));
  r = Slipway({"gc"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = Slipway({"images", "--json"});
  EXPECT_THAT(r.out, ::testing::Not(HasSubstr(digest)));

  ProcessResult metrics =
      RunProcess({"/usr/bin/curl", "-sS", "--max-time", "10",
                  absl::StrCat("http://127.0.0.1:", server_->metrics_port(), "/metrics")});
  EXPECT_THAT(metrics.out,
              HasSubstr("slipway_rpc_requests_total{code=\"OK\",method=\"ImportImage\"} 1"));
  EXPECT_THAT(metrics.out, ::testing::Not(HasSubstr("slipway_import_bytes_total 0")));
}

TEST_F(ClientImportExportTest, ImportOfGarbageFailsCleanly) {
  testing::WriteFile(dir_.Sub("junk.tar"), std::string(5000, 'j'));
  ProcessResult r = Slipway({"import", dir_.Sub("junk.tar")});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("slipway: ImportImage: "));
  r = Slipway({"import", dir_.Sub("missing.tar")});
  EXPECT_EQ(r.exit_code, 1);
  r = Slipway({"images", "--json"});
  EXPECT_THAT(r.out, ::testing::Not(HasSubstr("sha256:")));
}

TEST(DrainE2eTest, SigtermCancelsAStalledImportAfterTheDrainTimeoutAndExitsZero) {
  SlipwaydOptions options;
  options.extra_args = {"--drain-timeout", "1"};
  auto server = testing::StartSlipwayd(options);
  ASSERT_NE(server, nullptr);
  auto stub = v1::Slipway::NewStub(server->UnixChannel());
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
  v1::ImportImageResponse response;
  auto writer = stub->ImportImage(&ctx, &response);
  v1::ImportImageRequest first;
  first.mutable_options();
  ASSERT_TRUE(writer->Write(first));
  v1::ImportImageRequest data;
  data.set_data(std::string(100, 'a'));  // less than one tar header, then the client stalls
  ASSERT_TRUE(writer->Write(data));

  // Wait (bounded) until the server has the call in flight.
  bool in_flight = false;
  for (int i = 0; i < 200 && !in_flight; ++i) {
    in_flight = server->Log().find("ImportImage started") != std::string::npos;
    if (!in_flight) absl::SleepFor(absl::Milliseconds(25));
  }
  ASSERT_TRUE(in_flight) << server->Log();

  ProcessResult result;
  ASSERT_TRUE(server->Terminate(absl::Seconds(30), &result)) << server->Log();
  EXPECT_EQ(result.exit_code, 0) << server->Log();
  grpc::Status s = writer->Finish();
  EXPECT_FALSE(s.ok());
}

}  // namespace
}  // namespace slipway

namespace slipway {
namespace {

TEST(FsckE2eTest, CorruptBlobIsAFindingAndRepairCleansIt) {
  TempDir dir;
  std::string data = dir.Sub("data");
  MakeOciLayout(dir.Sub("oci"));
  {
    SlipwaydOptions options;
    options.data_dir = data;
    auto server = testing::StartSlipwayd(options);
    ASSERT_NE(server, nullptr);
    ProcessResult r = RunProcess({SLIPWAY_BIN, "import", dir.Sub("oci"), "--tag", "fsck/me:1"},
                                 {{"SLIPWAY_ADDR", server->address()}}, absl::Seconds(120));
    ASSERT_EQ(r.exit_code, 0) << r.err;
    // fsck refuses to run beside a live server (the data-dir lock).
    ProcessResult busy = RunProcess({SLIPWAYD_BIN, "fsck", "--data-dir", data});
    EXPECT_EQ(busy.exit_code, 2) << busy.out << busy.err;
    ProcessResult stopped;
    ASSERT_TRUE(server->Terminate(absl::Seconds(60), &stopped));
    ASSERT_EQ(stopped.exit_code, 0);
  }
  ProcessResult clean = RunProcess({SLIPWAYD_BIN, "fsck", "--data-dir", data});
  ASSERT_EQ(clean.exit_code, 0) << clean.out << clean.err;

  // Corrupt the largest blob (the busybox layer) in place.
  std::string victim;
  uintmax_t biggest = 0;
  for (const auto& entry : std::filesystem::directory_iterator(data + "/blobs/sha256")) {
    if (entry.file_size() > biggest) {
      biggest = entry.file_size();
      victim = entry.path().string();
    }
  }
  ASSERT_FALSE(victim.empty());
  testing::WriteFile(victim, std::string(static_cast<size_t>(biggest), 'x'));
  std::string hex = std::filesystem::path(victim).filename().string();

  ProcessResult found = RunProcess({SLIPWAYD_BIN, "fsck", "--data-dir", data});
  EXPECT_EQ(found.exit_code, 1) << found.out << found.err;
  EXPECT_THAT(found.out, HasSubstr(hex));
  ProcessResult repaired = RunProcess({SLIPWAYD_BIN, "fsck", "--repair", "--data-dir", data});
  EXPECT_NE(repaired.exit_code, 2) << repaired.out << repaired.err;
  ProcessResult after = RunProcess({SLIPWAYD_BIN, "fsck", "--data-dir", data});
  EXPECT_EQ(after.exit_code, 0) << after.out << after.err;
}

}  // namespace
}  // namespace slipway
