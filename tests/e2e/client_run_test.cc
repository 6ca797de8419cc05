// RUN through the real slipwayd and slipway: output, failures, secrets, cache mounts,
// containment, ONBUILD, the probe's fallback, and the image running under runc.

#include <signal.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/e2e/e2e_fixture.h"
#include "tests/support/subprocess.h"

namespace slipway::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

// True when `needle` occurs in any regular file under `root` (bounded: files up to 256 MiB).
bool AnyFileContains(const std::string& root, const std::string& needle) {
  std::error_code ec;
  for (auto it = std::filesystem::recursive_directory_iterator(
           root, std::filesystem::directory_options::skip_permission_denied, ec);
       !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
    if (!it->is_regular_file(ec) || it->is_symlink(ec)) continue;
    if (it->file_size(ec) > (256u << 20)) continue;
    std::ifstream in(it->path(), std::ios::binary);
    std::string content((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (content.find(needle) != std::string::npos) return true;
  }
  return false;
}

class ClientRunTest : public ClientTest {
 protected:
  void SetUp() override {
    ClientTest::SetUp();
    ctx_ = dir_.Sub("ctx");
    WriteFile(ctx_ + "/input.txt", "from the context\n");
    ImportBase();
  }

  void ImportBase() {
    std::string digest = MakeOciLayout(dir_.Sub("base-oci"));
    ProcessResult r = Slipway({"import", dir_.Sub("base-oci"), "--tag", "test/busybox:1"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }

  ProcessResult Build(const std::string& dockerfile, std::vector<std::string> extra = {},
                      const std::map<std::string, std::string>& env = {}) {
    WriteFile(dir_.Sub("Dockerfile"), dockerfile);
    std::vector<std::string> args{"build", "-f", dir_.Sub("Dockerfile")};
    args.insert(args.end(), extra.begin(), extra.end());
    args.push_back(ctx_);
    return Slipway(args, env);
  }

  // The image's merged root filesystem, exported and unpacked with umoci (independent of us).
  std::string Unpack(const std::string& ref) {
    const std::string archive = dir_.Sub("export-" + std::to_string(++exports_) + ".tar");
    ProcessResult r = Slipway({"export", ref, "--format", "oci", "-o", archive});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    const std::string layout = dir_.Sub("layout-" + std::to_string(exports_));
    r = RunProcess({"skopeo", "--insecure-policy", "copy", "-q", "oci-archive:" + archive,
                    "oci:" + layout + ":img"},
                   {}, absl::Seconds(120));
    EXPECT_EQ(r.exit_code, 0) << r.err;
    const std::string bundle = dir_.Sub("bundle-" + std::to_string(exports_));
    r = RunProcess({"umoci", "unpack", "--image", layout + ":img", bundle}, {},
                   absl::Seconds(120));
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return bundle;
  }

  std::string ctx_;
  int exports_ = 0;
};

TEST_F(ClientRunTest, RunMakesALayerAndTheImageRunsUnderRunc) {
  ProcessResult r = Build(
      "FROM test/busybox:1\n"
      "RUN echo built-by-run > /made && busybox mkdir -p /opt/app && echo '#!/bin/sh' > /opt/app/hello "
      "&& echo 'echo hello from the image' >> /opt/app/hello && busybox chmod 0755 /opt/app/hello\n"
      "RUN busybox rm /bin/ls\n"
      "CMD [\"/opt/app/hello\"]\n",
      {"-t", "test/run:1"});
  ASSERT_EQ(r.exit_code, 0) << r.err << r.out;
  const std::string bundle = Unpack("test/run:1");
  EXPECT_EQ(ReadFile(bundle + "/rootfs/made"), "built-by-run\n");
  // The deletion reached the image as a whiteout.
  EXPECT_FALSE(std::filesystem::exists(bundle + "/rootfs/bin/ls"));
  EXPECT_TRUE(std::filesystem::exists(bundle + "/rootfs/bin/cat"));

  // runc runs the image's CMD (umoci wrote the runtime config).
  std::ifstream in(bundle + "/config.json");
  nlohmann::json config = nlohmann::json::parse(in, nullptr, false);
  ASSERT_TRUE(config.is_object());
  config["process"]["terminal"] = false;
  std::ofstream(bundle + "/config.json") << config.dump();
  const std::string id = "slipway-test-" + std::to_string(getpid());
  r = RunProcess({"runc", "--root", dir_.Sub("runc-state"), "run", "--bundle", bundle, id}, {},
                 absl::Seconds(60));
  EXPECT_EQ(r.exit_code, 0) << r.err << r.out;
  EXPECT_THAT(r.out, HasSubstr("hello from the image"));
}

TEST_F(ClientRunTest, OutputStreamsAndAFailureNamesTheCommandExitCodeAndOutput) {
  ProcessResult r = Build(
      "FROM test/busybox:1\n"
      "RUN echo first line && echo to-stderr >&2 && echo last words && exit 3\n",
      {"-t", "test/fails:1", "--json"});
  EXPECT_EQ(r.exit_code, 1);
  // The log lines arrived as events, before the failure.
  std::vector<std::string> logs;
  for (absl::string_view line : absl::StrSplit(r.out, '\n', absl::SkipEmpty())) {
    auto j = nlohmann::json::parse(line, nullptr, false);
    if (j.is_object() && j.value("type", "") == "log") logs.push_back(j.value("line", ""));
  }
  EXPECT_THAT(logs, ::testing::IsSupersetOf({"first line", "to-stderr", "last words"}));
  EXPECT_THAT(r.err, HasSubstr("Dockerfile:2"));
  EXPECT_THAT(r.err, HasSubstr("exit code 3"));
  EXPECT_THAT(r.err, HasSubstr("last words"));
  EXPECT_THAT(Slipway({"images"}).out, Not(HasSubstr("test/fails")));
}

TEST_F(ClientRunTest, SecretsReachTheRunAndNothingElse) {
  const std::string secret = "s3cr3t-value-" + std::to_string(getpid());
  WriteFile(dir_.Sub("token"), secret);
  // The RUN proves it read the secret by recording its length (never the value).
  std::string df = absl::StrCat(
      "FROM test/busybox:1\n"
      "RUN --mount=type=secret,id=tok,required "
      "busybox wc -c < /run/secrets/tok > /secret-length\n");
  ProcessResult r = Build(df, {"-t", "test/secret:1", "--secret",
                               "id=tok,src=" + dir_.Sub("token")});
  ASSERT_EQ(r.exit_code, 0) << r.err << r.out;
  const std::string bundle = Unpack("test/secret:1");
  EXPECT_EQ(std::string(absl::StripAsciiWhitespace(ReadFile(bundle + "/rootfs/secret-length"))),
            std::to_string(secret.size()));
  EXPECT_FALSE(std::filesystem::exists(bundle + "/rootfs/run/secrets/tok"));
  // Not in the store, the index, the unpacked layers, the client's output.
  EXPECT_FALSE(AnyFileContains(server_->data_dir(), secret));
  EXPECT_THAT(r.out + r.err, Not(HasSubstr(secret)));
  // Not in the cache key: another value of the secret hits the cache.
  WriteFile(dir_.Sub("token"), "another value");
  r = Build(df, {"-t", "test/secret:2", "--secret", "id=tok,src=" + dir_.Sub("token"), "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("\"state\":\"cached\""));
  // A required secret the build lacks is refused, naming it.
  r = Build(df + "LABEL x=1\n", {"--no-cache"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("secret \"tok\""));
}

TEST_F(ClientRunTest, CacheMountsPersistAndHostileIdsStayInsideTheirRoot) {
  const std::string sentinel_dir = dir_.Sub("outside");
  std::filesystem::create_directories(sentinel_dir);
  WriteFile(sentinel_dir + "/sentinel", "untouched\n");
  ProcessResult r = Build(
      "FROM test/busybox:1\n"
      "RUN --mount=type=cache,id=../../../../../../" + sentinel_dir.substr(1) +
          ",target=/cache echo written > /cache/sentinel && echo one >> /cache/count\n",
      {"-t", "test/cache:1"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(ReadFile(sentinel_dir + "/sentinel"), "untouched\n");
  // The same id sees what the first run left (a different RUN text, so no layer cache hit).
  r = Build(
      "FROM test/busybox:1\n"
      "RUN --mount=type=cache,id=../../../../../../" + sentinel_dir.substr(1) +
          ",target=/cache busybox wc -l < /cache/count > /runs\n",
      {"-t", "test/cache:2"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string bundle = Unpack("test/cache:2");
  EXPECT_EQ(std::string(absl::StripAsciiWhitespace(ReadFile(bundle + "/rootfs/runs"))), "1");
  EXPECT_FALSE(std::filesystem::exists(bundle + "/rootfs/cache/count"));
  EXPECT_EQ(ReadFile(sentinel_dir + "/sentinel"), "untouched\n");

  // A RUN swaps a directory of the cache for a symlink to the host path; a later RUN writing
  // through it stays inside its own root.
  r = Build(
      "FROM test/busybox:1\n"
      "RUN --mount=type=cache,id=swap,target=/c busybox mkdir -p /c/dir && busybox rm -r /c/dir "
      "&& busybox ln -s " + sentinel_dir + " /c/dir\n"
      "RUN --mount=type=cache,id=swap,target=/c echo overwritten > /c/dir/sentinel; true\n",
      {"-t", "test/cache:3"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(ReadFile(sentinel_dir + "/sentinel"), "untouched\n");
}

TEST_F(ClientRunTest, SymlinkedMountTargetsAndServerFilesAreOutOfReach) {
  // A symlink the build made points at a host path; a mount through it lands inside the root.
  const std::string host_dir = dir_.Sub("host-target");
  std::filesystem::create_directories(host_dir);
  WriteFile(host_dir + "/sentinel", "untouched\n");
  ProcessResult r = Build(
      "FROM test/busybox:1\n"
      "RUN busybox ln -s " + host_dir + " /escape\n"
      "RUN --mount=type=tmpfs,target=/escape echo inside > /escape/sentinel; "
      "cat /proc/1/environ > /environ 2>/dev/null; busybox env > /env; "
      "cat " + server_->data_dir() + "/index.db > /stolen 2>/dev/null; true\n"
      "RUN --mount=type=secret,id=tok,target=/escape/leaked true\n",
      {"-t", "test/contained:1", "--secret", "id=tok,env=CONTAINMENT_SECRET"},
      {{"CONTAINMENT_SECRET", "do-not-leak"}});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(ReadFile(host_dir + "/sentinel"), "untouched\n");
  // The secret's target through the same symlink did not land on the host either.
  EXPECT_FALSE(std::filesystem::exists(host_dir + "/leaked"));
  const std::string bundle = Unpack("test/contained:1");
  // The server's files (its index, any credentials beside it) are not in the RUN's world.
  EXPECT_EQ(ReadFile(bundle + "/rootfs/stolen"), "");
  EXPECT_THAT(ReadFile(bundle + "/rootfs/env"), Not(HasSubstr("SLIPWAY")));
  // Nor is the server's environment, through the namespace's init process.
  EXPECT_THAT(ReadFile(bundle + "/rootfs/environ"), Not(HasSubstr("SLIPWAY")));
}

TEST_F(ClientRunTest, OnbuildTriggersRunInTheChildAndAreNotInherited) {
  ProcessResult r = Build(
      "FROM test/busybox:1\n"
      "ONBUILD COPY input.txt /from-child-context\n"
      "ONBUILD RUN echo triggered > /onbuild-ran\n",
      {"-t", "test/parent:1"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = Build("FROM test/parent:1\nRUN cat /onbuild-ran > /seen\n", {"-t", "test/child:1"});
  ASSERT_EQ(r.exit_code, 0) << r.err << r.out;
  const std::string bundle = Unpack("test/child:1");
  EXPECT_EQ(ReadFile(bundle + "/rootfs/seen"), "triggered\n");
  EXPECT_EQ(ReadFile(bundle + "/rootfs/from-child-context"), "from the context\n");
  std::ifstream in(bundle + "/config.json");
  // The child's config has no triggers left (read from the image config, not runc's).
  const std::string archive = dir_.Sub("child.tar");
  ASSERT_EQ(Slipway({"export", "test/child:1", "--format", "oci", "-o", archive}).exit_code, 0);
  ProcessResult listing = RunProcess({"tar", "-xOf", archive, "--wildcards", "blobs/*"}, {},
                                     absl::Seconds(30));
  EXPECT_THAT(listing.out, Not(HasSubstr("onbuild-ran\"]")));
}

// The client goes away mid-RUN (CI cancelled the job): the whole process tree of the RUN dies
// with the build, before it can do what it would have done later.
TEST_F(ClientRunTest, ClientDisconnectKillsTheRunsProcessTree) {
  WriteFile(dir_.Sub("Dockerfile"),
            "FROM test/busybox:1\n"
            "RUN --mount=type=cache,id=disconnect,target=/m echo started; "
            "(busybox sleep 4; echo late > /m/from-child) & busybox sleep 4; echo late > /m/marker\n");
  std::map<std::string, std::string> env = env_;
  const std::string log = dir_.Sub("client.log");
  pid_t client = SpawnProcess({SLIPWAY_BIN, "build", "-f", dir_.Sub("Dockerfile"), ctx_}, env, log);
  ASSERT_GT(client, 0);
  bool started = false;
  for (int i = 0; i < 300 && !started; ++i) {  // up to 30 s
    started = absl::StrContains(ReadFile(log), "started\n") &&
              absl::StrContains(ReadFile(log), "| started");
    if (!started) absl::SleepFor(absl::Milliseconds(100));
  }
  ASSERT_TRUE(started) << ReadFile(log);
  ::kill(client, SIGKILL);
  ProcessResult ignored;
  WaitForExit(client, absl::Seconds(10), &ignored);
  absl::SleepFor(absl::Seconds(6));  // past the moment the RUN would have written its markers
  // The cache directory is <data>/run-cache/<hex sha256 of the id>.
  ProcessResult hex = RunProcess({"/bin/sh", "-c", "printf disconnect | sha256sum | cut -c1-64"});
  const std::string cache = server_->data_dir() + "/run-cache/" +
                            std::string(absl::StripAsciiWhitespace(hex.out));
  EXPECT_TRUE(std::filesystem::is_directory(cache)) << cache;
  EXPECT_FALSE(std::filesystem::exists(cache + "/marker"));
  EXPECT_FALSE(std::filesystem::exists(cache + "/from-child"));
  // The service is fine and builds again.
  EXPECT_EQ(Build("FROM test/busybox:1\nRUN echo again > /again\n").exit_code, 0);
}

TEST(ClientRunProbeTest, WithoutASandboxRunIsRefusedClearlyAndOtherBuildsWork) {
  SlipwaydOptions options;
  options.extra_args = {"--sandbox-helper", "/nonexistent/slipway-sandbox"};
  auto server = StartSlipwayd(options);
  ASSERT_NE(server, nullptr);
  TempDir dir;
  std::map<std::string, std::string> env{{"SLIPWAY_ADDR", server->address()}};
  auto slipway = [&](std::vector<std::string> args) {
    args.insert(args.begin(), SLIPWAY_BIN);
    return RunProcess(args, env, absl::Seconds(120));
  };
  MakeOciLayout(dir.Sub("oci"));
  ASSERT_EQ(slipway({"import", dir.Sub("oci"), "--tag", "test/busybox:1"}).exit_code, 0);
  WriteFile(dir.Sub("ctx/f"), "f\n");
  WriteFile(dir.Sub("Dockerfile"), "FROM test/busybox:1\nRUN echo hi\n");
  ProcessResult r = slipway({"build", "-f", dir.Sub("Dockerfile"), dir.Sub("ctx")});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.out + r.err, HasSubstr("RUN cannot run on this host"));
  EXPECT_THAT(r.err, HasSubstr("Dockerfile:2"));
  WriteFile(dir.Sub("Dockerfile"), "FROM test/busybox:1\nCOPY f /f\n");
  r = slipway({"build", "-f", dir.Sub("Dockerfile"), dir.Sub("ctx")});
  EXPECT_EQ(r.exit_code, 0) << r.err;
}

}  // namespace
}  // namespace slipway::testing
