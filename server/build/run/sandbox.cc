#include "server/build/run/sandbox.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <deque>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "server/build/run/sandbox_wire.h"

namespace slipway::build {
namespace {

using Clock = std::chrono::steady_clock;
namespace wire = sandbox_wire;

constexpr size_t kLastLines = 20;
// A line longer than this (no newline in sight) is delivered in pieces of this size, so one
// runaway writer cannot grow our buffer without bound.
constexpr size_t kMaxLineBytes = 64 * 1024;
constexpr size_t kMaxStatusBytes = 1 << 20;
constexpr int kPollMs = 50;  // how soon cancellation and the deadline are noticed
// After SIGTERM the helper kills the tree and cleans up; if it is stuck, SIGKILL.
constexpr std::chrono::seconds kTermGrace{5};
// After SIGKILL, stop waiting for the pipes (every holder is dead by then, barring a kernel
// that cannot finish an exit).
constexpr std::chrono::seconds kKillGrace{10};

// An fd closed at the end of its scope.
class Fd {
 public:
  explicit Fd(int fd = -1) : fd_(fd) {}
  ~Fd() { Reset(); }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }
  void Reset(int fd = -1) {
    if (fd_ >= 0) close(fd_);
    fd_ = fd;
  }

 private:
  int fd_;
};

absl::Status ErrnoStatus(const std::string& what) {
  return absl::InternalError(absl::StrCat(what, ": ", std::strerror(errno)));
}

bool HasDotDot(const std::string& path) {
  for (absl::string_view part : absl::StrSplit(path, '/')) {
    if (part == "..") return true;
  }
  return false;
}

absl::Status Validate(const SandboxOptions& options, const SandboxSpec& spec) {
  if (options.helper_path.empty()) {
    return absl::FailedPreconditionError("sandbox: no helper executable configured");
  }
  if (spec.argv.empty() || spec.argv[0].empty()) {
    return absl::InvalidArgumentError("sandbox: argv is empty");
  }
  if (spec.upper_dir.empty() || spec.work_dir.empty()) {
    return absl::InvalidArgumentError("sandbox: upper_dir and work_dir are required");
  }
  if (!spec.cwd.empty() && (spec.cwd[0] != '/' || HasDotDot(spec.cwd))) {
    return absl::InvalidArgumentError(
        absl::StrCat("sandbox: cwd \"", spec.cwd, "\" must be absolute without \"..\""));
  }
  for (const SandboxMount& m : spec.mounts) {
    if (m.target.empty() || m.target[0] != '/') {
      return absl::InvalidArgumentError(
          absl::StrCat("sandbox: mount target \"", m.target, "\" is not absolute"));
    }
    if (HasDotDot(m.target)) {
      return absl::InvalidArgumentError(
          absl::StrCat("sandbox: mount target \"", m.target, "\" contains \"..\""));
    }
    if (m.target.find_first_not_of('/') == std::string::npos) {
      return absl::InvalidArgumentError("sandbox: mount target \"/\" (the root) is not allowed");
    }
    if (m.kind == SandboxMount::Kind::kBind && m.source.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("sandbox: bind mount at \"", m.target, "\" has no source"));
    }
  }
  return absl::OkStatus();
}

// Replaces `fd` by a copy numbered at least 10, close-on-exec, so that the child's dup2 onto
// 0..4 never clobbers another of the fds it still has to move.
absl::Status MoveHigh(Fd* fd) {
  int high = fcntl(fd->get(), F_DUPFD_CLOEXEC, 10);
  if (high < 0) return ErrnoStatus("fcntl F_DUPFD_CLOEXEC");
  fd->Reset(high);
  return absl::OkStatus();
}

