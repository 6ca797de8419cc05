// The CI step (`slipway` configured by PLUGIN_* variables) end to end: the real slipwayd and
// slipway binaries, real docker-registry processes on 127.0.0.1, skopeo as the verifier.
#include <sys/stat.h>

#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "gmock/gmock.h"
#include "nlohmann/json.hpp"
#include "tests/e2e/e2e_fixture.h"
#include "tests/support/podman_service.h"
#include "tests/support/registry_process.h"
#include "tests/support/run_command.h"

namespace slipway::testing {
namespace {

using ::testing::HasSubstr;
using Env = std::map<std::string, std::string>;

constexpr char kEmptyCatalog[] = R"({"repositories":[]})";

class StepE2eTest : public ::testing::Test {
 protected:
  void SetUp() override { StartServer({}); }

  void StartServer(std::vector<std::string> extra_args) {
    SlipwaydOptions options;
    options.extra_args = std::move(extra_args);
    server_ = StartSlipwayd(options);
    ASSERT_NE(server_, nullptr);
    ctx_ = dir_.Sub("ctx");
    WriteFile(ctx_ + "/hello.txt", "hello from the step\n");
    WriteFile(ctx_ + "/Dockerfile",
              "FROM scratch\nARG GREETING=none\nCOPY hello.txt /hello.txt\n"
              "LABEL greeting=$GREETING\n");
  }

  std::unique_ptr<RegistryProcess> Registry() {
    auto r = RegistryProcess::Start();
    EXPECT_NE(r, nullptr);
    return r;
  }

  // The step as CI runs it: no arguments, settings in the environment.
  ProcessResult Step(Env env) {
    env["SLIPWAY_ADDR"] = server_->address();
    if (!env.count("PLUGIN_CONTEXT")) env["PLUGIN_CONTEXT"] = ctx_;
    env["PLUGIN_SOURCE_DATE_EPOCH"] = "1700000000";
    return RunProcess({SLIPWAY_BIN}, env, absl::Seconds(180));
  }

  ProcessResult Slipway(std::vector<std::string> args) {
    args.insert(args.begin(), SLIPWAY_BIN);
    return RunProcess(args, {{"SLIPWAY_ADDR", server_->address()}}, absl::Seconds(180));
  }

  static std::string Catalog(const RegistryProcess& r) {
    return std::string(absl::StripAsciiWhitespace(
        RunCommand("curl -s --max-time 20 " + ShellQuote(r.url() + "/v2/_catalog")).output));
  }

  // The manifest digest the registry serves for `ref` ("host/repo:tag"), via skopeo.
  static std::string RemoteDigest(const std::string& ref) {
    CommandResult r = RunCommand("timeout 120 skopeo inspect --tls-verify=false " +
                                 ShellQuote("docker://" + ref));
    if (r.exit_code != 0) return "skopeo failed: " + r.output;
    auto j = nlohmann::json::parse(r.output, nullptr, false);
    return j.is_object() ? j.value("Digest", "") : "not json: " + r.output;
  }

  static std::string Trim(const std::string& s) {
    return std::string(absl::StripAsciiWhitespace(s));
  }

