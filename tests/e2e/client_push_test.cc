// slipway push / push-many through the real binaries to real docker-registry processes,
// verified with skopeo.
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "storage/digest.h"
#include "tests/e2e/e2e_fixture.h"
#include "tests/support/registry_process.h"
#include "tests/support/slipwayd_process.h"
#include "tests/support/subprocess.h"
#include "tests/support/temp_dir.h"

namespace slipway {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using testing::ProcessResult;
using testing::RegistryProcess;
using testing::RegistryProcessOptions;
using testing::RunProcess;
using testing::SlipwaydOptions;
using testing::SlipwaydProcess;
using testing::TempDir;

using testing::MakeOciLayout;
using testing::RepoRoot;

int ClosedPort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  socklen_t len = sizeof(addr);
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  close(fd);
  return ntohs(addr.sin_port);
}

class ClientPushTest : public testing::ClientTest {
 protected:
  void SetUp() override {
    testing::ClientTest::SetUp();
    if (HasFatalFailure()) return;
    digest_ = MakeOciLayout(dir_.Sub("oci"));
    ProcessResult r = Slipway({"import", dir_.Sub("oci"), "--tag", "demo/app:v1"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  std::string SkopeoDigest(const std::string& ref) {
    const std::string out = dir_.Sub("raw-" + std::to_string(++runs_));
    ProcessResult r = RunProcess({"/bin/sh", "-c",
                                  "skopeo inspect --raw --tls-verify=false 'docker://" + ref +
                                      "' > '" + out + "'"},
                                 {}, absl::Seconds(60));
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return Sha256Of(testing::ReadFile(out)).ToString();
  }

  std::string digest_;
  int runs_ = 0;
};

TEST_F(ClientPushTest, PushThenWarmPushThenSkopeoCopies) {
  auto registry = RegistryProcess::Start();
  ASSERT_NE(registry, nullptr);
  ProcessResult r = Slipway({"push", "demo/app:v1", registry->host() + "/e2e/app:v1",
                             "--tag", "extra", "--insecure"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_THAT(r.out, HasSubstr("uploaded"));
  EXPECT_THAT(r.out, HasSubstr("OK"));
  EXPECT_EQ(SkopeoDigest(registry->host() + "/e2e/app:v1"), digest_);
  EXPECT_EQ(SkopeoDigest(registry->host() + "/e2e/app:extra"), digest_);
  r = RunProcess({"skopeo", "--insecure-policy", "copy", "--src-tls-verify=false",
                  "docker://" + registry->host() + "/e2e/app:v1", "oci:" + dir_.Sub("copy") + ":v1"},
                 {{"TMPDIR", dir_.path()}}, absl::Seconds(120));
  EXPECT_EQ(r.exit_code, 0) << r.err;

  r = Slipway({"push", digest_, registry->host() + "/e2e/app:v1", "--insecure"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_THAT(r.out, HasSubstr("exists"));
  EXPECT_THAT(r.out, Not(HasSubstr("uploaded (")));

  // The metrics endpoint shows the pushes with bounded labels only.
  r = RunProcess({"curl", "-s", absl::StrCat("http://127.0.0.1:", server_->metrics_port(),
                                             "/metrics")});
  EXPECT_THAT(r.out, HasSubstr("slipway_push_total{outcome=\"ok\",registry=\"" +
                               registry->host() + "\"} 2"));
  EXPECT_THAT(r.out, HasSubstr("slipway_push_blobs_skipped_total"));
  EXPECT_THAT(r.out, Not(HasSubstr("e2e/app")));
}

TEST_F(ClientPushTest, PushManyWithOneRegistryDownExitsOneAndPushesTheOthers) {
  auto a = RegistryProcess::Start();
  auto b = RegistryProcess::Start();
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  const std::string down = absl::StrCat("127.0.0.1:", ClosedPort());
  ProcessResult r = Slipway({"push-many", "demo/app:v1", a->host() + "/m/app:v1",
                             down + "/m/app:v1", b->host() + "/m/app:v1", "--insecure"});
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_THAT(r.out, HasSubstr("UNAVAILABLE"));
  EXPECT_EQ(SkopeoDigest(a->host() + "/m/app:v1"), digest_);
  EXPECT_EQ(SkopeoDigest(b->host() + "/m/app:v1"), digest_);
}

TEST_F(ClientPushTest, BasicAuthFromStdinAndEnvironmentPasswordNeverPrinted) {
  RegistryProcessOptions options;
  options.basic_auth = true;
  auto registry = RegistryProcess::Start(options);
  ASSERT_NE(registry, nullptr);
  ProcessResult r = Slipway({"push", "demo/app:v1", registry->host() + "/auth/app:v1", "--insecure"},
                            {{"SLIPWAY_REGISTRY_USERNAME", options.username},
                             {"SLIPWAY_REGISTRY_PASSWORD", "Wrong-Canary-Pw-e2e"}});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.out + r.err, HasSubstr("UNAUTHENTICATED"));
  EXPECT_THAT(r.out + r.err, Not(HasSubstr("Wrong-Canary-Pw-e2e")));
  EXPECT_THAT(server_->Log(), Not(HasSubstr("Wrong-Canary-Pw-e2e")));

  r = RunProcess({"/bin/sh", "-c",
                  "printf '%s\\n' \"$PW\" | \"$BIN\" push demo/app:v1 \"$DEST\" --insecure "
                  "--username \"$USER_NAME\" --password-stdin"},
                 {{"SLIPWAY_ADDR", server_->address()}, {"PW", options.password},
                  {"BIN", SLIPWAY_BIN}, {"DEST", registry->host() + "/auth/app:v1"},
                  {"USER_NAME", options.username}},
                 absl::Seconds(120));
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_THAT(r.out + r.err, Not(HasSubstr(options.password)));
  EXPECT_THAT(server_->Log(), Not(HasSubstr(options.password)));
}

// An operator-provided docker config.json (--registry-auth-file) supplies credentials for a
// target whose request carries none; without the file the same push is refused.
TEST_F(ClientPushTest, RegistryAuthFileCredentialsForRequestsWithout) {
  RegistryProcessOptions options;
  options.basic_auth = true;
  auto registry = RegistryProcess::Start(options);
  ASSERT_NE(registry, nullptr);
  ProcessResult r = Slipway({"push", "demo/app:v1", registry->host() + "/auth/app:v1", "--insecure"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.out + r.err, HasSubstr("UNAUTHENTICATED"));

  const std::string config = dir_.Sub("docker-config.json");
  testing::WriteFile(config, absl::StrCat(R"({"auths": {")", registry->host(), R"(": {"auth": ")",
                                          absl::Base64Escape(options.username + ":" +
                                                             options.password),
                                          R"("}}})"));
  SlipwaydOptions with_file;
  with_file.extra_args = {"--registry-auth-file", config};
  auto server = testing::StartSlipwayd(with_file);
  ASSERT_NE(server, nullptr);
  std::map<std::string, std::string> env = {{"SLIPWAY_ADDR", server->address()}};
  r = RunProcess({SLIPWAY_BIN, "import", dir_.Sub("oci"), "--tag", "demo/app:v1"}, env,
                 absl::Seconds(120));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = RunProcess({SLIPWAY_BIN, "push", "demo/app:v1", registry->host() + "/auth/app:v1",
                  "--insecure"},
                 env, absl::Seconds(120));
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_THAT(server->Log(), Not(HasSubstr(options.password)));
}

// A canary password, right then wrong, through the real binaries: neither canary (nor the
// Basic credentials built from it) shows in slipwayd's debug log, the client's output or the
// /metrics text.
TEST_F(ClientPushTest, CanaryPasswordNeverInLogsOutputOrMetrics) {
  RegistryProcessOptions options;
  options.basic_auth = true;
  options.password = "Canary-Right-" + std::to_string(::getpid()) + "-q8Zr";
  const std::string wrong = "Canary-Wrong-" + std::to_string(::getpid()) + "-x3Pk";
  auto registry = RegistryProcess::Start(options);
  ASSERT_NE(registry, nullptr);
  const std::string basic_right =
      testing::RunProcess({"/bin/sh", "-c", "printf %s \"$C\" | base64 -w0"},
                          {{"C", options.username + ":" + options.password}})
          .out;
  const std::string basic_wrong =
      testing::RunProcess({"/bin/sh", "-c", "printf %s \"$C\" | base64 -w0"},
                          {{"C", options.username + ":" + wrong}})
          .out;
  ASSERT_FALSE(basic_right.empty());

  std::string client_output;
  ProcessResult r = Slipway({"push", "demo/app:v1", registry->host() + "/canary/app:v1", "--insecure"},
                            {{"SLIPWAY_REGISTRY_USERNAME", options.username},
                             {"SLIPWAY_REGISTRY_PASSWORD", options.password}});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  client_output += r.out + r.err;
  // Pullable by digest with the right credentials (skopeo's own output is not checked).
  const std::string raw = dir_.Sub("canary-raw");
  ProcessResult inspect = RunProcess(
      {"/bin/sh", "-c",
       "skopeo inspect --raw --tls-verify=false --creds \"$CREDS\" \"$REF\" > \"$OUT\""},
      {{"CREDS", options.username + ":" + options.password},
       {"REF", "docker://" + registry->host() + "/canary/app@" + digest_},
       {"OUT", raw}},
      absl::Seconds(60));
  EXPECT_EQ(inspect.exit_code, 0) << inspect.err;
  EXPECT_EQ(Sha256Of(testing::ReadFile(raw)).ToString(), digest_);

  r = Slipway({"push", "demo/app:v1", registry->host() + "/canary/app:v2", "--insecure"},
              {{"SLIPWAY_REGISTRY_USERNAME", options.username},
               {"SLIPWAY_REGISTRY_PASSWORD", wrong}});
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_THAT(r.out + r.err, HasSubstr("UNAUTHENTICATED"));
  client_output += r.out + r.err;

  ProcessResult metrics = RunProcess(
      {"curl", "-s", absl::StrCat("http://127.0.0.1:", server_->metrics_port(), "/metrics")});
  ASSERT_EQ(metrics.exit_code, 0) << metrics.err;
  ASSERT_THAT(metrics.out, HasSubstr("slipway_push_total"));
  const std::string log = server_->Log();
  ASSERT_THAT(log, HasSubstr(registry->host()));  // the log did record these pushes
  for (const std::string& secret : {options.password, wrong, basic_right, basic_wrong}) {
    EXPECT_THAT(log, Not(HasSubstr(secret)));
    EXPECT_THAT(client_output, Not(HasSubstr(secret)));
    EXPECT_THAT(metrics.out, Not(HasSubstr(secret)));
  }
  // Not even a fragment: the distinctive middle of each canary.
  for (const std::string& fragment : {std::string("Canary-Right"), std::string("Canary-Wrong")}) {
    EXPECT_THAT(log + client_output + metrics.out, Not(HasSubstr(fragment)));
  }
}

TEST_F(ClientPushTest, BadRequestsNameTheFieldAtFault) {
  ProcessResult r = Slipway({"push", "nothere:1", "127.0.0.1:1/x/app:v1"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("ref"));
  r = Slipway({"push", "demo/app:v1", "127.0.0.1:1/Upper/App:v1"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("target.repository"));
  r = Slipway({"push-many", "demo/app:v1", "127.0.0.1:1/ok:v1", "127.0.0.1:1/x:bad tag"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("targets[1].tags[0]"));
  r = Slipway({"push", "demo/app:v1", "no-slash"});
  EXPECT_EQ(r.exit_code, 2);
}

}  // namespace
}  // namespace slipway
