#ifndef SLIPWAY_SERVER_BUILD_RUN_SANDBOX_WIRE_H_
#define SLIPWAY_SERVER_BUILD_RUN_SANDBOX_WIRE_H_

// The protocol between RunInSandbox (in slipwayd) and the slipway-sandbox helper. Shared by
// both sides; plain C++ and nlohmann::json only (the helper links no abseil or gRPC).
//
//   fd 0: /dev/null            fd 1, 2: the process's stdout and stderr (pipes to slipwayd)
//   fd 3: the spec, one JSON document, then EOF (a socket; secrets travel only here)
//   fd 4: status lines, one JSON object per line, each written with a single write():
//         {"error": "...", "precondition": true|false}  setup failed (nothing ran)
//         {"exit_code": N}                                the process ended (128+signal)
//
// SIGTERM to the helper kills the whole process tree (the sandbox's PID 1 with SIGKILL); the
// helper then removes its placeholders and exits. The helper dies with slipwayd
// (PR_SET_PDEATHSIG), and the tree with the helper.

#include <string>

#include "server/build/run/sandbox.h"

namespace slipway::build::sandbox_wire {

inline constexpr int kSpecFd = 3;
inline constexpr int kStatusFd = 4;

// The spec as the helper reads it. `probe`: only check that namespaces, the overlay mount
// and pivot_root work, then report exit code 0 without running anything.
std::string SerializeSpec(const SandboxSpec& spec, bool probe);

// Parses SerializeSpec's output. Returns false and sets `error` (naming the field) on bad
// input. Never puts secret content into `error`.
bool ParseSpec(const std::string& text, SandboxSpec* spec, bool* probe, std::string* error);

// One status line (with the trailing newline).
std::string ErrorLine(const std::string& message, bool precondition);
std::string ExitLine(int exit_code);

}  // namespace slipway::build::sandbox_wire

#endif  // SLIPWAY_SERVER_BUILD_RUN_SANDBOX_WIRE_H_