  TempDir dir_;
  std::string ctx_;
  std::unique_ptr<SlipwaydProcess> server_;
};

TEST_F(StepE2eTest, BuildOnlyWritesATarballSkopeoReadsAndPushesNothing) {
  auto reg = Registry();
  ASSERT_NE(reg, nullptr);
  const std::string tar = dir_.Sub("out/deep/image.tar");
  ProcessResult r = Step({{"PLUGIN_NO_PUSH", "true"},
                          {"PLUGIN_REPO", reg->host() + "/team/app"},
                          {"PLUGIN_TAGS", "1.0,latest"},
                          {"PLUGIN_BUILD_ARGS", "GREETING=hi"},
                          {"PLUGIN_TAR_PATH", tar},
                          {"PLUGIN_INSECURE", "true"},
                          {"DRONE_OUTPUT", dir_.Sub("drone.env")},
                          {"PLUGIN_DIGEST_FILE", dir_.Sub("digest")}});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_THAT(r.out, HasSubstr("==> build"));
  EXPECT_THAT(r.out, HasSubstr("==> done (build-only"));
  const std::string digest = ReadFile(dir_.Sub("digest"));
  ASSERT_EQ(digest.rfind("sha256:", 0), 0u) << digest;

  CommandResult inspect = RunCommand("timeout 120 skopeo inspect " +
                                     ShellQuote("docker-archive:" + tar));
  ASSERT_EQ(inspect.exit_code, 0) << inspect.output;
  auto j = nlohmann::json::parse(inspect.output, nullptr, false);
  ASSERT_TRUE(j.is_object()) << inspect.output;
  EXPECT_EQ(j["Labels"].value("greeting", ""), "hi");
  // No temp file is left beside it.
  for (const auto& e : std::filesystem::directory_iterator(dir_.Sub("out/deep"))) {
    EXPECT_EQ(e.path().filename().string(), "image.tar");
  }
  EXPECT_EQ(ReadFile(dir_.Sub("drone.env")),
            absl::StrCat("digest=", digest, "\nIMAGE_TAR_PATH=", tar, "\n"));
  EXPECT_EQ(Catalog(*reg), kEmptyCatalog);
  // Tagged in the store as repo:tag for a later push-only step.
  ProcessResult images = Slipway({"images"});
  EXPECT_THAT(images.out, HasSubstr(reg->host() + "/team/app"));
}

// OCI_LAYOUT_PATH: the image as an OCI layout directory that skopeo reads, digest for digest.
TEST_F(StepE2eTest, BuildOnlyWritesAnOciLayoutSkopeoReads) {
  const std::string layout = dir_.Sub("out/layout");
  ProcessResult r = Step({{"PLUGIN_NO_PUSH", "true"},
                          {"PLUGIN_REPO", "registry.example.com/team/layout"},
                          {"PLUGIN_TAGS", "3.0"},
                          {"PLUGIN_OCI_LAYOUT_PATH", layout},
                          {"PLUGIN_DIGEST_FILE", dir_.Sub("digest")}});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  CommandResult inspect =
      RunCommand("timeout 120 skopeo inspect --raw " + ShellQuote("oci:" + layout));
  ASSERT_EQ(inspect.exit_code, 0) << inspect.output;
  CommandResult digest = RunCommand("printf %s " + ShellQuote(inspect.output) + " | sha256sum");
  EXPECT_EQ("sha256:" + digest.output.substr(0, 64), ReadFile(dir_.Sub("digest")));
  // Nothing half-written is left beside it.
  for (const auto& e : std::filesystem::directory_iterator(dir_.Sub("out"))) {
    EXPECT_EQ(e.path().filename().string(), "layout");
  }
}

// BUILDX_LOAD with a Docker Engine API (podman's) configured: the image also lands there, with
// the step's tags, and stays in the store.
TEST_F(StepE2eTest, BuildOnlyWithBuildxLoadLoadsIntoTheDockerEngine) {
  auto engine = PodmanService::Start();
  ASSERT_NE(engine, nullptr);
  ProcessResult r = Step({{"PLUGIN_NO_PUSH", "true"},
                          {"PLUGIN_REPO", "registry.example.com/team/loaded"},
                          {"PLUGIN_TAGS", "2.0"},
                          {"PLUGIN_BUILDX_LOAD", "true"},
                          {"DOCKER_HOST", engine->docker_host()}});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_THAT(r.out, HasSubstr("loaded into the Docker Engine"));
  std::string images = engine->Get("/images/json").body;
  EXPECT_THAT(images, HasSubstr("registry.example.com/team/loaded:2.0")) << engine->Log();
  EXPECT_THAT(Slipway({"images"}).out, HasSubstr("registry.example.com/team/loaded"));
}

TEST_F(StepE2eTest, BuildOnlyThenPushOnlyFromTheStoreInASecondProcess) {
  auto reg = Registry();
  ASSERT_NE(reg, nullptr);
  const std::string repo = reg->host() + "/team/app";
  ProcessResult built = Step({{"PLUGIN_NO_PUSH", "true"}, {"PLUGIN_REPO", repo},
                              {"PLUGIN_TAGS", "1.0"}, {"PLUGIN_DIGEST_FILE", dir_.Sub("d1")}});
  ASSERT_EQ(built.exit_code, 0) << built.out << built.err;
  EXPECT_EQ(Catalog(*reg), kEmptyCatalog);
  ProcessResult pushed = Step({{"PLUGIN_PUSH_ONLY", "true"}, {"PLUGIN_REPO", repo},
                               {"PLUGIN_TAGS", "1.0"}, {"PLUGIN_INSECURE", "true"},
                               {"PLUGIN_DIGEST_FILE", dir_.Sub("d2")}});
  ASSERT_EQ(pushed.exit_code, 0) << pushed.out << pushed.err;
  EXPECT_THAT(pushed.out, HasSubstr("TARGET"));
  EXPECT_EQ(ReadFile(dir_.Sub("d1")), ReadFile(dir_.Sub("d2")));
  EXPECT_EQ(RemoteDigest(repo + ":1.0"), ReadFile(dir_.Sub("d1")));
}

TEST_F(StepE2eTest, PushOnlyFromSourceTarWrittenBySkopeoDockerAndOciArchives) {
  const std::string layout = dir_.Sub("oci");
  ASSERT_FALSE(MakeOciLayout(layout).empty());
  const std::string docker_tar = dir_.Sub("docker.tar");
  const std::string oci_tar = dir_.Sub("oci.tar");
  CommandResult c1 = RunCommand("timeout 120 skopeo copy " + ShellQuote("oci:" + layout + ":v1") +
                                " " + ShellQuote("docker-archive:" + docker_tar + ":src/app:v1"));
  ASSERT_EQ(c1.exit_code, 0) << c1.output;
  CommandResult c2 = RunCommand("timeout 120 skopeo copy " + ShellQuote("oci:" + layout + ":v1") +
                                " " + ShellQuote("oci-archive:" + oci_tar + ":v1"));
  ASSERT_EQ(c2.exit_code, 0) << c2.output;
  auto reg = Registry();
  ASSERT_NE(reg, nullptr);
  for (const auto& [tar, repo] : {std::pair{docker_tar, std::string("from/docker")},
                                  std::pair{oci_tar, std::string("from/oci")}}) {
    const std::string name = reg->host() + "/" + repo;
    ProcessResult r = Step({{"PLUGIN_PUSH_ONLY", "true"}, {"PLUGIN_REPO", name},
                            {"PLUGIN_TAGS", "t1"}, {"PLUGIN_SOURCE_TAR_PATH", tar},
                            {"PLUGIN_INSECURE", "true"},
                            {"PLUGIN_DIGEST_FILE", dir_.Sub(repo + ".digest")}});
    ASSERT_EQ(r.exit_code, 0) << tar << "\n" << r.out << r.err;
    EXPECT_THAT(r.out, HasSubstr("==> import"));
    EXPECT_EQ(RemoteDigest(name + ":t1"), ReadFile(dir_.Sub(repo + ".digest"))) << tar;
  }
}

TEST_F(StepE2eTest, SourceImageIsRetaggedAndPushedWithEveryTag) {
  ASSERT_FALSE(MakeOciLayout(dir_.Sub("oci")).empty());
  ASSERT_EQ(Slipway({"import", dir_.Sub("oci"), "--tag", "local/src:v1"}).exit_code, 0);
  auto reg = Registry();
  ASSERT_NE(reg, nullptr);
  const std::string repo = reg->host() + "/retagged/app";
  ProcessResult r = Step({{"PLUGIN_PUSH_ONLY", "true"}, {"PLUGIN_REPO", repo},
                          {"PLUGIN_TAGS", "a,b"}, {"PLUGIN_SOURCE_IMAGE", "local/src:v1"},
                          {"PLUGIN_INSECURE", "true"},
                          {"PLUGIN_IMAGE_NAME_TAG_WITH_DIGEST_FILE", dir_.Sub("tagged")}});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  const std::string da = RemoteDigest(repo + ":a");
  EXPECT_EQ(da, RemoteDigest(repo + ":b"));
  EXPECT_EQ(ReadFile(dir_.Sub("tagged")),
            absl::StrCat(repo, ":a@", da, "\n", repo, ":b@", da, "\n"));
  // The store has the new names too.
  EXPECT_THAT(Slipway({"images"}).out, HasSubstr(repo));
}

TEST_F(StepE2eTest, BuildOnceThenFourParallelPushOnlyStepsToFourRegistries) {
  ProcessResult built = Step({{"PLUGIN_NO_PUSH", "true"}, {"PLUGIN_REPO", "local/built"},
                              {"PLUGIN_TAGS", "1"}, {"PLUGIN_DIGEST_FILE", dir_.Sub("digest")}});
  ASSERT_EQ(built.exit_code, 0) << built.out << built.err;
  const std::string digest = ReadFile(dir_.Sub("digest"));
  std::vector<std::unique_ptr<RegistryProcess>> regs;
  for (int i = 0; i < 4; ++i) {
    regs.push_back(Registry());
    ASSERT_NE(regs.back(), nullptr);
  }
  std::vector<pid_t> pids;
  for (int i = 0; i < 4; ++i) {
    Env env = {{"SLIPWAY_ADDR", server_->address()},
               {"PLUGIN_PUSH_ONLY", "true"},
               {"PLUGIN_REPO", regs[i]->host() + "/fan/app"},
               {"PLUGIN_TAGS", "v" + std::to_string(i)},
               {"PLUGIN_SOURCE_IMAGE", "local/built:1"},
               {"PLUGIN_INSECURE", "true"}};
    pids.push_back(SpawnProcess({SLIPWAY_BIN}, env, dir_.Sub("push" + std::to_string(i) + ".log")));
    ASSERT_GT(pids.back(), 0);
  }
  for (int i = 0; i < 4; ++i) {
    ProcessResult done;
    ASSERT_TRUE(WaitForExit(pids[i], absl::Seconds(180), &done)) << "push " << i << " hung";
    EXPECT_EQ(done.exit_code, 0) << ReadFile(dir_.Sub("push" + std::to_string(i) + ".log"));
  }
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(RemoteDigest(regs[i]->host() + "/fan/app:v" + std::to_string(i)), digest);
  }
}

TEST_F(StepE2eTest, DestinationsFanOutInOneCallWithATable) {
  auto r1 = Registry();
  auto r2 = Registry();
  auto r3 = Registry();
  ASSERT_TRUE(r1 && r2 && r3);
  ProcessResult r = Step({{"PLUGIN_REPO", r1->host() + "/main/app"},
                          {"PLUGIN_TAGS", "1.0"},
                          {"PLUGIN_DESTINATIONS",
                           r2->host() + "/mirror/app," + r3->host() + "/other/name:special"},
                          {"PLUGIN_INSECURE", "true"},
                          {"PLUGIN_DIGEST_FILE", dir_.Sub("digest")},
                          {"PLUGIN_ARTIFACT_FILE", dir_.Sub("artifact.json")}});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_THAT(r.out, HasSubstr("==> push-many"));
  EXPECT_THAT(r.out, HasSubstr(r1->host() + "/main/app"));
  EXPECT_THAT(r.out, HasSubstr(r3->host() + "/other/name"));
  const std::string digest = ReadFile(dir_.Sub("digest"));
  EXPECT_EQ(RemoteDigest(r1->host() + "/main/app:1.0"), digest);
  EXPECT_EQ(RemoteDigest(r2->host() + "/mirror/app:1.0"), digest);
  EXPECT_EQ(RemoteDigest(r3->host() + "/other/name:special"), digest);
  auto j = nlohmann::json::parse(ReadFile(dir_.Sub("artifact.json")), nullptr, false);
  ASSERT_TRUE(j.is_object());
  EXPECT_EQ(j["data"]["images"].size(), 3u);
}

TEST_F(StepE2eTest, OutputFilesHoldTheDigestAndNames) {
  auto reg = Registry();
  ASSERT_NE(reg, nullptr);
  const std::string repo = reg->host() + "/out/app";
  WriteFile(dir_.Sub("drone.env"), "EARLIER=1");
  ProcessResult r = Step({{"PLUGIN_REPO", repo},
                          {"PLUGIN_TAGS", "1.0,latest"},
                          {"PLUGIN_INSECURE", "true"},
                          {"DRONE_OUTPUT", dir_.Sub("drone.env")},
                          {"PLUGIN_ARTIFACT_FILE", dir_.Sub("o/artifact.json")},
                          {"PLUGIN_DIGEST_FILE", dir_.Sub("o/digest")},
                          {"PLUGIN_IMAGE_NAME_WITH_DIGEST_FILE", dir_.Sub("o/name")},
                          {"PLUGIN_IMAGE_NAME_TAG_WITH_DIGEST_FILE", dir_.Sub("o/nametag")}});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  const std::string digest = RemoteDigest(repo + ":1.0");
  ASSERT_EQ(digest.rfind("sha256:", 0), 0u) << digest;
  EXPECT_EQ(ReadFile(dir_.Sub("o/digest")), digest);
  EXPECT_EQ(ReadFile(dir_.Sub("drone.env")), absl::StrCat("EARLIER=1\ndigest=", digest, "\n"));
  EXPECT_EQ(ReadFile(dir_.Sub("o/name")), absl::StrCat(repo, "@", digest, "\n"));
  EXPECT_EQ(ReadFile(dir_.Sub("o/nametag")),
            absl::StrCat(repo, ":1.0@", digest, "\n", repo, ":latest@", digest, "\n"));
  auto j = nlohmann::json::parse(ReadFile(dir_.Sub("o/artifact.json")), nullptr, false);
  ASSERT_TRUE(j.is_object());
  EXPECT_EQ(j, nlohmann::json::parse(absl::StrCat(
                   R"({"kind":"docker/v1","data":{"registryType":"Docker","registryUrl":")",
                   reg->host(), R"(","images":[{"image":")", repo, R"(:1.0","digest":")", digest,
                   R"("},{"image":")", repo, R"(:latest","digest":")", digest, R"("}]}})")));
}

