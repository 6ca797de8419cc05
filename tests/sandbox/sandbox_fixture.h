// The fixture of the sandbox tests: the real slipway-sandbox helper and a real root filesystem
// (busybox-static and applet symlinks, as tests/builddiff/make_base_image.sh makes).

#ifndef SLIPWAY_TESTS_SANDBOX_SANDBOX_FIXTURE_H_
#define SLIPWAY_TESTS_SANDBOX_SANDBOX_FIXTURE_H_

#include <sched.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_split.h"
#include "gtest/gtest.h"
#include "server/build/run/sandbox.h"
#include "tests/support/temp_dir.h"

namespace slipway::build {

// Every path below `dir`, relative, sorted.
inline std::vector<std::string> ListTree(const std::string& dir) {
  namespace fs = std::filesystem;
  std::vector<std::string> out;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(dir, ec);
       !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    out.push_back(fs::relative(it->path(), dir).string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

class SandboxTest : public ::testing::Test {
 protected:
  void SetUp() override {
    namespace fs = std::filesystem;
    ASSERT_EQ(geteuid(), 0u) << "the sandbox tests need root (namespaces, overlayfs)";
    ASSERT_EQ(access("/bin/busybox", X_OK), 0) << "busybox-static is not installed";
    options_.helper_path = SLIPWAY_SANDBOX_BIN;
    lower_ = dir_.Sub("lower");
    fs::create_directories(lower_ + "/bin");
    fs::copy_file("/bin/busybox", lower_ + "/bin/busybox");
    for (const char* applet : {"sh", "ls", "cat", "echo", "id", "hostname", "sleep", "touch",
                               "rm", "env", "pwd", "grep", "stat", "mkdir", "head", "wc"}) {
      fs::create_symlink("busybox", lower_ + "/bin/" + applet);
    }
  }

  // A fresh upper/work pair and a spec running `script` with /bin/sh.
  SandboxSpec Spec(const std::string& script) {
    namespace fs = std::filesystem;
    int n = runs_++;
    SandboxSpec spec;
    spec.lower_dirs = {lower_};
    spec.upper_dir = dir_.Sub("upper" + std::to_string(n));
    spec.work_dir = dir_.Sub("work" + std::to_string(n));
    fs::create_directories(spec.upper_dir);
    fs::create_directories(spec.work_dir);
    spec.argv = {"/bin/sh", "-c", script};
    spec.env = {"PATH=/bin", "HOME=/root"};
    spec.hostname = "sbx";
    spec.timeout = std::chrono::seconds(60);
    return spec;
  }

  absl::StatusOr<SandboxResult> Run(const SandboxSpec& spec) {
    lines_.clear();
    return RunInSandbox(options_, spec, [this](bool is_stderr, const std::string& line) {
      lines_.emplace_back(is_stderr, line);
    });
  }

  std::vector<std::string> Stdout() const {
    std::vector<std::string> out;
    for (const auto& [is_stderr, line] : lines_) {
      if (!is_stderr) out.push_back(line);
    }
    return out;
  }

  // Runs `spec` from a forked copy of this process that first enters a private mount
  // namespace and calls `prepare` there (to change what the helper sees as the host's mounts
  // without touching the real host's; "" = done, else what failed). Returns the output lines
  // (stdout and stderr) of the command, preceded by "status: ..." when RunInSandbox failed and
  // "prepare: ..." when the preparation did, followed by what `after` (optional, called in the
  // namespace after the run) returns. Bounded by spec.timeout.
  std::vector<std::string> RunInPrivateMountNamespace(
      const SandboxSpec& spec, const std::function<std::string()>& prepare,
      const std::function<std::string()>& after = nullptr) {
    const std::string out_file = dir_.Sub("forked-" + std::to_string(runs_++));
    pid_t child = fork();
    if (child < 0) return {"fork failed"};
    if (child == 0) {
      std::string out;
      if (unshare(CLONE_NEWNS) != 0 ||
          mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) {
        out = std::string("prepare: private mount namespace: ") + std::strerror(errno) + "\n";
      } else if (std::string failed = prepare(); !failed.empty()) {
        out = "prepare: " + failed + "\n";
      } else {
        auto result = RunInSandbox(options_, spec, [&out](bool, const std::string& line) {
          out += line + "\n";
        });
        if (!result.ok()) out = "status: " + result.status().ToString() + "\n" + out;
        if (after) out += after();
      }
      ::slipway::testing::WriteFile(out_file, out);
      _exit(0);
    }
    int status = 0;
    while (waitpid(child, &status, 0) < 0 && errno == EINTR) {
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) return {"the forked runner failed"};
    std::vector<std::string> lines =
        absl::StrSplit(::slipway::testing::ReadFile(out_file), '\n', absl::SkipEmpty());
    return lines;
  }

  ::slipway::testing::TempDir dir_;
  SandboxOptions options_;
  std::string lower_;
  int runs_ = 0;
  std::vector<std::pair<bool, std::string>> lines_;
};

}  // namespace slipway::build

#endif  // SLIPWAY_TESTS_SANDBOX_SANDBOX_FIXTURE_H_
