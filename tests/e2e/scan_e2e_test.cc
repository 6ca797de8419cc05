// Scan hooks and the push gate through the real slipwayd (configured by a config file) and the
// real slipway client, against a real docker-registry.
#include <sys/stat.h>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "tests/e2e/e2e_fixture.h"
#include "tests/support/registry_process.h"
#include "tests/support/run_command.h"

namespace slipway::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

class ScanE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    digest_ = MakeOciLayout(dir_.Sub("oci"));
    ASSERT_FALSE(digest_.empty());
    const std::string marker = dir_.Sub("marker.sh");
    WriteFile(marker, R"(#!/bin/sh
oci="$1"; needle="$2"; report="$3"
for blob in "$oci"/blobs/sha256/*; do
  if tar -tzf "$blob" 2>/dev/null | sed 's|^\./||' | grep -qx "$needle"; then
    printf '{"SchemaVersion":2,"Results":[{"Target":"%s","Vulnerabilities":[{"Severity":"CRITICAL"}]}]}' "$needle" > "$report"
    echo "forbidden file $needle"; exit 1
  fi
done
printf '{"SchemaVersion":2,"Results":[{"Target":"x","Vulnerabilities":[{"Severity":"LOW"}]}]}' > "$report"
exit 0
)");
    chmod(marker.c_str(), 0755);
    WriteFile(dir_.Sub("scan.token"), "scan-token-e2e-41f\n");
    WriteFile(dir_.Sub("config.json"), absl::StrCat(R"({
  "scan": {
    "hooks": [
      {"name": "clean", "argv": [")", marker, R"(", "{oci_dir}", "etc/forbidden", "{report}"],
       "timeout": "60s", "version": "marker-1.0"},
      {"name": "strict", "argv": [")", marker, R"(", "{oci_dir}", "etc/greeting", "{report}"],
       "timeout": "60s", "version": "marker-1.0"}
    ],
    "push_gate": {"require": "all", "scanners": ["clean"]},
    "record_scan_token_file": ")", dir_.Sub("scan.token"), R"("
  }
})"));
    SlipwaydOptions options;
    options.extra_args = {"--config", dir_.Sub("config.json")};
    server_ = StartSlipwayd(options);
    ASSERT_NE(server_, nullptr);
    env_ = {{"SLIPWAY_ADDR", server_->address()}};
    ProcessResult r = Slipway({"import", dir_.Sub("oci"), "--tag", "demo/app:v1"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    registry_ = RegistryProcess::Start();
    ASSERT_NE(registry_, nullptr);
  }

  ProcessResult Slipway(std::vector<std::string> args,
                        const std::map<std::string, std::string>& extra = {}) {
    args.insert(args.begin(), SLIPWAY_BIN);
    auto env = env_;
    env.insert(extra.begin(), extra.end());
    return RunProcess(args, env, absl::Seconds(180));
  }

  std::string Catalog() {
    return RunCommand("curl -s --max-time 20 " + ShellQuote(registry_->url() + "/v2/_catalog"))
        .output;
  }

  TempDir dir_;
  std::string digest_;
  std::unique_ptr<SlipwaydProcess> server_;
  std::unique_ptr<RegistryProcess> registry_;
  std::map<std::string, std::string> env_;
};

TEST_F(ScanE2eTest, ScanPrintsVerdictAndTheGateHoldsPushUntilAPassingScan) {
  // Unscanned: the gate refuses, naming digest and scanner; nothing reaches the registry.
  ProcessResult r = Slipway({"push", "demo/app:v1", registry_->host() + "/e2e/app:v1", "--insecure"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("push gate: " + digest_));
  EXPECT_THAT(r.err, HasSubstr("\"clean\" (never scanned)"));
  EXPECT_THAT(Catalog(), HasSubstr("\"repositories\":[]"));

  // Every hook: "strict" finds its marker → FAILED, exit 1, summary printed.
  r = Slipway({"scan", "demo/app:v1"});
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_THAT(r.out, HasSubstr("scan of " + digest_ + ": FAILED"));
  EXPECT_THAT(r.out, HasSubstr("strict"));
  EXPECT_THAT(r.out, HasSubstr("critical=1"));
  EXPECT_THAT(r.out, HasSubstr("forbidden file etc/greeting"));
  EXPECT_THAT(r.out, HasSubstr("version=marker-1.0"));

  // Only the gate's scanner: PASSED, exit 0, the report stored.
  r = Slipway({"scan", "demo/app:v1", "--scanner", "clean"});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_THAT(r.out, HasSubstr(": PASSED"));
  EXPECT_THAT(r.out, HasSubstr("low=1"));
  EXPECT_THAT(r.out, HasSubstr("report: sha256:"));

  r = Slipway({"scan", "demo/app:v1", "--scanner", "nope"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("no scanner named \"nope\" is configured"));

  // A request may tighten the gate: no finding at all (the "clean" report has one low).
  r = Slipway({"push", "demo/app:v1", registry_->host() + "/e2e/app:v1", "--insecure",
               "--max-severity", "none"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("1 findings where max severity none allows none"));
  EXPECT_THAT(Catalog(), HasSubstr("\"repositories\":[]"));

  r = Slipway({"push", "demo/app:v1", registry_->host() + "/e2e/app:v1", "--insecure"});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_THAT(Catalog(), HasSubstr("e2e/app"));
}

TEST_F(ScanE2eTest, RecordScanNeedsTheToken) {
  WriteFile(dir_.Sub("report.json"),
            R"({"runs": [{"results": [{"level": "warning"}, {"level": "error"}]}]})");
  ProcessResult r = Slipway({"record-scan", "demo/app:v1", "--scanner", "external", "--passed",
                             "--report", dir_.Sub("report.json")},
                            {{"SLIPWAY_RECORD_SCAN_TOKEN", "wrong"}});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("lacks the record-scan permission"));
  r = Slipway({"record-scan", "demo/app:v1", "--scanner", "external", "--passed", "--version",
               "9.9", "--report", dir_.Sub("report.json"), "--token-file",
               dir_.Sub("scan.token")});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_THAT(r.out, HasSubstr("recorded scan of " + digest_));
  EXPECT_THAT(r.out, HasSubstr("high=1 medium=1"));
  EXPECT_THAT(server_->Log(), Not(HasSubstr("scan-token-e2e-41f")));
}

}  // namespace
}  // namespace slipway::testing
