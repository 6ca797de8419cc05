// RunInSandbox and ProbeSandbox with the real slipway-sandbox helper and a real root
// filesystem (tests/sandbox/sandbox_fixture.h).

#include "server/build/run/sandbox.h"

#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/sandbox/sandbox_fixture.h"
#include "tests/support/run_command.h"
#include "tests/support/temp_dir.h"

namespace slipway::build {
namespace {

namespace fs = std::filesystem;
using ::slipway::testing::ReadFile;
using ::slipway::testing::RunCommand;
using ::slipway::testing::ShellQuote;
using ::slipway::testing::TempDir;
using ::slipway::testing::WriteFile;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Pair;
using ::testing::UnorderedElementsAre;
using ::testing::UnorderedElementsAreArray;

TEST_F(SandboxTest, OutputArrivesLineByLineInOrder) {
  auto result = Run(Spec("echo one; sleep 0.2; echo two >&2; sleep 0.2; echo three; "
                         "printf unterminated"));
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->exit_code, 0);
  EXPECT_THAT(lines_, ElementsAre(Pair(false, "one"), Pair(true, "two"), Pair(false, "three"),
                                  Pair(false, "unterminated")));
  EXPECT_THAT(result->last_lines, ElementsAre("one", "two", "three", "unterminated"));
}

TEST_F(SandboxTest, LastLinesKeepsTheLastTwenty) {
  auto result = Run(Spec("i=0; while [ $i -lt 30 ]; do echo line$i; i=$((i+1)); done"));
  ASSERT_TRUE(result.ok()) << result.status();
  ASSERT_EQ(lines_.size(), 30u);
  ASSERT_EQ(result->last_lines.size(), 20u);
  EXPECT_EQ(result->last_lines.front(), "line10");
  EXPECT_EQ(result->last_lines.back(), "line29");
}

TEST_F(SandboxTest, ExitCodeIsReturned) {
  auto result = Run(Spec("exit 3"));
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->exit_code, 3);
}

TEST_F(SandboxTest, KilledBySignalIs128PlusSignal) {
  auto result = Run(Spec("kill -9 $$"));
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->exit_code, 128 + 9);
}

TEST_F(SandboxTest, UpperDirHoldsOnlyWhatTheProcessWrote) {
  // The lower has no /proc, /dev or /etc: the sandbox must create them as mount points and
  // take them away again.
  SandboxSpec spec = Spec("echo hi > /created; ls /proc/self >/dev/null; cat /etc/hosts "
                          "/etc/resolv.conf >/dev/null; echo x > /dev/shm/f");
  SandboxMount tmp;
  tmp.kind = SandboxMount::Kind::kTmpfs;
  tmp.target = "/deep/mount/point";
  spec.mounts.push_back(tmp);
  auto result = Run(spec);
  ASSERT_TRUE(result.ok()) << result.status();
  ASSERT_EQ(result->exit_code, 0) << ::testing::PrintToString(lines_);
  EXPECT_THAT(ListTree(spec.upper_dir), ElementsAre("created"));
  EXPECT_EQ(ReadFile(spec.upper_dir + "/created"), "hi\n");
}

TEST_F(SandboxTest, CopiedUpParentOfAPlaceholderIsRemoved) {
  // /etc exists without hosts: creating the mount point copies /etc up; that copy must go.
  fs::create_directories(lower_ + "/etc");
  chmod((lower_ + "/etc").c_str(), 0755);
  auto result = Run(Spec("cat /etc/hosts"));
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->exit_code, 0);
  EXPECT_THAT(ListTree(dir_.Sub("upper0")), ElementsAre());
}