// Starts the helper with fds 0..4 as sandbox_wire.h describes. fork + immediate exec: between
// the two only async-signal-safe calls, since the caller is multithreaded.
absl::StatusOr<pid_t> SpawnHelper(const std::string& helper, int null_fd, int out_fd,
                                  int err_fd, int spec_fd, int status_fd) {
  std::string arg0 = helper;
  char* argv[] = {arg0.data(), nullptr};
  char* envp[] = {nullptr};
  pid_t pid = fork();
  if (pid < 0) return ErrnoStatus("fork for the sandbox helper");
  if (pid == 0) {
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    // The helper (and with it the whole sandbox) dies with the thread waiting for it.
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (dup2(null_fd, 0) < 0 || dup2(out_fd, 1) < 0 || dup2(err_fd, 2) < 0 ||
        dup2(spec_fd, wire::kSpecFd) < 0 || dup2(status_fd, wire::kStatusFd) < 0) {
      _exit(126);
    }
    // Whatever slipwayd opened without O_CLOEXEC stays here.
    syscall(SYS_close_range, wire::kStatusFd + 1, ~0U, 0);
    execve(helper.c_str(), argv, envp);
    _exit(127);
  }
  return pid;
}

// Splits one stream into lines for the callback and the tail.
class LineSink {
 public:
  LineSink(const SandboxOutput& output, std::deque<std::string>* tail)
      : output_(output), tail_(tail) {}

  void Feed(bool is_stderr, const char* data, size_t size) {
    std::string& buf = is_stderr ? err_ : out_;
    buf.append(data, size);
    size_t start = 0;
    while (true) {
      size_t nl = buf.find('\n', start);
      if (nl == std::string::npos) break;
      Emit(is_stderr, buf.substr(start, nl - start));
      start = nl + 1;
    }
    buf.erase(0, start);
    while (buf.size() >= kMaxLineBytes) {
      Emit(is_stderr, buf.substr(0, kMaxLineBytes));
      buf.erase(0, kMaxLineBytes);
    }
  }

  // The final unterminated line of a stream.
  void Flush(bool is_stderr) {
    std::string& buf = is_stderr ? err_ : out_;
    if (!buf.empty()) Emit(is_stderr, buf);
    buf.clear();
  }

 private:
  void Emit(bool is_stderr, const std::string& line) {
    tail_->push_back(line);
    if (tail_->size() > kLastLines) tail_->pop_front();
    if (output_) output_(is_stderr, line);
  }

  const SandboxOutput& output_;
  std::deque<std::string>* tail_;
  std::string out_, err_;
};

// What the status lines said.
struct HelperStatus {
  std::optional<int> exit_code;
  std::string error;
  bool precondition = false;
};

void ParseStatus(const std::string& text, HelperStatus* status) {
  for (absl::string_view line : absl::StrSplit(text, '\n', absl::SkipEmpty())) {
    nlohmann::json j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded() || !j.is_object()) continue;
    auto exit_code = j.find("exit_code");
    if (exit_code != j.end() && exit_code->is_number_integer()) {
      status->exit_code = exit_code->get<int>();
    }
    auto error = j.find("error");
    // The first error is the cause; later ones (the exit of a failed exec) are consequences.
    if (error != j.end() && error->is_string() && status->error.empty()) {
      status->error = error->get<std::string>();
      auto pre = j.find("precondition");
      status->precondition = pre != j.end() && pre->is_boolean() && pre->get<bool>();
    }
  }
}

