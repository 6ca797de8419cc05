// slipway-sandbox: runs one RUN in namespaces, for RunInSandbox (server/build/run/sandbox.h).
// Started by slipwayd with the spec on fd 3 and a status pipe on fd 4 (protocol in
// sandbox_wire.h). Three processes:
//   helper   reads the spec, sweeps dead helpers' scratch directories and makes its own
//            (helper/scratch_dirs.h), enters a new PID namespace (for its children), forks
//            init, waits for it (SIGTERM: kills it) and then removes the placeholders from
//            upper_dir — it stays in the host's mount namespace, so it can do that after the
//            sandbox is gone.
//   init     PID 1 of the sandbox: new mount/UTS/IPC(/network/cgroup) namespaces, the root
//            (helper/root_setup.h), pivot_root; forks the command, reaps every orphan, exits
//            with the command's status. Its death kills everything in the sandbox.
//   command  cwd, capabilities, user, exec (helper/exec_command.h).
// Plain C++ (no gRPC, no abseil): it is a fresh single-threaded process, so fork is safe.

#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "server/build/run/helper/exec_command.h"
#include "server/build/run/helper/placeholders.h"
#include "server/build/run/helper/root_setup.h"
#include "server/build/run/helper/scratch_dirs.h"
#include "server/build/run/sandbox_wire.h"