TEST_F(SandboxTest, DeletedLowerFileBecomesAWhiteout) {
  WriteFile(lower_ + "/victim", "bye");
  SandboxSpec spec = Spec("rm /victim");
  auto result = Run(spec);
  ASSERT_TRUE(result.ok()) << result.status();
  ASSERT_EQ(result->exit_code, 0);
  struct stat st;
  ASSERT_EQ(lstat((spec.upper_dir + "/victim").c_str(), &st), 0);
  EXPECT_TRUE(S_ISCHR(st.st_mode));
  EXPECT_EQ(st.st_rdev, makedev(0, 0));
  EXPECT_THAT(ListTree(spec.upper_dir), ElementsAre("victim"));
}

TEST_F(SandboxTest, HostnameAndNewPidNamespace) {
  auto result = Run(Spec("hostname; echo $$"));
  ASSERT_TRUE(result.ok()) << result.status();
  ASSERT_EQ(Stdout().size(), 2u);
  EXPECT_EQ(Stdout()[0], "sbx");
  int pid = std::stoi(Stdout()[1]);
  EXPECT_LE(pid, 3);  // 1 is the sandbox's init, the command comes right after
  EXPECT_GE(pid, 1);
}

TEST_F(SandboxTest, NetworkNoneHasOnlyLoopback) {
  SandboxSpec spec = Spec("cat /proc/net/dev");
  spec.network_none = true;
  auto result = Run(spec);
  ASSERT_TRUE(result.ok()) << result.status();
  std::vector<std::string> interfaces;
  for (const std::string& line : Stdout()) {
    size_t colon = line.find(':');
    if (colon == std::string::npos || line.find('|') != std::string::npos) continue;
    std::string name = line.substr(0, colon);
    name.erase(0, name.find_first_not_of(' '));
    interfaces.push_back(name);
  }
  EXPECT_THAT(interfaces, ElementsAre("lo"));

  // Without network_none the host's interfaces are there (more than lo on any real host).
  auto host = Run(Spec("cat /proc/net/dev | grep -c :"));
  ASSERT_TRUE(host.ok()) << host.status();
  ASSERT_EQ(Stdout().size(), 1u);
  EXPECT_GE(std::stoi(Stdout()[0]), 2);
}

TEST_F(SandboxTest, EnvironmentIsExactlyTheSpecs) {
  SandboxSpec spec = Spec("");
  spec.argv = {"env"};  // looked up in the spec's PATH (/bin)
  spec.env = {"PATH=/bin", "FOO=bar baz", "EMPTY="};
  auto result = Run(spec);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_THAT(Stdout(), UnorderedElementsAreArray(spec.env));
}

TEST_F(SandboxTest, UserGroupsApplied) {
  fs::create_directories(lower_ + "/tmp");
  chmod((lower_ + "/tmp").c_str(), 01777);
  SandboxSpec spec = Spec("id -u; id -g; id -G; touch /tmp/owned");
  spec.uid = 1000;
  spec.gid = 50;
  spec.supplementary_gids = {50, 60};
  auto result = Run(spec);
  ASSERT_TRUE(result.ok()) << result.status();
  ASSERT_EQ(result->exit_code, 0) << ::testing::PrintToString(lines_);
  EXPECT_THAT(Stdout(), ElementsAre("1000", "50", "50 60"));
  struct stat st;
  ASSERT_EQ(lstat((spec.upper_dir + "/tmp/owned").c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, 1000u);
  EXPECT_EQ(st.st_gid, 50u);
}

TEST_F(SandboxTest, MissingCwdIsCreatedAndPartOfTheLayer) {
  SandboxSpec spec = Spec("pwd");
  spec.cwd = "/app/src";
  auto result = Run(spec);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_THAT(Stdout(), ElementsAre("/app/src"));
  EXPECT_THAT(ListTree(spec.upper_dir), ElementsAre("app", "app/src"));
  struct stat st;
  ASSERT_EQ(lstat((spec.upper_dir + "/app/src").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0755u);
  EXPECT_EQ(st.st_uid, 0u);
}

TEST_F(SandboxTest, CwdThatIsAFileIsAnError) {
  WriteFile(lower_ + "/file", "x");
  SandboxSpec spec = Spec("pwd");
  spec.cwd = "/file";
  auto result = Run(spec);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), absl::StatusCode::kInternal);
  EXPECT_THAT(result.status().message(), HasSubstr("cwd /file"));
}