absl::StatusOr<SandboxResult> RunHelper(const SandboxOptions& options, const SandboxSpec& spec,
                                        const SandboxOutput& output, bool probe) {
  if (access(options.helper_path.c_str(), X_OK) != 0) {
    return absl::FailedPreconditionError(absl::StrCat(
        "sandbox helper ", options.helper_path, ": ", std::strerror(errno)));
  }
  std::string payload = wire::SerializeSpec(spec, probe);
  // Secrets are in the payload: wipe it whatever happens.
  struct Wipe {
    std::string* s;
    ~Wipe() { std::fill(s->begin(), s->end(), '\0'); }
  } wipe{&payload};

  int out_p[2], err_p[2], status_p[2], spec_s[2];
  if (pipe2(out_p, O_CLOEXEC) != 0) return ErrnoStatus("pipe");
  Fd out_r(out_p[0]), out_w(out_p[1]);
  if (pipe2(err_p, O_CLOEXEC) != 0) return ErrnoStatus("pipe");
  Fd err_r(err_p[0]), err_w(err_p[1]);
  if (pipe2(status_p, O_CLOEXEC) != 0) return ErrnoStatus("pipe");
  Fd status_r(status_p[0]), status_w(status_p[1]);
  // A socket rather than a pipe: send(MSG_NOSIGNAL) cannot raise SIGPIPE in slipwayd.
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, spec_s) != 0) {
    return ErrnoStatus("socketpair");
  }
  Fd spec_w(spec_s[0]), spec_r(spec_s[1]);
  Fd null_fd(open("/dev/null", O_RDONLY | O_CLOEXEC));
  if (null_fd.get() < 0) return ErrnoStatus("open /dev/null");
  for (Fd* fd : {&null_fd, &out_w, &err_w, &spec_r, &status_w}) {
    absl::Status moved = MoveHigh(fd);
    if (!moved.ok()) return moved;
  }

  absl::StatusOr<pid_t> spawned = SpawnHelper(options.helper_path, null_fd.get(), out_w.get(),
                                              err_w.get(), spec_r.get(), status_w.get());
  if (!spawned.ok()) return spawned.status();
  const pid_t helper = *spawned;
  null_fd.Reset();
  out_w.Reset();
  err_w.Reset();
  spec_r.Reset();
  status_w.Reset();

  std::deque<std::string> tail;
  LineSink sink(output, &tail);
  std::string status_text;
  size_t sent = 0;
  const Clock::time_point start = Clock::now();
  const Clock::time_point deadline =
      spec.timeout.count() > 0 ? start + spec.timeout : Clock::time_point::max();
  enum class Stop { kNone, kTimeout, kCancel } stop = Stop::kNone;
  Clock::time_point stop_at;
  bool sigkilled = false;
  char buf[65536];

  while (out_r.get() >= 0 || err_r.get() >= 0 || status_r.get() >= 0) {
    struct pollfd fds[4] = {{out_r.get(), POLLIN, 0},
                            {err_r.get(), POLLIN, 0},
                            {status_r.get(), POLLIN, 0},
                            {spec_w.get(), POLLOUT, 0}};
    int ready = poll(fds, 4, kPollMs);
    if (ready < 0 && errno != EINTR) return ErrnoStatus("poll");
    for (int i = 0; i < 3 && ready > 0; ++i) {
      if (fds[i].revents == 0) continue;
      Fd& fd = i == 0 ? out_r : i == 1 ? err_r : status_r;
      ssize_t n = read(fd.get(), buf, sizeof(buf));
      if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
      if (n <= 0) {
        fd.Reset();
        if (i < 2) sink.Flush(i == 1);
        continue;
      }
      if (i < 2) {
        sink.Feed(i == 1, buf, static_cast<size_t>(n));
      } else if (status_text.size() < kMaxStatusBytes) {
        status_text.append(buf, static_cast<size_t>(n));
      }
    }
    if (ready > 0 && fds[3].revents != 0) {
      ssize_t n = send(spec_w.get(), payload.data() + sent, payload.size() - sent,
                       MSG_NOSIGNAL | MSG_DONTWAIT);
      if (n > 0) sent += static_cast<size_t>(n);
      // Done, or the helper is gone (its status or exit says why).
      if (sent == payload.size() || (n < 0 && errno != EAGAIN && errno != EINTR)) {
        spec_w.Reset();
      }
    }
    const Clock::time_point now = Clock::now();
    if (stop == Stop::kNone) {
      if (spec.cancelled != nullptr && spec.cancelled->load()) stop = Stop::kCancel;
      else if (now >= deadline) stop = Stop::kTimeout;
      if (stop != Stop::kNone) {
        kill(helper, SIGTERM);  // the helper SIGKILLs the sandbox's init, then cleans up
        stop_at = now;
      }
    } else if (!sigkilled && now - stop_at > kTermGrace) {
      kill(helper, SIGKILL);  // init dies with it (PDEATHSIG), and the tree with init
      sigkilled = true;
    } else if (sigkilled && now - stop_at > kTermGrace + kKillGrace) {
      break;
    }
  }
  spec_w.Reset();

  // The pipes are closed: the helper has exited or is about to (it still removes the
  // placeholders and its scratch directory). Polled from 1 ms up, so the usual exit a moment
  // later costs a millisecond, not a fixed nap, and bounded at about 5 s in all.
  int wait_status = 0;
  bool reaped = false;
  useconds_t nap = 1000;
  for (useconds_t waited = 0; waited < 5 * 1000 * 1000 && !reaped;) {
    pid_t r = waitpid(helper, &wait_status, WNOHANG);
    if (r == helper || (r < 0 && errno != EINTR)) {
      reaped = r == helper;
      if (r < 0) break;
    } else {
      usleep(nap);
      waited += nap;
      nap = std::min<useconds_t>(nap * 2, 50 * 1000);
    }
  }
  if (!reaped) {
    kill(helper, SIGKILL);
    while (waitpid(helper, &wait_status, 0) < 0 && errno == EINTR) {
    }
  }

  const std::string elapsed = absl::StrCat(
      std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start).count(), "ms");
  if (stop == Stop::kCancel) return absl::CancelledError("RUN cancelled; its processes were killed");
  if (stop == Stop::kTimeout) {
    return absl::DeadlineExceededError(absl::StrCat(
        "RUN exceeded its timeout of ", spec.timeout.count(), "ms; its processes were killed"));
  }
  HelperStatus status;
  ParseStatus(status_text, &status);
  if (!status.error.empty()) {
    std::string message = absl::StrCat("sandbox: ", status.error);
    return status.precondition ? absl::FailedPreconditionError(message)
                               : absl::InternalError(message);
  }
  if (!status.exit_code.has_value()) {
    return absl::InternalError(absl::StrCat(
        "sandbox helper ended without a result (wait status ", wait_status, ", after ", elapsed,
        ")"));
  }
  SandboxResult result;
  result.exit_code = *status.exit_code;
  result.last_lines.assign(tail.begin(), tail.end());
  return result;
}

}  // namespace

