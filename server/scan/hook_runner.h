#ifndef SLIPWAY_SERVER_SCAN_HOOK_RUNNER_H_
#define SLIPWAY_SERVER_SCAN_HOOK_RUNNER_H_

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace slipway::scan {

struct HookProcessOptions {
  std::vector<std::string> argv;  // argv[0]: an absolute path, or looked up on the env's PATH
  std::vector<std::string> env;   // the child's whole environment, "NAME=value"
  std::string cwd;                // the child's working directory
  absl::Duration timeout = absl::Minutes(10);
  int64_t memory_limit_bytes = 0;  // RLIMIT_AS; 0 = inherit
  size_t max_output = 64 << 10;    // stdout+stderr kept (the tail), the rest is discarded
  // Called once with the child's PID right after it starts (tests check it is gone later).
  std::function<void(pid_t)> on_start;
  // Polled about every 100 ms; true kills the hook (e.g. the RPC was cancelled).
  std::function<bool()> cancelled;
};

struct HookProcessResult {
  pid_t pid = -1;
  int exit_code = -1;      // the exit status; -1 when killed by a signal
  int signal = 0;          // the signal that ended it, if any
  bool timed_out = false;  // killed by us at the timeout
  bool cancelled = false;  // killed by us on cancellation
  std::string output;      // the last max_output bytes of stdout and stderr, interleaved
  absl::Duration duration;
};

// Runs one hook process: fork + exec in a new process group with its own session-less group id,
// stdin from /dev/null, stdout and stderr into a pipe drained concurrently (so a chatty hook
// never blocks and never fills memory: only the tail is kept), RLIMIT_AS applied in the child
// before exec. At the timeout (or on cancellation) the whole process group is killed with
// SIGKILL — children the hook started go too — and reaped before this returns.
// Errors: NOT_FOUND when argv[0] cannot be executed (the message names it); INTERNAL when the
// process cannot be created. A non-zero exit, a signal or a timeout is a successful return.
// Thread-safe: only async-signal-safe calls run between fork and exec.
absl::StatusOr<HookProcessResult> RunHookProcess(const HookProcessOptions& options);

}  // namespace slipway::scan

#endif  // SLIPWAY_SERVER_SCAN_HOOK_RUNNER_H_
