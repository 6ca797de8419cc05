#ifndef SLIPWAY_SERVER_BUILD_RUN_HELPER_EXEC_COMMAND_H_
#define SLIPWAY_SERVER_BUILD_RUN_HELPER_EXEC_COMMAND_H_

// The last step in the sandbox, in the process that becomes the command (a child of the
// sandbox's PID 1, after pivot_root). Part of the slipway-sandbox helper.

#include <string>

#include "server/build/run/sandbox.h"

namespace slipway::build::sandbox_helper {

// Creates and enters spec.cwd, drops the capabilities a container does not get, takes on
// spec.uid/gid/supplementary_gids and execs spec.argv with exactly spec.env (argv[0] looked up
// in env's PATH when it has no slash). Only returns on failure, with `error` set
// ("cwd /x: Not a directory", "exec \"foo\": not found").
void ExecCommand(const SandboxSpec& spec, std::string* error);

}  // namespace slipway::build::sandbox_helper

#endif  // SLIPWAY_SERVER_BUILD_RUN_HELPER_EXEC_COMMAND_H_
