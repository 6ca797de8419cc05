#ifndef SLIPWAY_SERVER_REGISTRY_SUBPROCESS_H_
#define SLIPWAY_SERVER_REGISTRY_SUBPROCESS_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace slipway::registry {

struct ProcessResult {
  int exit_code = -1;  // 128 + signal number when killed by a signal
  std::string out;     // stdout, cut at max_output bytes
  std::string err;     // stderr, cut at max_output bytes
};

struct ProcessOptions {
  std::string stdin_data;
  absl::Duration timeout = absl::Seconds(30);
  size_t max_output = 1 << 20;
};

// Runs argv[0] (looked up on PATH) with posix_spawn — safe in a multi-threaded process — feeds
// it `stdin_data`, collects stdout and stderr, and waits. A process still running after
// `timeout` is killed (by its PID) and DEADLINE_EXCEEDED is returned. NOT_FOUND when the
// program does not exist. A non-zero exit is a successful return (see exit_code).
absl::StatusOr<ProcessResult> RunProcess(const std::vector<std::string>& argv,
                                         const ProcessOptions& options = {});

}  // namespace slipway::registry

#endif  // SLIPWAY_SERVER_REGISTRY_SUBPROCESS_H_