namespace slipway::build::sandbox_helper {
namespace {

namespace wire = ::slipway::build::sandbox_wire;

// The spec carries the secrets and the layer paths; no real one comes near this.
constexpr size_t kMaxSpecBytes = 256u << 20;

void WriteStatus(const std::string& line) {
  // One write per line: lines from the helper, init and the command never interleave.
  ssize_t n;
  do {
    n = write(wire::kStatusFd, line.data(), line.size());
  } while (n < 0 && errno == EINTR);
}

void ReportError(const std::string& message, bool precondition) {
  WriteStatus(wire::ErrorLine(message, precondition));
}

std::string Errno(const std::string& what) { return what + ": " + std::strerror(errno); }

bool ReadAll(int fd, std::string* out, size_t limit) {
  char buf[65536];
  while (true) {
    ssize_t n = read(fd, buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return false;
    if (n == 0) return true;
    out->append(buf, static_cast<size_t>(n));
    if (out->size() > limit) return false;
  }
}

void WriteAll(int fd, const std::string& data) {
  size_t off = 0;
  while (off < data.size()) {
    ssize_t n = write(fd, data.data() + off, data.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    off += static_cast<size_t>(n);
  }
}

int ExitCodeOf(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return 255;
}

// PID 1 of the sandbox. `placeholder_fd` receives the created mount points, NUL-separated.
[[noreturn]] void RunInit(const SandboxSpec& spec, bool probe, const std::string& scratch,
                          int placeholder_fd) {
  // The sandbox dies with the helper, and the helper with slipwayd.
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);

  // On a cgroup2 host the sandbox gets its own cgroup namespace (rooted at this process's
  // cgroup), so that its read-only /sys/fs/cgroup shows its own cgroup and not the host's
  // tree, as with Docker's default cgroupns=private.
  const bool cgroup2 = HostHasCgroup2();
  int flags = CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | (spec.network_none ? CLONE_NEWNET : 0) |
              (cgroup2 ? CLONE_NEWCGROUP : 0);
  SetupError error;
  if (unshare(flags) != 0) {
    ReportError(Errno("namespaces unavailable: unshare(mount, uts, ipc" +
                      std::string(spec.network_none ? ", net" : "") +
                      std::string(cgroup2 ? ", cgroup" : "") + ")"),
                true);
    _exit(1);
  }
  if (spec.network_none && !LoopbackUp(&error)) {
    ReportError(error.message, false);
    _exit(1);
  }
  if (sethostname(spec.hostname.data(), spec.hostname.size()) != 0) {
    ReportError(Errno("sethostname \"" + spec.hostname + "\""), false);
    _exit(1);
  }
  std::vector<std::string> created;
  bool ok = SetUpRoot(spec, scratch, cgroup2, &created, &error);
  std::string list;
  for (const std::string& c : created) list += c + '\0';
  WriteAll(placeholder_fd, list);
  close(placeholder_fd);
  if (!ok) {
    ReportError(error.message, error.precondition);
    _exit(1);
  }
  if (probe) {
    WriteStatus(wire::ExitLine(0));
    _exit(0);
  }
  pid_t command = fork();
  if (command < 0) {
    ReportError(Errno("fork"), false);
    _exit(1);
  }
  if (command == 0) {
    std::string message;
    ExecCommand(spec, &message);
    ReportError(message, false);
    _exit(127);
  }
  // As init: reap every process that ends up here until the command itself exits. Returning
  // then kills whatever it left running.
  int code = 255;
  while (true) {
    int status;
    pid_t pid = waitpid(-1, &status, 0);
    if (pid < 0 && errno == EINTR) continue;
    if (pid < 0) break;
    if (pid == command) {
      code = ExitCodeOf(status);
      break;
    }
  }
  WriteStatus(wire::ExitLine(code));
  _exit(0);
}

int RunHelper(const SandboxSpec& spec, bool probe) {
  sigset_t handled;
  sigemptyset(&handled);
  sigaddset(&handled, SIGTERM);
  sigaddset(&handled, SIGCHLD);
  sigprocmask(SIG_BLOCK, &handled, nullptr);

  // Where init mounts its private tmpfs (overlay mount point, layer links, /etc files,
  // secrets). On the host it stays an empty directory, removed below. Those of helpers that
  // were SIGKILLed before they could remove theirs are swept first (helper/scratch_dirs.h).
  SweepLeftoverScratchDirs("/tmp");
  std::string scratch_error;
  const std::string scratch_dir = MakeScratchDir("/tmp", &scratch_error);
  if (scratch_dir.empty()) {
    ReportError(scratch_error, false);
    return 1;
  }
  const char* scratch = scratch_dir.c_str();
  int placeholders[2];
  if (pipe2(placeholders, O_CLOEXEC) != 0) {
    ReportError(Errno("pipe"), false);
    rmdir(scratch);
    return 1;
  }
  if (unshare(CLONE_NEWPID) != 0) {
    ReportError(Errno("namespaces unavailable: unshare(pid)"), true);
    rmdir(scratch);
    return 1;
  }
  // SIGTERM (cancel/timeout from slipwayd) and SIGCHLD (init ended) wake the wait below.
  int signals = signalfd(-1, &handled, SFD_CLOEXEC);
  if (signals < 0) {
    ReportError(Errno("signalfd"), false);
    rmdir(scratch);
    return 1;
  }
  pid_t init = fork();
  if (init < 0) {
    ReportError(Errno("fork"), false);
    rmdir(scratch);
    return 1;
  }
  if (init == 0) {
    close(placeholders[0]);
    close(signals);
    RunInit(spec, probe, scratch, placeholders[1]);
  }
  close(placeholders[1]);

  std::string list;
  bool list_open = true, killed = false;
  int status = 0;
  while (true) {
    // The timeout only bounds a missed wake-up; signals and the pipe wake the poll.
    struct pollfd p[2] = {{signals, POLLIN, 0}, {list_open ? placeholders[0] : -1, POLLIN, 0}};
    poll(p, 2, 1000);
    if (p[1].revents != 0) {
      char buf[4096];
      ssize_t n = read(placeholders[0], buf, sizeof(buf));
      if (n > 0) list.append(buf, static_cast<size_t>(n));
      else if (n == 0 || errno != EINTR) list_open = false;
    }
    if (p[0].revents != 0) {
      struct signalfd_siginfo info;
      if (read(signals, &info, sizeof(info)) == sizeof(info) && info.ssi_signo == SIGTERM &&
          !killed) {
        kill(init, SIGKILL);  // init's death takes the whole PID namespace with it
        killed = true;
      }
    }
    pid_t done = waitpid(init, &status, WNOHANG);
    if (done == init) break;
    if (done < 0 && errno != EINTR) break;
  }
  // Every process that held the write end was in the namespace, which is gone now.
  if (list_open) ReadAll(placeholders[0], &list, kMaxSpecBytes);
  close(placeholders[0]);
  close(signals);
  std::vector<std::string> created;
  for (size_t pos = 0; pos < list.size();) {
    size_t end = list.find('\0', pos);
    if (end == std::string::npos) break;  // a torn write from a killed init: ignore the rest
    created.push_back(list.substr(pos, end - pos));
    pos = end + 1;
  }
  std::string problems = RemovePlaceholders(spec.upper_dir, spec.lower_dirs, created);
  rmdir(scratch);
  if (!problems.empty()) ReportError("cleaning upper dir: " + problems, false);
  if (WIFSIGNALED(status) && !killed) {
    ReportError("sandbox init died of signal " + std::to_string(WTERMSIG(status)), false);
  }
  return 0;
}

}  // namespace
}  // namespace slipway::build::sandbox_helper

int main(int argc, char** argv) {
  (void)argc;
  (void)argv;
  namespace wire = slipway::build::sandbox_wire;
  // Inherited "ignore" dispositions would drop these signals before the signalfd sees them.
  signal(SIGPIPE, SIG_DFL);
  signal(SIGTERM, SIG_DFL);
  signal(SIGCHLD, SIG_DFL);
  // The command must not inherit the status pipe; init and the command write to it before exec.
  fcntl(wire::kStatusFd, F_SETFD, FD_CLOEXEC);
  std::string text;
  bool read_ok = slipway::build::sandbox_helper::ReadAll(wire::kSpecFd, &text,
                                                         slipway::build::sandbox_helper::kMaxSpecBytes);
  close(wire::kSpecFd);
  if (!read_ok) {
    slipway::build::sandbox_helper::ReportError("reading the spec on fd 3 failed", false);
    return 1;
  }
  slipway::build::SandboxSpec spec;
  bool probe = false;
  std::string error;
  if (!wire::ParseSpec(text, &spec, &probe, &error)) {
    slipway::build::sandbox_helper::ReportError(error, false);
    return 1;
  }
  return slipway::build::sandbox_helper::RunHelper(spec, probe);
}