absl::StatusOr<SandboxResult> RunInSandbox(const SandboxOptions& options,
                                           const SandboxSpec& spec,
                                           const SandboxOutput& output) {
  absl::Status valid = Validate(options, spec);
  if (!valid.ok()) return valid;
  return RunHelper(options, spec, output, /*probe=*/false);
}

absl::Status ProbeSandbox(const SandboxOptions& options, const std::string& scratch_dir) {
  if (options.helper_path.empty()) {
    return absl::FailedPreconditionError("RUN sandbox: no helper executable configured");
  }
  std::string templ = scratch_dir + "/sandbox-probe-XXXXXX";
  if (mkdtemp(templ.data()) == nullptr) {
    return absl::FailedPreconditionError(
        absl::StrCat("RUN sandbox: mkdtemp in ", scratch_dir, ": ", std::strerror(errno)));
  }
  SandboxSpec spec;
  spec.upper_dir = templ + "/upper";
  spec.work_dir = templ + "/work";
  spec.argv = {"probe"};
  spec.timeout = std::chrono::seconds(30);
  absl::Status result;
  if (mkdir(spec.upper_dir.c_str(), 0755) != 0 || mkdir(spec.work_dir.c_str(), 0755) != 0) {
    result = absl::FailedPreconditionError(
        absl::StrCat("RUN sandbox: mkdir in ", templ, ": ", std::strerror(errno)));
  } else {
    absl::StatusOr<SandboxResult> run = RunHelper(options, spec, nullptr, /*probe=*/true);
    if (!run.ok()) {
      result = absl::FailedPreconditionError(
          absl::StrCat("RUN sandbox unavailable: ", run.status().message()));
    } else if (run->exit_code != 0) {
      result = absl::FailedPreconditionError(
          absl::StrCat("RUN sandbox unavailable: probe exited with ", run->exit_code));
    }
  }
  std::error_code ec;
  std::filesystem::remove_all(templ, ec);
  return result;
}

}  // namespace slipway::build
