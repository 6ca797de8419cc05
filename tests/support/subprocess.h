#ifndef SLIPWAY_TESTS_SUPPORT_SUBPROCESS_H_
#define SLIPWAY_TESTS_SUPPORT_SUBPROCESS_H_

#include <sys/types.h>

#include <map>
#include <string>
#include <vector>

#include "absl/time/time.h"

namespace slipway::testing {

struct ProcessResult {
  int exit_code = -1;   // -1 when killed by a signal or timed out
  int term_signal = 0;  // the signal that ended it, if any
  bool timed_out = false;
  std::string out;  // stdout
  std::string err;  // stderr
};

// Runs `argv` to completion (environment: ours plus `env`, where an empty value unsets) with
// stdout/stderr captured through files in $TMPDIR. Kills it (SIGKILL, by pid) after `timeout`.
ProcessResult RunProcess(const std::vector<std::string>& argv,
                         const std::map<std::string, std::string>& env = {},
                         absl::Duration timeout = absl::Seconds(60));

// Starts `argv` in the background with stdout and stderr appended to `log_path`. Returns the pid
// (or -1). The child gets an empty signal mask.
pid_t SpawnProcess(const std::vector<std::string>& argv,
                   const std::map<std::string, std::string>& env, const std::string& log_path);

// Waits for `pid` up to `timeout`; fills exit_code/term_signal. Returns false on timeout (the
// process is left running).
bool WaitForExit(pid_t pid, absl::Duration timeout, ProcessResult* result);

}  // namespace slipway::testing

#endif  // SLIPWAY_TESTS_SUPPORT_SUBPROCESS_H_
