// /sys and /sys/fs/cgroup in the sandbox: read-only, as Docker mounts them, and never part of
// the layer.

#include <sys/mount.h>
#include <sys/statfs.h>
#include <linux/magic.h>

#include <filesystem>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/build/run/sandbox.h"
#include "tests/sandbox/sandbox_fixture.h"

namespace slipway::build {
namespace {

namespace fs = std::filesystem;
using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;

// A /proc/self/mountinfo line's mount point, options and filesystem type.
struct MountLine {
  std::string mount_point, options, fstype;
};

// The mountinfo lines among `lines` whose mount point is `prefix` or below it.
std::vector<MountLine> MountsUnder(const std::vector<std::string>& lines,
                                   const std::string& prefix) {
  std::vector<MountLine> out;
  for (const std::string& line : lines) {
    std::vector<std::string> f = absl::StrSplit(line, ' ');
    // id parent major:minor root mount-point options [optional...] - fstype source super
    auto dash = std::find(f.begin(), f.end(), "-");
    if (f.size() < 6 || dash == f.end() || dash + 1 == f.end()) continue;
    if (f[4] != prefix && !absl::StartsWith(f[4], prefix + "/")) continue;
    out.push_back({f[4], f[5], *(dash + 1)});
  }
  return out;
}

std::vector<std::string> Options(const MountLine& m) { return absl::StrSplit(m.options, ','); }

bool IsCgroup2(const std::string& path) {
  struct statfs st;
  return statfs(path.c_str(), &st) == 0 &&
         static_cast<unsigned long>(st.f_type) == CGROUP2_SUPER_MAGIC;
}

TEST_F(SandboxTest, SysIsAReadOnlySysfs) {
  // Writes that would be harmless even if they went through: a directory sysfs refuses
  // anyway (EPERM, not EROFS) and an invalid MTU for the loopback device.
  SandboxSpec spec = Spec("ls /sys/kernel >/dev/null && ls /sys/class >/dev/null && "
                          "echo readable; mkdir /sys/probe; echo > /sys/class/net/lo/mtu; "
                          "ls -A /sys/firmware 2>/dev/null | wc -l; cat /proc/self/mountinfo");
  auto result = Run(spec);
  ASSERT_TRUE(result.ok()) << result.status();
  std::vector<std::string> out = Stdout();
  ASSERT_FALSE(out.empty()) << ::testing::PrintToString(lines_);
  ASSERT_GE(out.size(), 2u) << ::testing::PrintToString(lines_);
  EXPECT_EQ(out[0], "readable") << ::testing::PrintToString(lines_);
  EXPECT_EQ(out[1], "0");  // firmware tables (acpi, memmap... where the host has them) masked
  std::vector<std::string> errors;
  for (const auto& [is_stderr, line] : lines_) {
    if (is_stderr) errors.push_back(line);
  }
  EXPECT_THAT(errors, ElementsAre(HasSubstr("Read-only file system"),
                                  HasSubstr("Read-only file system")));

  std::vector<MountLine> sys = MountsUnder(out, "/sys");
  ASSERT_FALSE(sys.empty()) << ::testing::PrintToString(out);
  EXPECT_EQ(sys[0].mount_point, "/sys");
  EXPECT_EQ(sys[0].fstype, "sysfs");
  for (const char* option : {"nosuid", "nodev", "noexec"}) {
    EXPECT_THAT(Options(sys[0]), Contains(option));
  }
  // Everything below /sys too: the masks, and /sys/fs/cgroup where the host has cgroup2.
  for (const MountLine& m : sys) {
    EXPECT_EQ(Options(m)[0], "ro") << m.mount_point << " " << m.options;
  }
  std::vector<MountLine> cgroup = MountsUnder(out, "/sys/fs/cgroup");
  if (IsCgroup2("/sys/fs/cgroup")) {
    ASSERT_EQ(cgroup.size(), 1u);
    EXPECT_EQ(cgroup[0].fstype, "cgroup2");
  } else {
    EXPECT_THAT(cgroup, IsEmpty());  // a v1/hybrid host: sysfs's empty directory
  }
  // The image had no /sys: the mount point does not reach the layer.
  EXPECT_THAT(ListTree(spec.upper_dir), ElementsAre());
}

TEST_F(SandboxTest, SysMountPointOfTheImageStaysOutOfTheLayer) {
  fs::create_directories(lower_ + "/sys");
  SandboxSpec spec = Spec("ls /sys/class/net > /dev/null && echo ok");
  auto result = Run(spec);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_THAT(Stdout(), ElementsAre("ok"));
  EXPECT_THAT(ListTree(spec.upper_dir), ElementsAre());
}

TEST_F(SandboxTest, SysShowsTheSandboxsNetworkNamespace) {
  SandboxSpec none = Spec("ls /sys/class/net");
  none.network_none = true;
  auto result = Run(none);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_THAT(Stdout(), ElementsAre("lo"));
  EXPECT_THAT(ListTree(none.upper_dir), ElementsAre());

  // With the host's network: the host's interfaces, as this process sees them.
  std::vector<std::string> host;
  for (const auto& entry : fs::directory_iterator("/sys/class/net")) {
    host.push_back(entry.path().filename().string());
  }
  std::sort(host.begin(), host.end());
  ASSERT_GE(host.size(), 2u) << "the test needs a host with more than lo";
  auto shared = Run(Spec("ls /sys/class/net"));
  ASSERT_TRUE(shared.ok()) << shared.status();
  EXPECT_EQ(Stdout(), host);
}

TEST_F(SandboxTest, CgroupIsReadOnlyCgroup2OfItsOwnNamespaceOnACgroup2Host) {
  // Whatever this host uses, the helper is made to see a cgroup2 /sys/fs/cgroup (in a private
  // mount namespace of a forked runner).
  SandboxSpec spec = Spec("grep ' /sys/fs/cgroup ' /proc/self/mountinfo; cat /proc/self/cgroup; "
                          "ls /sys/fs/cgroup | grep -c '^cgroup.procs$'; "
                          "echo > /sys/fs/cgroup/cgroup.procs");
  std::vector<std::string> out = RunInPrivateMountNamespace(spec, [] {
    if (IsCgroup2("/sys/fs/cgroup")) return std::string();
    if (mount("cgroup2", "/sys/fs/cgroup", "cgroup2", MS_NOSUID | MS_NODEV | MS_NOEXEC,
              nullptr) != 0) {
      return std::string("mount cgroup2: ") + std::strerror(errno);
    }
    return std::string();
  });
  ASSERT_THAT(out, Not(Contains(HasSubstr("prepare:")))) << ::testing::PrintToString(out);
  ASSERT_THAT(out, Not(Contains(HasSubstr("status:")))) << ::testing::PrintToString(out);
  std::vector<MountLine> cgroup = MountsUnder(out, "/sys/fs/cgroup");
  ASSERT_EQ(cgroup.size(), 1u) << ::testing::PrintToString(out);
  EXPECT_EQ(cgroup[0].fstype, "cgroup2");
  EXPECT_EQ(Options(cgroup[0])[0], "ro");
  for (const char* option : {"nosuid", "nodev", "noexec"}) {
    EXPECT_THAT(Options(cgroup[0]), Contains(option));
  }
  // Its own cgroup namespace: the sandbox's cgroup is the root of what it sees, in every
  // hierarchy (here the test itself sits in a non-root v1 memory cgroup, say, it shows "/").
  EXPECT_THAT(out, Contains("0::/"));
  for (const std::string& line : out) {
    std::vector<std::string> f = absl::StrSplit(line, absl::MaxSplits(':', 2));
    if (f.size() == 3 && !f[0].empty() &&
        f[0].find_first_not_of("0123456789") == std::string::npos) {
      EXPECT_EQ(f[2], "/") << line;
    }
  }
  EXPECT_THAT(out, Contains("1"));  // the hierarchy's files are there to read
  EXPECT_THAT(out, Contains(HasSubstr("Read-only file system")));
  EXPECT_THAT(ListTree(spec.upper_dir), ElementsAre());
}

}  // namespace
}  // namespace slipway::build
