#include "tests/support/run_command.h"

#include "absl/time/time.h"
#include "tests/support/subprocess.h"

namespace slipway::testing {

CommandResult RunCommand(const std::string& command) {
  // The one process runner of the test tree does the work (stdin from /dev/null, killed by pid
  // after the timeout); the shell only merges stderr into stdout.
  ProcessResult r = RunProcess({"/bin/sh", "-c", "exec 2>&1; " + command}, {}, absl::Seconds(300));
  CommandResult result;
  result.exit_code = r.exit_code;
  result.output = r.out + r.err;
  return result;
}

std::string ShellQuote(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'') {
      out += "'\\''";
    } else {
      out += c;
    }
  }
  out += "'";
  return out;
}

}  // namespace slipway::testing
