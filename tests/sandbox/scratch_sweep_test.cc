// The helper's scratch directories in /tmp: named after the helper's pid and PID namespace, and
// those of dead helpers (SIGKILLed before they could remove theirs) swept by the next helper.

#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/build/run/sandbox.h"
#include "tests/sandbox/sandbox_fixture.h"
#include "tests/support/temp_dir.h"

namespace slipway::build {
namespace {

namespace fs = std::filesystem;
using ::slipway::testing::ReadFile;
using ::slipway::testing::TempDir;
using ::slipway::testing::WriteFile;
using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;

unsigned long long OwnPidNamespace() {
  struct stat st;
  EXPECT_EQ(stat("/proc/self/ns/pid", &st), 0);
  return st.st_ino;
}

// A pid no process has any more: a child's, reaped.
pid_t DeadPid() {
  pid_t pid = fork();
  if (pid == 0) _exit(0);
  int status;
  EXPECT_EQ(waitpid(pid, &status, 0), pid);
  return pid;
}

// A directory below `parent` named as the scratch directory of a helper `pid` in PID namespace
// `ns` ("" when mkdtemp failed).
std::string FakeScratch(const std::string& parent, pid_t pid, unsigned long long ns) {
  std::string name = parent + "/slipway-sandbox." + std::to_string(pid) + "@" +
                     std::to_string(ns) + ".XXXXXX";
  return mkdtemp(name.data()) != nullptr ? name : "";
}

// What a killed helper can leave in its scratch directory: layer links, the /etc files, the
// overlay's mount point. The links point at `target`, which must survive the sweep.
void FillLikeAKilledHelper(const std::string& dir, const std::string& target) {
  fs::create_directories(dir + "/root-layers");
  fs::create_symlink(target, dir + "/root-layers/0");
  fs::create_symlink(target, dir + "/root-layers/u");
  fs::create_directories(dir + "/mount-layers-3");
  fs::create_symlink(target + "/keep", dir + "/mount-layers-3/0");
  fs::create_directories(dir + "/root");
  WriteFile(dir + "/hosts", "127.0.0.1 localhost\n");
  fs::create_symlink(target, dir + "/escape");
}

// Removes the listed directories when the test ends, however it ends.
struct RemoveAtEnd {
  std::vector<std::string> dirs;
  ~RemoveAtEnd() {
    for (const std::string& d : dirs) {
      std::error_code ec;
      if (!d.empty()) fs::remove_all(d, ec);
    }
  }
};

TEST_F(SandboxTest, LeftoverScratchDirsOfDeadHelpersAreSwept) {
  const pid_t dead = DeadPid();
  const unsigned long long ns = OwnPidNamespace();
  TempDir target;
  WriteFile(target.Sub("keep"), "kept\n");

  RemoveAtEnd cleanup;
  const std::string leftover = FakeScratch("/tmp", dead, ns);
  const std::string live = FakeScratch("/tmp", getpid(), ns);
  const std::string other_ns = FakeScratch("/tmp", dead, ns + 1);
  const std::string stranger = FakeScratch("/tmp", dead, ns);
  cleanup.dirs = {leftover, live, other_ns, stranger};
  for (const std::string& d : cleanup.dirs) ASSERT_FALSE(d.empty()) << std::strerror(errno);
  FillLikeAKilledHelper(leftover, target.path());
  WriteFile(stranger + "/notes.txt", "not the sandbox's\n");  // something it never makes

  auto result = Run(Spec("echo ran"));
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_THAT(Stdout(), ElementsAre("ran"));

  EXPECT_FALSE(fs::exists(leftover)) << ::testing::PrintToString(ListTree(leftover));
  // What its symlinks pointed at is untouched.
  EXPECT_THAT(ListTree(target.path()), ElementsAre("keep"));
  EXPECT_EQ(ReadFile(target.Sub("keep")), "kept\n");
  // A live helper's directory (this process's pid), one of another PID namespace (whose pids
  // this one cannot judge) and one holding something unexpected all stay.
  EXPECT_TRUE(fs::is_directory(live));
  EXPECT_TRUE(fs::is_directory(other_ns));
  EXPECT_EQ(ReadFile(stranger + "/notes.txt"), "not the sandbox's\n");
}

TEST_F(SandboxTest, LeftoverScratchDirWithAMountPointIsLeft) {
  // In a private mount namespace with its own /tmp, so that no other test's helper (which
  // would not see the mount) judges these directories, and the helper's own scratch
  // directory is the only other one there. The command sees that /tmp at /host-tmp.
  const pid_t dead = DeadPid();
  const unsigned long long ns = OwnPidNamespace();
  const std::string test_dir = fs::path(dir_.path()).filename().string();
  std::string mounted, plain;
  // A build tree under /tmp (a clone there) must stay reachable below the private /tmp; its top
  // directory then shows in the listings and is not counted.
  const std::string& helper = options_.helper_path;
  const bool helper_in_tmp = helper.rfind("/tmp/", 0) == 0;
  const std::string helper_top =
      helper_in_tmp ? helper.substr(5, helper.find('/', 5) - 5) : std::string();
  SandboxSpec spec = Spec("ls /host-tmp");
  SandboxMount host_tmp;
  host_tmp.kind = SandboxMount::Kind::kBind;
  host_tmp.source = "/tmp";
  host_tmp.target = "/host-tmp";
  spec.mounts.push_back(host_tmp);
  auto out = RunInPrivateMountNamespace(
      spec,
      [&]() -> std::string {
        // The test's directory (lower, upper, work) stays reachable below the new /tmp, and
        // so does the helper binary when the build tree is under /tmp (a clone in /tmp).
        int keep = open(dir_.path().c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (keep < 0) return std::string("open test dir: ") + std::strerror(errno);
        int keep_helper = helper_in_tmp ? open(helper.c_str(), O_PATH | O_CLOEXEC) : -1;
        if (helper_in_tmp && keep_helper < 0) {
          return std::string("open helper: ") + std::strerror(errno);
        }
        if (mount("tmpfs", "/tmp", "tmpfs", 0, "mode=1777") != 0) {
          return std::string("tmpfs on /tmp: ") + std::strerror(errno);
        }
        std::error_code ec;
        fs::create_directories(dir_.path(), ec);
        if (mount(("/proc/self/fd/" + std::to_string(keep)).c_str(), dir_.path().c_str(),
                  nullptr, MS_BIND, nullptr) != 0) {
          return std::string("bind test dir: ") + std::strerror(errno);
        }
        close(keep);
        if (helper_in_tmp) {
          fs::create_directories(fs::path(helper).parent_path(), ec);
          int placeholder = open(helper.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0755);
          if (placeholder >= 0) close(placeholder);
          if (mount(("/proc/self/fd/" + std::to_string(keep_helper)).c_str(), helper.c_str(),
                    nullptr, MS_BIND, nullptr) != 0) {
            return std::string("bind helper: ") + std::strerror(errno);
          }
          close(keep_helper);
        }
        mounted = FakeScratch("/tmp", dead, ns);
        plain = FakeScratch("/tmp", dead, ns);
        if (mounted.empty() || plain.empty()) return std::string("mkdtemp failed");
        fs::create_directories(mounted + "/root", ec);
        if (mount("tmpfs", (mounted + "/root").c_str(), "tmpfs", 0, nullptr) != 0) {
          return std::string("tmpfs on the leftover: ") + std::strerror(errno);
        }
        return std::string();
      },
      [&] {
        std::string left;
        for (const auto& entry : fs::directory_iterator("/tmp")) {
          left += "left " + entry.path().string() + "\n";
        }
        return left;
      });
  ASSERT_THAT(out, Not(Contains(HasSubstr("prepare:")))) << ::testing::PrintToString(out);
  ASSERT_THAT(out, Not(Contains(HasSubstr("status:")))) << ::testing::PrintToString(out);
  // `mounted` and `plain` were set in the forked runner only; their names are recovered here.
  std::vector<std::string> during, after;
  for (const std::string& line : out) {
    if (helper_in_tmp && (line == helper_top || line == "left /tmp/" + helper_top)) {
      continue;
    }
    if (line.rfind("left ", 0) == 0) after.push_back(line.substr(5));
    else during.push_back(line);
  }
  // While the command ran: the test's directory, the leftover with a mount point (the one
  // without was swept) and the helper's own directory, named after its pid and namespace.
  const std::string own_pattern =
      "slipway-sandbox\\.[0-9]+@" + std::to_string(ns) + "\\.[A-Za-z0-9]{6}";
  ASSERT_EQ(during.size(), 3u) << ::testing::PrintToString(out);
  EXPECT_THAT(during, Contains(test_dir));
  EXPECT_THAT(during, Contains(::testing::MatchesRegex(own_pattern)).Times(2));
  // Afterwards: the helper removed its own; the mounted leftover stays.
  ASSERT_EQ(after.size(), 2u) << ::testing::PrintToString(out);
  EXPECT_THAT(after, Contains("/tmp/" + test_dir));
  std::string leftover;
  for (const std::string& a : after) {
    if (a != "/tmp/" + test_dir) leftover = fs::path(a).filename().string();
  }
  EXPECT_THAT(during, Contains(leftover));
  EXPECT_THAT(leftover, ::testing::MatchesRegex("slipway-sandbox\\." + std::to_string(dead) +
                                                "@[0-9]+\\.[A-Za-z0-9]{6}"));
}

}  // namespace
}  // namespace slipway::build
