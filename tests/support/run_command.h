#ifndef SLIPWAY_TESTS_SUPPORT_RUN_COMMAND_H_
#define SLIPWAY_TESTS_SUPPORT_RUN_COMMAND_H_

#include <string>

namespace slipway::testing {

struct CommandResult {
  int exit_code = -1;  // -1 when it could not be started or was killed by a signal
  std::string output;  // stdout and stderr interleaved
};

// Runs `command` through /bin/sh -c with stderr merged into stdout. For external verifiers
// (gzip, zstd, skopeo, umoci) in tests; the command must not wait for input. Killed after
// 300 s (exit code -1).
CommandResult RunCommand(const std::string& command);

// Single-quotes `s` for the shell.
std::string ShellQuote(const std::string& s);

}  // namespace slipway::testing

#endif  // SLIPWAY_TESTS_SUPPORT_RUN_COMMAND_H_
