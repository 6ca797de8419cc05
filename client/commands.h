#ifndef SLIPWAY_CLIENT_COMMANDS_H_
#define SLIPWAY_CLIENT_COMMANDS_H_

#include <string>
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

// Prints "slipway: <what>: <message>" and returns kExitUsage.
int Usage(const std::string& message);

}  // namespace slipway::client

#endif  // SLIPWAY_CLIENT_COMMANDS_H_
