#include "server/scan/hook_runner.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"

namespace slipway::scan {
namespace {

// argv[0] → an executable path, searching the PATH of the child's environment (resolved before
// fork, since execve does no search and the child may not allocate).
std::string ResolveProgram(const std::string& program, const std::vector<std::string>& env) {
  if (absl::StrContains(program, "/")) return program;
  std::string path = "/usr/local/bin:/usr/bin:/bin";
  for (const auto& e : env) {
    if (absl::StartsWith(e, "PATH=")) path = e.substr(5);
  }
  for (absl::string_view dir : absl::StrSplit(path, ':', absl::SkipEmpty())) {
    std::string candidate = absl::StrCat(dir, "/", program);
    if (access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return "";
}

void AppendTail(std::string& out, const char* data, size_t n, size_t max) {
  out.append(data, n);
  if (out.size() > max * 2) out.erase(0, out.size() - max);
}

}  // namespace

absl::StatusOr<HookProcessResult> RunHookProcess(const HookProcessOptions& options) {
  if (options.argv.empty()) return absl::InvalidArgumentError("hook: empty argv");
  const std::string program = ResolveProgram(options.argv[0], options.env);
  if (program.empty() || access(program.c_str(), X_OK) != 0) {
    return absl::NotFoundError(
        absl::StrCat("hook program \"", options.argv[0], "\" is not an executable file"));
  }
  std::vector<char*> argv;
  for (const auto& a : options.argv) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  std::vector<char*> envp;
  for (const auto& e : options.env) envp.push_back(const_cast<char*>(e.c_str()));
  envp.push_back(nullptr);

  int out_pipe[2];
  if (pipe2(out_pipe, O_CLOEXEC) != 0) {
    return absl::InternalError(absl::StrCat("hook: pipe: ", strerror(errno)));
  }
  int err_pipe[2];  // reports a failed exec to the parent (closed by a successful exec)
  if (pipe2(err_pipe, O_CLOEXEC) != 0) {
    close(out_pipe[0]);
    close(out_pipe[1]);
    return absl::InternalError(absl::StrCat("hook: pipe: ", strerror(errno)));
  }
  const struct rlimit limit = {static_cast<rlim_t>(options.memory_limit_bytes),
                               static_cast<rlim_t>(options.memory_limit_bytes)};
  const char* cwd = options.cwd.empty() ? nullptr : options.cwd.c_str();
  const absl::Time start = absl::Now();
  pid_t pid = fork();
  if (pid < 0) {
    int e = errno;
    for (int fd : {out_pipe[0], out_pipe[1], err_pipe[0], err_pipe[1]}) close(fd);
    return absl::InternalError(absl::StrCat("hook: fork: ", strerror(e)));
  }
  if (pid == 0) {
    // Child: async-signal-safe calls only.
    setpgid(0, 0);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);  // slipwayd blocks SIGTERM/SIGINT; hooks must not
    int devnull = open("/dev/null", O_RDONLY);
    if (devnull >= 0) dup2(devnull, 0);
    dup2(out_pipe[1], 1);
    dup2(out_pipe[1], 2);
    if (cwd != nullptr && chdir(cwd) != 0) {
      int e = errno;
      (void)!write(err_pipe[1], &e, sizeof(e));
      _exit(127);
    }
    if (options.memory_limit_bytes > 0) setrlimit(RLIMIT_AS, &limit);
    execve(program.c_str(), argv.data(), envp.data());
    int e = errno;
    (void)!write(err_pipe[1], &e, sizeof(e));
    _exit(127);
  }
  // Parent. Setting the group here too closes the race where we kill before the child did.
  setpgid(pid, pid);
  close(out_pipe[1]);
  close(err_pipe[1]);
  HookProcessResult result;
  result.pid = pid;
  if (options.on_start) options.on_start(pid);

  const absl::Time deadline = start + options.timeout;
  bool killed = false;
  bool out_open = true;
  char buf[16384];
  while (out_open) {
    absl::Time now = absl::Now();
    if (!killed && now >= deadline) {
      result.timed_out = true;
    } else if (!killed && options.cancelled && options.cancelled()) {
      result.cancelled = true;
    }
    if (!killed && (result.timed_out || result.cancelled)) {
      kill(-pid, SIGKILL);
      kill(pid, SIGKILL);
      killed = true;
    }
    int wait_ms = 100;
    if (!killed) {
      int64_t left = absl::ToInt64Milliseconds(deadline - now);
      if (left < wait_ms) wait_ms = left < 0 ? 0 : static_cast<int>(left);
    }
    struct pollfd p = {out_pipe[0], POLLIN, 0};
    int r = poll(&p, 1, wait_ms);
    if (r < 0 && errno != EINTR) break;
    if (r > 0) {
      ssize_t n = read(out_pipe[0], buf, sizeof(buf));
      if (n > 0) {
        AppendTail(result.output, buf, static_cast<size_t>(n), options.max_output);
      } else if (n == 0 || (errno != EINTR && errno != EAGAIN)) {
        out_open = false;  // every writer closed: the hook (and anything it forked) is done
      }
    }
    if (killed && out_open) {
      // Killed: a grandchild outside our group could keep the pipe open; stop reading once
      // the hook itself is gone.
      int status;
      if (waitpid(pid, &status, WNOHANG) == pid) {
        if (WIFSIGNALED(status)) result.signal = WTERMSIG(status);
        close(out_pipe[0]);
        close(err_pipe[0]);
        if (result.output.size() > options.max_output) {
          result.output.erase(0, result.output.size() - options.max_output);
        }
        result.duration = absl::Now() - start;
        return result;
      }
    }
  }
  close(out_pipe[0]);
  // The pipe closed; the hook may still be running (it closed its stdout), so keep honouring
  // the timeout while waiting for it.
  // Exit is detected without reaping (WNOWAIT), so the group id cannot be reused before the
  // group kill below.
  for (;;) {
    siginfo_t info;
    info.si_pid = 0;
    int w = waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOHANG | WNOWAIT);
    if (w == 0 && info.si_pid == pid) break;
    if (w < 0 && errno != EINTR) break;
    if (!killed && (absl::Now() >= deadline || (options.cancelled && options.cancelled()))) {
      if (absl::Now() >= deadline) {
        result.timed_out = true;
      } else {
        result.cancelled = true;
      }
      kill(-pid, SIGKILL);
      killed = true;
    }
    absl::SleepFor(absl::Milliseconds(20));
  }
  // Anything the hook left behind in its group dies with it.
  kill(-pid, SIGKILL);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  int exec_errno = 0;
  ssize_t n = read(err_pipe[0], &exec_errno, sizeof(exec_errno));
  close(err_pipe[0]);
  result.duration = absl::Now() - start;
  if (result.output.size() > options.max_output) {
    result.output.erase(0, result.output.size() - options.max_output);
  }
  if (n == static_cast<ssize_t>(sizeof(exec_errno))) {
    return absl::NotFoundError(absl::StrCat("hook program \"", options.argv[0],
                                            "\" could not be started: ", strerror(exec_errno)));
  }
  if (WIFEXITED(status)) {
    result.exit_code = WEXITSTATUS(status);
  } else if (WIFSIGNALED(status)) {
    result.signal = WTERMSIG(status);
  }
  return result;
}

}  // namespace slipway::scan