TEST_F(SandboxTest, ExecNotFoundIsAnError) {
  SandboxSpec spec = Spec("");
  spec.argv = {"no-such-program"};
  auto result = Run(spec);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), absl::StatusCode::kInternal);
  EXPECT_THAT(result.status().message(), HasSubstr("exec \"no-such-program\": not found"));
}

TEST_F(SandboxTest, InvalidSpecs) {
  SandboxSpec spec = Spec("true");
  spec.argv.clear();
  EXPECT_EQ(Run(spec).status().code(), absl::StatusCode::kInvalidArgument);
  for (const char* target : {"relative/x", "/a/../b", "/"}) {
    SandboxSpec bad = Spec("true");
    SandboxMount m;
    m.kind = SandboxMount::Kind::kTmpfs;
    m.target = target;
    bad.mounts.push_back(m);
    auto result = Run(bad);
    EXPECT_EQ(result.status().code(), absl::StatusCode::kInvalidArgument) << target;
    EXPECT_THAT(result.status().message(), HasSubstr("mount target")) << target;
  }
}

// Starts a child that would write a marker to a host directory two seconds later, while the
// command sleeps; the run is stopped after ~300 ms. The margins are wide so a loaded machine
// cannot make a surviving process look dead or a dead one look alive.
class SandboxStopTest : public SandboxTest {
 protected:
  SandboxSpec SleeperSpec() {
    fs::create_directories(dir_.Sub("out"));
    SandboxSpec spec = Spec("(sleep 2; echo late > /out/marker) & echo started; sleep 1000");
    SandboxMount out;
    out.kind = SandboxMount::Kind::kBind;
    out.source = dir_.Sub("out");
    out.target = "/out";
    out.read_only = false;
    spec.mounts.push_back(out);
    return spec;
  }

  void ExpectTreeDead() {
    std::this_thread::sleep_for(std::chrono::milliseconds(3000));
    EXPECT_FALSE(fs::exists(dir_.Sub("out/marker"))) << "a process of the tree survived";
  }
};

TEST_F(SandboxStopTest, TimeoutKillsTheTree) {
  SandboxSpec spec = SleeperSpec();
  spec.timeout = std::chrono::milliseconds(300);
  auto start = std::chrono::steady_clock::now();
  auto result = Run(spec);
  auto took = std::chrono::steady_clock::now() - start;
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), absl::StatusCode::kDeadlineExceeded) << result.status();
  EXPECT_LT(took, std::chrono::seconds(60));  // stopped, not waited for `sleep 1000`
  EXPECT_THAT(Stdout(), ElementsAre("started"));
  ExpectTreeDead();
  EXPECT_THAT(ListTree(spec.upper_dir), ElementsAre());  // /out's placeholder is gone too
}

TEST_F(SandboxStopTest, CancelKillsTheTree) {
  SandboxSpec spec = SleeperSpec();
  std::atomic<bool> cancelled{false};
  spec.cancelled = &cancelled;
  std::thread canceller([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    cancelled = true;
  });
  auto start = std::chrono::steady_clock::now();
  auto result = Run(spec);
  auto took = std::chrono::steady_clock::now() - start;
  canceller.join();
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), absl::StatusCode::kCancelled) << result.status();
  EXPECT_LT(took, std::chrono::seconds(60));  // stopped, not waited for `sleep 1000`
  ExpectTreeDead();
}