TEST_F(StepE2eTest, BadConfigurationsFailWithOneLineAndPushNothing) {
  auto reg = Registry();
  ASSERT_NE(reg, nullptr);
  const std::string repo = reg->host() + "/bad/app";
  ProcessResult none = Step({{"PLUGIN_PUSH_ONLY", "true"}, {"PLUGIN_REPO", repo},
                             {"PLUGIN_TAGS", "1.0"}, {"PLUGIN_INSECURE", "true"}});
  EXPECT_EQ(none.exit_code, 1);
  EXPECT_EQ(none.err, absl::StrCat("slipway: push-only: no image to push: PLUGIN_SOURCE_TAR_PATH "
                                   "and PLUGIN_SOURCE_IMAGE are unset and \"",
                                   repo, ":1.0\" is not in the store\n"));
  ProcessResult both = Step({{"PLUGIN_PUSH_ONLY", "true"}, {"PLUGIN_NO_PUSH", "true"},
                             {"PLUGIN_REPO", repo}});
  EXPECT_EQ(both.exit_code, 2);
  EXPECT_THAT(both.err, HasSubstr("inputs no-push and push-only cannot be used together"));
  ProcessResult missing_tar = Step({{"PLUGIN_PUSH_ONLY", "true"}, {"PLUGIN_REPO", repo},
                                    {"PLUGIN_SOURCE_TAR_PATH", dir_.Sub("nope.tar")},
                                    {"PLUGIN_INSECURE", "true"}});
  EXPECT_EQ(missing_tar.exit_code, 1);
  EXPECT_THAT(missing_tar.err, HasSubstr(dir_.Sub("nope.tar")));
  WriteFile(ctx_ + "/Dockerfile", "FROM scratch\nBOGUS x\n");
  ProcessResult bad_build = Step({{"PLUGIN_REPO", repo}, {"PLUGIN_INSECURE", "true"}});
  EXPECT_EQ(bad_build.exit_code, 1);
  EXPECT_THAT(bad_build.err, HasSubstr("slipway: build: INVALID_ARGUMENT: Dockerfile:2"));
  EXPECT_EQ(Catalog(*reg), kEmptyCatalog);
}

