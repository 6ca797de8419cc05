#include "tests/support/subprocess.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>

#include "absl/time/clock.h"
#include "tests/support/temp_dir.h"

extern char** environ;

namespace slipway::testing {

pid_t SpawnProcess(const std::vector<std::string>& argv,
                   const std::map<std::string, std::string>& env, const std::string& log_path) {
  // Build everything before fork: only async-signal-safe calls happen in the child.
  std::map<std::string, std::string> merged;
  for (char** e = environ; *e != nullptr; ++e) {
    std::string kv(*e);
    auto eq = kv.find('=');
    if (eq != std::string::npos) merged[kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  for (const auto& [k, v] : env) {
    if (v.empty()) {
      merged.erase(k);
    } else {
      merged[k] = v;
    }
  }
  std::vector<std::string> env_strings;
  for (const auto& [k, v] : merged) env_strings.push_back(k + "=" + v);
  std::vector<char*> envp, args;
  for (auto& s : env_strings) envp.push_back(s.data());
  envp.push_back(nullptr);
  std::vector<std::string> argv_copy = argv;
  for (auto& s : argv_copy) args.push_back(s.data());
  args.push_back(nullptr);

  int log_fd = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (log_fd < 0) return -1;
  pid_t pid = ::fork();
  if (pid == 0) {
    sigset_t empty;
    sigemptyset(&empty);
    sigprocmask(SIG_SETMASK, &empty, nullptr);
    int null_fd = ::open("/dev/null", O_RDONLY);
    if (null_fd >= 0) ::dup2(null_fd, 0);
    ::dup2(log_fd, 1);
    ::dup2(log_fd, 2);
    ::execve(args[0], args.data(), envp.data());
    _exit(127);
  }
  ::close(log_fd);
  return pid;
}

bool WaitForExit(pid_t pid, absl::Duration timeout, ProcessResult* result) {
  absl::Time deadline = absl::Now() + timeout;
  for (;;) {
    int status = 0;
    pid_t r = ::waitpid(pid, &status, WNOHANG);
    if (r == pid) {
      if (WIFEXITED(status)) result->exit_code = WEXITSTATUS(status);
      if (WIFSIGNALED(status)) result->term_signal = WTERMSIG(status);
      return true;
    }
    if (r < 0) return true;  // not our child any more
    if (absl::Now() >= deadline) return false;
    absl::SleepFor(absl::Milliseconds(10));
  }
}

ProcessResult RunProcess(const std::vector<std::string>& argv,
                         const std::map<std::string, std::string>& env, absl::Duration timeout) {
  TempDir dir;
  ProcessResult result;
  // stdout and stderr go to separate files: spawn with stderr to one, then re-point stdout.
  std::string out_path = dir.Sub("out"), err_path = dir.Sub("err");
  std::vector<std::string> wrapped = {"/bin/sh", "-c", "exec \"$0\" \"$@\" >\"$SLIPWAY_TEST_OUT\""};
  wrapped.insert(wrapped.end(), argv.begin(), argv.end());
  std::map<std::string, std::string> env2 = env;
  env2["SLIPWAY_TEST_OUT"] = out_path;
  pid_t pid = SpawnProcess(wrapped, env2, err_path);
  if (pid < 0) {
    result.err = "cannot spawn " + argv[0];
    return result;
  }
  if (!WaitForExit(pid, timeout, &result)) {
    ::kill(pid, SIGKILL);
    WaitForExit(pid, absl::Seconds(10), &result);
    result.timed_out = true;
    result.exit_code = -1;
  }
  result.out = ReadFile(out_path);
  result.err = ReadFile(err_path);
  return result;
}

}  // namespace slipway::testing
