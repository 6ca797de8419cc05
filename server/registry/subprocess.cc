#include "server/registry/subprocess.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/str_cat.h"

extern char** environ;

namespace slipway::registry {
namespace {

void CloseFd(int& fd) {
  if (fd >= 0) close(fd);
  fd = -1;
}

}  // namespace

absl::StatusOr<ProcessResult> RunProcess(const std::vector<std::string>& argv,
                                         const ProcessOptions& options) {
  if (argv.empty()) return absl::InvalidArgumentError("RunProcess: empty argv");
  int in[2] = {-1, -1}, out[2] = {-1, -1}, err[2] = {-1, -1};
  // stdin is a socket pair so that writing to a child that exited early cannot raise SIGPIPE
  // (send with MSG_NOSIGNAL) without touching the process-wide signal disposition.
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, in) != 0 || pipe2(out, O_CLOEXEC) != 0 || pipe2(err, O_CLOEXEC) != 0) {
    for (int* p : {in, out, err}) { CloseFd(p[0]); CloseFd(p[1]); }
    return absl::ResourceExhaustedError(absl::StrCat("pipe: ", strerror(errno)));
  }
  auto close_all = absl::MakeCleanup([&] {
    for (int* p : {in, out, err}) { CloseFd(p[0]); CloseFd(p[1]); }
  });
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, in[0], 0);
  posix_spawn_file_actions_adddup2(&actions, out[1], 1);
  posix_spawn_file_actions_adddup2(&actions, err[1], 2);
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = -1;
  int rc = posix_spawnp(&pid, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) {
    if (rc == ENOENT) return absl::NotFoundError(absl::StrCat("program not found: ", argv[0]));
    return absl::InternalError(absl::StrCat("cannot run ", argv[0], ": ", strerror(rc)));
  }
  // in[0] is the child's end: with a socket pair, our end is in[1] (both are bidirectional).
  CloseFd(in[0]);
  CloseFd(out[1]);
  CloseFd(err[1]);

  ProcessResult result;
  size_t written = 0;
  if (options.stdin_data.empty()) CloseFd(in[1]);
  const absl::Time deadline = absl::Now() + options.timeout;
  bool timed_out = false;
  while (out[0] >= 0 || err[0] >= 0) {
    pollfd fds[3];
    int nfds = 0;
    int idx_in = -1, idx_out = -1, idx_err = -1;
    if (in[1] >= 0) { idx_in = nfds; fds[nfds++] = {in[1], POLLOUT, 0}; }
    if (out[0] >= 0) { idx_out = nfds; fds[nfds++] = {out[0], POLLIN, 0}; }
    if (err[0] >= 0) { idx_err = nfds; fds[nfds++] = {err[0], POLLIN, 0}; }
    int64_t wait_ms = absl::ToInt64Milliseconds(deadline - absl::Now());
    if (wait_ms <= 0) { timed_out = true; break; }
    int n = poll(fds, nfds, static_cast<int>(std::min<int64_t>(wait_ms, 1000)));
    if (n < 0 && errno != EINTR) break;
    if (n <= 0) continue;
    if (idx_in >= 0 && fds[idx_in].revents != 0) {
      ssize_t w = send(in[1], options.stdin_data.data() + written,
                       options.stdin_data.size() - written, MSG_NOSIGNAL | MSG_DONTWAIT);
      if (w > 0) written += static_cast<size_t>(w);
      if (w < 0 && errno != EAGAIN) written = options.stdin_data.size();  // EPIPE: child gone
      if (written >= options.stdin_data.size()) CloseFd(in[1]);
    }
    auto drain = [&](int idx, int& fd, std::string& sink) {
      if (idx < 0 || fds[idx].revents == 0) return;
      char buf[8192];
      ssize_t r = read(fd, buf, sizeof(buf));
      if (r <= 0) { if (r == 0 || errno != EINTR) CloseFd(fd); return; }
      size_t room = options.max_output - std::min(options.max_output, sink.size());
      sink.append(buf, std::min(room, static_cast<size_t>(r)));
    };
    drain(idx_out, out[0], result.out);
    drain(idx_err, err[0], result.err);
  }
  if (timed_out) kill(pid, SIGKILL);
  int wstatus = 0;
  while (waitpid(pid, &wstatus, 0) < 0 && errno == EINTR) {
  }
  if (timed_out) {
    return absl::DeadlineExceededError(absl::StrCat(argv[0], " did not finish within ",
                                                    absl::FormatDuration(options.timeout)));
  }
  result.exit_code = WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : 128 + WTERMSIG(wstatus);
  return result;
}

}  // namespace slipway::registry