TEST_F(SandboxStopTest, CallerDeathKillsTheTree) {
  // The caller (slipwayd) dies mid-run: the helper (PR_SET_PDEATHSIG), the sandbox's init and
  // the whole tree must go with it. The caller is a forked copy of this test process.
  SandboxSpec spec = SleeperSpec();
  spec.argv[2] = "echo > /out/started; " + spec.argv[2];
  pid_t caller = fork();
  ASSERT_GE(caller, 0);
  if (caller == 0) {
    auto result = RunInSandbox(options_, spec, nullptr);
    _exit(result.ok() ? 0 : 1);
  }
  for (int i = 0; i < 400 && !fs::exists(dir_.Sub("out/started")); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_TRUE(fs::exists(dir_.Sub("out/started")));
  kill(caller, SIGKILL);
  int status;
  ASSERT_EQ(waitpid(caller, &status, 0), caller);
  ExpectTreeDead();
}

TEST_F(SandboxTest, CapabilitiesAreDockersDefault) {
  auto result = Run(Spec("grep CapBnd /proc/self/status; echo 1 > /proc/sys/kernel/domainname "
                         "|| echo refused"));
  ASSERT_TRUE(result.ok()) << result.status();
  // CHOWN DAC_OVERRIDE FOWNER FSETID KILL SETGID SETUID SETPCAP NET_BIND_SERVICE NET_RAW
  // SYS_CHROOT MKNOD AUDIT_WRITE SETFCAP: no CAP_SYS_ADMIN, so no unmounting the sandbox.
  EXPECT_THAT(Stdout(), ElementsAre("CapBnd:\t00000000a80425fb", "refused"));
}

TEST_F(SandboxTest, KernelMemoryAndKeysAreMasked) {
  auto result = Run(Spec("wc -c < /proc/kcore; wc -c < /proc/keys; "
                         "wc -c < /proc/timer_list; echo done"));
  ASSERT_TRUE(result.ok()) << result.status();
  // Each one reads as /dev/null: empty (where the kernel has it at all).
  for (const std::string& line : Stdout()) {
    if (line != "done") EXPECT_EQ(line, "0");
  }
  EXPECT_THAT(Stdout(), ::testing::Contains("done"));
  EXPECT_GE(Stdout().size(), 3u);
}

TEST_F(SandboxTest, ReadOnlyBindRefusesWrites) {
  WriteFile(dir_.Sub("data/in"), "host data\n");
  SandboxSpec spec = Spec("cat /data/in; echo x > /data/new");
  SandboxMount m;
  m.kind = SandboxMount::Kind::kBind;
  m.source = dir_.Sub("data");
  m.target = "/data";
  spec.mounts.push_back(m);
  auto result = Run(spec);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_NE(result->exit_code, 0);
  EXPECT_THAT(result->last_lines, ::testing::Contains("host data"));
  EXPECT_THAT(result->last_lines, ::testing::Contains(HasSubstr("Read-only file system")));
  EXPECT_FALSE(fs::exists(dir_.Sub("data/new")));
  EXPECT_THAT(ListTree(spec.upper_dir), ElementsAre());
}

TEST_F(SandboxTest, TmpfsMount) {
  SandboxSpec spec = Spec("echo x > /scratch/f && cat /scratch/f && grep ' /scratch ' "
                          "/proc/mounts && stat -c %a /scratch");
  SandboxMount m;
  m.kind = SandboxMount::Kind::kTmpfs;
  m.target = "/scratch";
  m.size_bytes = 1 << 20;
  spec.mounts.push_back(m);
  auto result = Run(spec);
  ASSERT_TRUE(result.ok()) << result.status();
  ASSERT_EQ(result->exit_code, 0) << ::testing::PrintToString(lines_);
  ASSERT_EQ(Stdout().size(), 3u);
  EXPECT_EQ(Stdout()[0], "x");
  EXPECT_THAT(Stdout()[1], HasSubstr("tmpfs /scratch tmpfs"));
  EXPECT_THAT(Stdout()[1], HasSubstr("size=1024k"));
  EXPECT_EQ(Stdout()[2], "1777");
  EXPECT_THAT(ListTree(spec.upper_dir), ElementsAre());
}

TEST_F(SandboxTest, SecretIsReadableAndNeverOnDisk) {
  const std::string value = "s3cr3t-" + std::to_string(getpid()) + "-VALUE";
  SandboxSpec spec = Spec("cat /run/secrets/token; echo; stat -c '%a %u %g' /run/secrets/token;"
                          " echo x > /run/secrets/token || echo refused");
  SandboxMount m;
  m.kind = SandboxMount::Kind::kSecretFile;
  m.target = "/run/secrets/token";
  m.content = value;
  m.uid = 1000;
  m.gid = 50;
  spec.mounts.push_back(m);
  auto result = Run(spec);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_THAT(Stdout(), ElementsAre(value, "400 1000 50", "refused"));
  EXPECT_THAT(ListTree(spec.upper_dir), ElementsAre());
  // Nowhere on disk below the test's directory (upper, work, lower), nor in the helper's
  // scratch directories. Other tests' helpers create and remove their scratch directories
  // while this searches, so vanished files are not errors (-s); a match prints its file name.
  auto grep = RunCommand("grep -r -l -s -F " + ShellQuote(value) + " " + ShellQuote(dir_.path()) +
                         " $(ls -d /tmp/slipway-sandbox.* 2>/dev/null)");
  EXPECT_NE(grep.exit_code, 0) << grep.output;
  EXPECT_EQ(grep.output, "");
}

TEST_F(SandboxTest, SymlinkedTargetStaysInsideTheRoot) {
  // Symlinks in the image point at host paths. Resolving a target through them on the host
  // would create the missing mount points there (a file in `outside`, the directory
  // `missing`); inside the root they land below the root's /tmp.
  TempDir outside;
  WriteFile(outside.Sub("sentinel"), "untouched");
  const std::string missing = outside.path() + "-missing";
  fs::create_symlink(outside.path(), lower_ + "/evil");
  fs::create_symlink("../../.." + outside.path(), lower_ + "/relative-evil");
  fs::create_symlink(missing, lower_ + "/evil-missing");
  SandboxSpec spec = Spec("cat /evil/token /relative-evil/token2 && ls " + outside.path() +
                          " && echo x > /evil-missing/sub/f && ls " + missing + "/sub");
  SandboxMount secret;
  secret.kind = SandboxMount::Kind::kSecretFile;
  secret.target = "/evil/token";
  secret.content = "one\n";
  spec.mounts.push_back(secret);
  secret.target = "/relative-evil/token2";
  secret.content = "two\n";
  spec.mounts.push_back(secret);
  SandboxMount tmp;
  tmp.kind = SandboxMount::Kind::kTmpfs;
  tmp.target = "/evil-missing/sub";
  spec.mounts.push_back(tmp);
  auto result = Run(spec);
  ASSERT_TRUE(result.ok()) << result.status();
  ASSERT_EQ(result->exit_code, 0) << ::testing::PrintToString(lines_);
  EXPECT_THAT(Stdout(), ElementsAre("one", "two", "token", "token2", "f"));
  EXPECT_THAT(ListTree(outside.path()), ElementsAre("sentinel"));
  EXPECT_EQ(ReadFile(outside.Sub("sentinel")), "untouched");
  EXPECT_FALSE(fs::exists(missing));
  // The placeholders (tmp/..., the files) were created in the overlay and are gone again.
  EXPECT_THAT(ListTree(spec.upper_dir), ElementsAre());
}

TEST_F(SandboxTest, OverlayRoMountOfOtherLayers) {
  WriteFile(dir_.Sub("stage/a/only-bottom"), "bottom\n");
  WriteFile(dir_.Sub("stage/a/both"), "old\n");
  WriteFile(dir_.Sub("stage/b/both"), "new\n");
  SandboxSpec spec = Spec("cat /from/both /from/only-bottom; echo x > /from/new || echo refused");
  SandboxMount m;
  m.kind = SandboxMount::Kind::kOverlayRo;
  m.target = "/from";
  m.lower_dirs = {dir_.Sub("stage/b"), dir_.Sub("stage/a")};
  spec.mounts.push_back(m);
  auto result = Run(spec);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_THAT(Stdout(), ElementsAre("new", "bottom", "refused"));
  EXPECT_THAT(ListTree(spec.upper_dir), ElementsAre());
}

TEST_F(SandboxTest, HostsFileAndResolvConf) {
  WriteFile(dir_.Sub("resolv"), "nameserver 192.0.2.53\n");
  SandboxSpec spec = Spec("cat /etc/hosts /etc/resolv.conf; echo hacked >> /etc/resolv.conf");
  spec.hosts_file_content = "10.0.0.1 db\n";
  spec.resolv_conf_path = dir_.Sub("resolv");
  auto result = Run(spec);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_THAT(Stdout(), ElementsAre("10.0.0.1 db", "nameserver 192.0.2.53"));
  EXPECT_EQ(ReadFile(dir_.Sub("resolv")), "nameserver 192.0.2.53\n");  // a copy was mounted

  auto defaults = Run(Spec("cat /etc/hosts"));
  ASSERT_TRUE(defaults.ok()) << defaults.status();
  EXPECT_THAT(Stdout(), ::testing::Contains(HasSubstr("localhost sbx")));
}

TEST_F(SandboxTest, DevicesAndProc) {
  auto result = Run(Spec("echo x > /dev/null && head -c 4 /dev/zero | wc -c && ls /dev/pts "
                         "/dev/shm >/dev/null && cat /proc/1/cmdline >/dev/null && echo ok"));
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->exit_code, 0) << ::testing::PrintToString(lines_);
}

