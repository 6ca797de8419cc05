#ifndef SLIPWAY_CLIENT_COMMANDS_H_
#define SLIPWAY_CLIENT_COMMANDS_H_

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "client/connection.h"

namespace slipway::client {

// Exit codes: 0 success, 1 the RPC or local I/O failed, 2 usage error.
constexpr int kExitOk = 0;
constexpr int kExitFailed = 1;
constexpr int kExitUsage = 2;

// Runs one subcommand (`args` excludes the program name and the subcommand). Errors are printed
// as one line "slipway: <rpc>: <message>" on stderr.
int RunImport(Connection& conn, const std::vector<std::string>& args);
int RunExport(Connection& conn, const std::vector<std::string>& args);
int RunImages(Connection& conn, const std::vector<std::string>& args);
int RunTag(Connection& conn, const std::vector<std::string>& args);
int RunRm(Connection& conn, const std::vector<std::string>& args);
int RunGc(Connection& conn, const std::vector<std::string>& args);

int RunPush(Connection& conn, const std::vector<std::string>& args);
int RunPushMany(Connection& conn, const std::vector<std::string>& args);

// slipway build (build_command.cc). Errors are one line "slipway build: <cause>".
int RunBuild(Connection& conn, const std::vector<std::string>& args);
// scan: prints the verdict and per-scanner summary; exit 1 when the scan failed.
int RunScan(Connection& conn, const std::vector<std::string>& args);
int RunRecordScan(Connection& conn, const std::vector<std::string>& args);
// load (load_command.cc): an image from the store into a Docker Engine API (--docker-host, else
// DOCKER_HOST, else /var/run/docker.sock); prints the engine's message.
int RunLoad(Connection& conn, const std::vector<std::string>& args);

// Prints "slipway: <what>: <message>" and returns kExitUsage.
int Usage(const std::string& message);

// Helpers shared by the command files.
// Prints "slipway: <what>: <message>" on stderr and returns kExitFailed.
int Fail(const std::string& what, const std::string& message);
int FailRpc(const std::string& rpc, const grpc::Status& status);
// Positionals and --flag values; `value_flags` take a value, `bool_flags` do not.
struct Args {
  std::vector<std::string> positional;
  std::vector<std::pair<std::string, std::string>> flags;
  std::string error;
};
Args SplitArgs(const std::vector<std::string>& args, const std::vector<std::string>& value_flags,
               const std::vector<std::string>& bool_flags);
std::string HumanSize(int64_t bytes);
std::string ShortDigest(const std::string& digest);

}  // namespace slipway::client

#endif  // SLIPWAY_CLIENT_COMMANDS_H_