// A server with a scan hook that fails when the image holds "forbidden.txt".
class StepScanE2eTest : public StepE2eTest {
 protected:
  void SetUp() override {
    const std::string hook = dir_.Sub("hook.sh");
    WriteFile(hook, R"(#!/bin/sh
oci="$1"; report="$2"
for blob in "$oci"/blobs/sha256/*; do
  if tar -tzf "$blob" 2>/dev/null | sed 's|^\./||' | grep -qx forbidden.txt; then
    printf '{"SchemaVersion":2,"Results":[{"Target":"x","Vulnerabilities":[{"Severity":"CRITICAL"}]}]}' > "$report"
    echo "forbidden file"; exit 1
  fi
done
printf '{"SchemaVersion":2,"Results":[]}' > "$report"
exit 0
)");
    chmod(hook.c_str(), 0755);
    WriteFile(dir_.Sub("config.json"), absl::StrCat(R"({"scan": {"hooks": [
      {"name": "marker", "argv": [")", hook, R"(", "{oci_dir}", "{report}"], "timeout": "60s"}]}})"));
    StartServer({"--config", dir_.Sub("config.json")});
  }
};

TEST_F(StepScanE2eTest, BuildScanPushPassesAndAFailingScanPushesNothing) {
  auto reg = Registry();
  ASSERT_NE(reg, nullptr);
  const std::string repo = reg->host() + "/scanned/app";
  ProcessResult ok = Step({{"PLUGIN_REPO", repo}, {"PLUGIN_TAGS", "good"},
                           {"PLUGIN_SCAN", "true"}, {"PLUGIN_INSECURE", "true"}});
  ASSERT_EQ(ok.exit_code, 0) << ok.out << ok.err;
  EXPECT_THAT(ok.out, HasSubstr("==> scan"));
  EXPECT_THAT(ok.out, HasSubstr("PASSED"));
  EXPECT_EQ(RemoteDigest(repo + ":good").rfind("sha256:", 0), 0u);

  WriteFile(ctx_ + "/forbidden.txt", "secret\n");
  WriteFile(ctx_ + "/Dockerfile", "FROM scratch\nCOPY forbidden.txt /forbidden.txt\n");
  const std::string bad_repo = reg->host() + "/rejected/app";
  ProcessResult bad = Step({{"PLUGIN_REPO", bad_repo}, {"PLUGIN_TAGS", "bad"},
                            {"PLUGIN_SCAN", "true"}, {"PLUGIN_INSECURE", "true"},
                            {"PLUGIN_DIGEST_FILE", dir_.Sub("never")}});
  EXPECT_EQ(bad.exit_code, 1) << bad.out;
  EXPECT_THAT(bad.out, HasSubstr("FAILED"));
  EXPECT_THAT(bad.err, HasSubstr("slipway: scan: sha256:"));
  EXPECT_THAT(bad.err, HasSubstr("marker (critical=1"));
  EXPECT_THAT(bad.err, HasSubstr("nothing pushed"));
  EXPECT_FALSE(std::filesystem::exists(dir_.Sub("never")));
  EXPECT_EQ(Catalog(*reg), absl::StrCat(R"({"repositories":["scanned/app"]})"));
}

}  // namespace
}  // namespace slipway::testing