TEST_F(SandboxTest, ScratchRootWithEmptyLowerDirs) {
  SandboxSpec spec = Spec("");
  spec.lower_dirs.clear();
  spec.argv = {"/bin/sh"};
  auto result = Run(spec);
  ASSERT_FALSE(result.ok());  // nothing to exec in an empty root, but the root was made
  EXPECT_THAT(result.status().message(), HasSubstr("exec \"/bin/sh\""));
  EXPECT_THAT(ListTree(spec.upper_dir), ElementsAre());
}

TEST_F(SandboxTest, TenConcurrentRuns) {
  std::vector<SandboxSpec> specs;
  for (int i = 0; i < 10; ++i) specs.push_back(Spec("echo run" + std::to_string(i) + " > /me; cat /me"));
  std::vector<absl::StatusOr<SandboxResult>> results(10, absl::UnknownError("not run"));
  std::vector<std::thread> threads;
  for (int i = 0; i < 10; ++i) {
    threads.emplace_back([&, i] { results[i] = RunInSandbox(options_, specs[i], nullptr); });
  }
  for (auto& t : threads) t.join();
  for (int i = 0; i < 10; ++i) {
    ASSERT_TRUE(results[i].ok()) << i << ": " << results[i].status();
    EXPECT_EQ(results[i]->exit_code, 0);
    EXPECT_THAT(results[i]->last_lines, ElementsAre("run" + std::to_string(i)));
    EXPECT_THAT(ListTree(specs[i].upper_dir), ElementsAre("me"));
  }
}

TEST_F(SandboxTest, ProbeSucceedsHere) {
  absl::Status status = ProbeSandbox(options_, dir_.path());
  EXPECT_TRUE(status.ok()) << status;
  EXPECT_THAT(ListTree(dir_.path()), ::testing::Not(::testing::Contains(HasSubstr("probe"))));
}

TEST_F(SandboxTest, ProbeFailsWithoutHelper) {
  SandboxOptions missing;
  missing.helper_path = dir_.Sub("no-such-helper");
  absl::Status status = ProbeSandbox(missing, dir_.path());
  EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(status.message(), HasSubstr("no-such-helper"));
}

}  // namespace
}  // namespace slipway::build
