// The scanner with real exec hooks (shell scripts written by the tests) on a real imported
// image, a real blob store and a real SQLite index.
#include "server/scan/scanner.h"

#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <atomic>
#include <cerrno>
#include <fstream>
#include <set>
#include <thread>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/mutex.h"
#include "gmock/gmock.h"
#include "tests/scan/scan_fixture.h"

namespace slipway::scan {
namespace {

using ::testing::HasSubstr;
using ::testing::IsEmpty;

// True when `pid` no longer runs (gone, or a zombie waiting for a reaper that is not us).
bool ProcessGone(pid_t pid) {
  if (kill(pid, 0) != 0 && errno == ESRCH) return true;
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(stat, line)) return true;
  size_t paren = line.rfind(')');
  return paren != std::string::npos && paren + 2 < line.size() && line[paren + 2] == 'Z';
}

std::string ReadBlob(BlobStore& blobs, const Descriptor& d) {
  auto text = blobs.ReadSmall(d.digest, 64 << 20);
  EXPECT_TRUE(text.ok()) << text.status();
  return text.ok() ? *text : "";
}

// A hook that fails when a layer of the image contains a marker file: it inspects the OCI
// layout ({oci_dir}) with tar. The same image passes with a marker it does not contain.
TEST_F(ScanTest, MarkerFileInOciDirFailsTheHook) {
  ASSERT_FALSE(built_.files.empty());
  const std::string script = Script("marker.sh", R"(
oci="$1"; marker="$2"
test -f "$oci/oci-layout" || { echo "no oci-layout"; exit 3; }
grep -q '"manifests"' "$oci/index.json" || { echo "no index.json"; exit 3; }
for blob in "$oci"/blobs/sha256/*; do
  if tar -tzf "$blob" 2>/dev/null | sed 's|^\./||' | grep -qx "$marker"; then
    echo "found $marker in $blob"; exit 1
  fi
done
exit 0)");
  auto scanner = MakeScanner({Hook("has-marker", {script, "{oci_dir}", built_.files.front()}),
                              Hook("no-marker", {script, "{oci_dir}", "etc/not-in-image"})});
  auto outcome = scanner->Scan(image(), {});
  ASSERT_TRUE(outcome.ok()) << outcome.status();
  ASSERT_EQ(outcome->results.size(), 2u);
  EXPECT_FALSE(outcome->passed);
  EXPECT_FALSE(outcome->results[0].passed);
  EXPECT_EQ(outcome->results[0].exit_code, 1);
  EXPECT_THAT(outcome->results[0].message, HasSubstr("found " + built_.files.front()));
  EXPECT_TRUE(outcome->results[1].passed) << outcome->results[1].message;
  EXPECT_EQ(outcome->results[1].exit_code, 0);

  // Recorded against the manifest digest.
  auto recorded = index_->ScanResults(image().manifest.digest);
  ASSERT_TRUE(recorded.ok()) << recorded.status();
  ASSERT_EQ(recorded->size(), 2u);
  EXPECT_EQ((*recorded)[0].scanner, "has-marker");
  EXPECT_FALSE((*recorded)[0].passed);
  EXPECT_EQ((*recorded)[1].scanner, "no-marker");
  EXPECT_TRUE((*recorded)[1].passed);
  EXPECT_EQ((*recorded)[1].source, "hook");
}

// {archive} is a Docker 25 combined tarball (index.json, manifest.json with RepoTags, blobs),
// and {digest} / {image} carry the exact digest and the name asked for.
TEST_F(ScanTest, ArchivePlaceholderIsACombinedTarball) {
  const std::string script = Script("archive.sh", R"(
tar -tf "$1" > "$4.list" || exit 5
grep -qx 'manifest.json' "$4.list" || exit 6
grep -qx 'index.json' "$4.list" || exit 7
grep -qx "blobs/sha256/${2#sha256:}" "$4.list" || exit 8
test "$3" = "scan/app:v1" || exit 9
exit 0)");
  auto scanner = MakeScanner({Hook("archive", {script, "{archive}", "{digest}", "{image}",
                                               "{report}"})});
  ScanOptions options;
  options.image_name = "scan/app:v1";
  auto outcome = scanner->Scan(image(), options);
  ASSERT_TRUE(outcome.ok()) << outcome.status();
  ASSERT_EQ(outcome->results.size(), 1u);
  EXPECT_TRUE(outcome->results[0].passed) << outcome->results[0].message;
  EXPECT_EQ(outcome->results[0].exit_code, 0);
}

// A hook that hangs past its timeout fails closed and is killed by PID, with the child it
// started (same process group).
TEST_F(ScanTest, HangingHookIsKilledAtItsTimeoutAndFailsClosed) {
  const std::string pidfile = dir_.Sub("grandchild.pid");
  const std::string script =
      Script("hang.sh", "sleep 300 &\necho $! > " + pidfile + "\nsleep 300\n");
  HookConfig hook = Hook("hang", {script});
  hook.timeout = absl::Seconds(1);
  auto scanner = MakeScanner({hook});
  pid_t hook_pid = -1;
  scanner->set_on_hook_start([&](const std::string&, pid_t pid) { hook_pid = pid; });
  const absl::Time start = absl::Now();
  auto outcome = scanner->Scan(image(), {});
  ASSERT_TRUE(outcome.ok()) << outcome.status();
  EXPECT_LT(absl::Now() - start, absl::Seconds(20));
  ASSERT_EQ(outcome->results.size(), 1u);
  EXPECT_FALSE(outcome->passed);
  EXPECT_FALSE(outcome->results[0].passed);
  EXPECT_THAT(outcome->results[0].message, HasSubstr("timed out"));
  EXPECT_THAT(outcome->results[0].message, HasSubstr("fail closed"));
  EXPECT_THAT(outcome->timed_out, ::testing::ElementsAre("hang"));
  ASSERT_GT(hook_pid, 0);
  EXPECT_TRUE(ProcessGone(hook_pid)) << hook_pid;
  int grandchild = 0;
  ASSERT_TRUE(absl::SimpleAtoi(absl::StripAsciiWhitespace(testing::ReadFile(pidfile)),
                               &grandchild));
  // Killed with the group; its reaper (init or a subreaper) may take a moment.
  for (int i = 0; i < 50 && !ProcessGone(grandchild); ++i) absl::SleepFor(absl::Milliseconds(20));
  EXPECT_TRUE(ProcessGone(grandchild)) << grandchild;

  // on_timeout=pass: the same hang counts as passed, still killed.
  hook.pass_on_timeout = true;
  auto lenient = MakeScanner({hook});
  outcome = lenient->Scan(image(), {});
  ASSERT_TRUE(outcome.ok()) << outcome.status();
  EXPECT_TRUE(outcome->results[0].passed);
  EXPECT_THAT(outcome->results[0].message, HasSubstr("timed out"));
  EXPECT_THAT(outcome->timed_out, IsEmpty());
}

// A report over max_report_bytes is refused (not stored, the result fails) with a clear
// message; one under it is stored as a blob.
TEST_F(ScanTest, HugeReportIsRefusedAndFailsClosed) {
  const std::string script = Script("huge.sh", "head -c 3145728 /dev/zero > \"$1\"\nexit 0");
  HookConfig hook = Hook("huge", {script, "{report}"});
  hook.max_report_bytes = 1 << 20;
  auto scanner = MakeScanner({hook});
  auto outcome = scanner->Scan(image(), {});
  ASSERT_TRUE(outcome.ok()) << outcome.status();
  const ScanResultRecord& r = outcome->results[0];
  EXPECT_FALSE(r.passed);
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_FALSE(r.report.has_value());
  EXPECT_THAT(r.message, HasSubstr("report is 3145728 bytes, over the limit of 1048576"));
  EXPECT_FALSE(blobs_->Contains(Sha256Of(std::string(3145728, '\0'))));

  hook.max_report_bytes = 4 << 20;
  auto roomy = MakeScanner({hook});
  outcome = roomy->Scan(image(), {});
  ASSERT_TRUE(outcome.ok()) << outcome.status();
  ASSERT_TRUE(outcome->results[0].report.has_value());
  EXPECT_EQ(outcome->results[0].report->size, 3145728);
  EXPECT_TRUE(blobs_->Contains(outcome->results[0].report->digest));
  EXPECT_TRUE(outcome->results[0].passed);
}

// A hook sees only the allow-listed variables (plus PATH, HOME, TMPDIR); credentials and
// tokens in slipwayd's environment never reach it.
TEST_F(ScanTest, HookEnvironmentIsTheAllowListOnly) {
  setenv("SLIPWAY_REGISTRY_PASSWORD", "canary-password-3e9a", 1);
  setenv("AWS_SECRET_ACCESS_KEY", "canary-aws-71bd", 1);
  setenv("SLIPWAY_TOKEN", "canary-token-55c0", 1);
  setenv("SCAN_TEST_ALLOWED", "visible", 1);
  const std::string script = Script("env.sh", "env > \"$1\"");
  HookConfig hook = Hook("env", {script, "{report}"});
  hook.env_allow = {"SCAN_TEST_ALLOWED", "SCAN_TEST_NOT_SET"};
  hook.report_media_type = "text/plain";
  auto scanner = MakeScanner({hook});
  auto outcome = scanner->Scan(image(), {});
  unsetenv("SLIPWAY_REGISTRY_PASSWORD");
  unsetenv("AWS_SECRET_ACCESS_KEY");
  unsetenv("SLIPWAY_TOKEN");
  unsetenv("SCAN_TEST_ALLOWED");
  ASSERT_TRUE(outcome.ok()) << outcome.status();
  ASSERT_TRUE(outcome->results[0].report.has_value()) << outcome->results[0].message;
  EXPECT_EQ(outcome->results[0].report->media_type, "text/plain");
  const std::string env = ReadBlob(*blobs_, *outcome->results[0].report);
  EXPECT_THAT(env, Not(HasSubstr("canary")));
  std::set<std::string> names;
  for (absl::string_view line : absl::StrSplit(env, '\n', absl::SkipEmpty())) {
    names.insert(std::string(line.substr(0, line.find('='))));
  }
  // The shell itself adds PWD (and dash/bash may add SHLVL, OLDPWD, _).
  const std::set<std::string> allowed = {"PATH", "HOME", "TMPDIR", "SCAN_TEST_ALLOWED",
                                         "PWD", "SHLVL", "OLDPWD", "_"};
  for (const auto& n : names) EXPECT_TRUE(allowed.count(n)) << "unexpected variable " << n;
  EXPECT_TRUE(names.count("SCAN_TEST_ALLOWED"));
  EXPECT_THAT(env, HasSubstr("SCAN_TEST_ALLOWED=visible"));
}

// The memory cap is RLIMIT_AS in the child: the hook sees it with `ulimit -v` (KiB).
TEST_F(ScanTest, MemoryLimitIsAppliedToTheHook) {
  const std::string script = Script("ulimit.sh", "ulimit -v > \"$1\"");
  HookConfig hook = Hook("ulimit", {script, "{report}"});
  hook.memory_limit_bytes = 256 << 20;
  auto scanner = MakeScanner({hook});
  auto outcome = scanner->Scan(image(), {});
  ASSERT_TRUE(outcome.ok()) << outcome.status();
  ASSERT_TRUE(outcome->results[0].report.has_value());
  EXPECT_EQ(absl::StripAsciiWhitespace(ReadBlob(*blobs_, *outcome->results[0].report)),
            "262144");
}

// A Trivy JSON report is stored and summarised; the version comes from version_command.
TEST_F(ScanTest, TrivyReportIsSummarisedAndVersionRecorded) {
  const std::string script = Script("trivy.sh", R"(cat > "$1" <<'JSON'
{"SchemaVersion": 2, "ArtifactName": "x", "Results": [
  {"Target": "a", "Vulnerabilities": [{"VulnerabilityID": "CVE-1", "Severity": "CRITICAL"},
                                      {"VulnerabilityID": "CVE-2", "Severity": "HIGH"},
                                      {"VulnerabilityID": "CVE-3", "Severity": "HIGH"}]},
  {"Target": "b", "Vulnerabilities": [{"VulnerabilityID": "CVE-4", "Severity": "LOW"},
                                      {"VulnerabilityID": "CVE-5", "Severity": "UNKNOWN"}]},
  {"Target": "c"}]}
JSON
exit 1)");
  HookConfig hook = Hook("trivy", {script, "{report}"});
  hook.version_command = {"/bin/echo", "Version: 0.50.1"};
  auto scanner = MakeScanner({hook});
  auto outcome = scanner->Scan(image(), {});
  ASSERT_TRUE(outcome.ok()) << outcome.status();
  const ScanResultRecord& r = outcome->results[0];
  EXPECT_FALSE(r.passed);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(r.summary_known);
  EXPECT_EQ(r.critical, 1);
  EXPECT_EQ(r.high, 2);
  EXPECT_EQ(r.medium, 0);
  EXPECT_EQ(r.low, 1);
  EXPECT_EQ(r.unknown, 1);
  EXPECT_EQ(r.scanner_version, "Version: 0.50.1");
  ASSERT_TRUE(r.report.has_value());
  EXPECT_THAT(ReadBlob(*blobs_, *r.report), HasSubstr("CVE-5"));
  auto recorded = index_->ScanResults(image().manifest.digest);
  ASSERT_TRUE(recorded.ok());
  ASSERT_EQ(recorded->size(), 1u);
  EXPECT_EQ((*recorded)[0].high, 2);
  EXPECT_EQ((*recorded)[0].scanner_version, "Version: 0.50.1");
  ASSERT_TRUE((*recorded)[0].report.has_value());
  EXPECT_EQ((*recorded)[0].report->digest, r.report->digest);
}

// Concurrent scans of one digest run the hook once: it appends to a counter file and sleeps,
// so every concurrent scan arrives while it runs.
TEST_F(ScanTest, ConcurrentScansOfOneDigestRunEachHookOnce) {
  const std::string counter = dir_.Sub("counter");
  const std::string script =
      Script("count.sh", "echo run >> " + counter + "\nsleep 2\nexit 0");
  auto scanner = MakeScanner({Hook("count", {script, "{oci_dir}"})});
  std::vector<std::thread> threads;
  std::atomic<int> passed{0};
  for (int i = 0; i < 6; ++i) {
    threads.emplace_back([&] {
      auto outcome = scanner->Scan(image(), {});
      if (outcome.ok() && outcome->passed) ++passed;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(passed.load(), 6);
  EXPECT_EQ(testing::ReadFile(counter), "run\n");
  // A later scan runs it again (results are fresh, not cached).
  ASSERT_TRUE(scanner->Scan(image(), {}).ok());
  EXPECT_EQ(testing::ReadFile(counter), "run\nrun\n");
}

// Two hooks that each wait (up to 20 s) for the other to start: they can only both pass when
// the scan runs them at the same time. Results keep the configured order.
TEST_F(ScanTest, HooksOfOneScanRunAtOnce) {
  const std::string script = Script("rendezvous.sh", R"(
mine="$1"; theirs="$2"
touch "$mine"
for i in $(seq 1 200); do
  test -e "$theirs" && exit 0
  sleep 0.1
done
echo "never saw $theirs"; exit 1)");
  auto scanner = MakeScanner({Hook("left", {script, dir_.Sub("left"), dir_.Sub("right")}),
                              Hook("right", {script, dir_.Sub("right"), dir_.Sub("left")})});
  auto outcome = scanner->Scan(image(), {});
  ASSERT_TRUE(outcome.ok()) << outcome.status();
  ASSERT_EQ(outcome->results.size(), 2u);
  EXPECT_EQ(outcome->results[0].scanner, "left");
  EXPECT_EQ(outcome->results[1].scanner, "right");
  EXPECT_TRUE(outcome->results[0].passed) << outcome->results[0].message;
  EXPECT_TRUE(outcome->results[1].passed) << outcome->results[1].message;
  EXPECT_TRUE(outcome->passed);
}

TEST_F(ScanTest, UnknownScannerAndNoHooksAreErrors) {
  auto scanner = MakeScanner({Hook("only", {"/bin/true"})});
  ScanOptions options;
  options.scanners = {"only", "missing"};
  auto outcome = scanner->Scan(image(), options);
  EXPECT_TRUE(absl::IsNotFound(outcome.status())) << outcome.status();
  EXPECT_THAT(outcome.status().message(), HasSubstr("scanners[1]: no scanner named \"missing\""));
  auto none = MakeScanner({});
  EXPECT_TRUE(absl::IsFailedPrecondition(none->Scan(image(), {}).status()));
  // A hook whose program does not exist fails closed (recorded), it is not an RPC error.
  auto broken = MakeScanner({Hook("broken", {"/nonexistent/scanner"})});
  auto r = broken->Scan(image(), {});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_FALSE(r->passed);
  EXPECT_THAT(r->results[0].message, HasSubstr("/nonexistent/scanner"));
}

// The work directory is cleaned: nothing of a finished scan stays on disk.
TEST_F(ScanTest, MaterializedImageIsRemovedAfterTheScan) {
  auto scanner = MakeScanner({Hook("ok", {"/bin/true", "{archive}", "{oci_dir}"})});
  ASSERT_TRUE(scanner->Scan(image(), {}).ok());
  auto r = testing::RunCommand("find " + testing::ShellQuote(dir_.Sub("work")) + " -mindepth 1");
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.output, "");
}

}  // namespace
}  // namespace slipway::scan
