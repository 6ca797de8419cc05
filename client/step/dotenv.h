#ifndef SLIPWAY_CLIENT_STEP_DOTENV_H_
#define SLIPWAY_CLIENT_STEP_DOTENV_H_

#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "client/connection.h"

namespace slipway::client::step {

// One KEY=VALUE line of a dotenv file, in file order (a later duplicate wins when read into a
// map, as with the plugins' godotenv loader).
using DotenvEntries = std::vector<std::pair<std::string, std::string>>;

// Parses dotenv text (PLUGIN_ENV_FILE) the way the Drone plugins read it:
//   KEY=VALUE            (spaces around '=' and the value trimmed; KEY: VALUE also accepted)
//   export KEY=VALUE     (the export prefix is dropped)
//   # comment, blank lines
//   KEY='literal'        (no escapes)
//   KEY="a\nb \"q\""     (\n \r \t \\ \" \$ escapes; may span lines)
//   KEY=value # comment  (an unquoted value ends at " #")
//   KEY=${OTHER}-$X      ($NAME and ${NAME} in unquoted and double-quoted values: an earlier
//                         line of the file, else `env` (may be empty), else ""; \$ is literal)
// Errors: INVALID_ARGUMENT "<source>:<line>: <what>" for a line without '=', an empty or
// malformed key, or an unterminated quote. Pure function; thread-safe.
absl::StatusOr<DotenvEntries> ParseDotenv(const std::string& text, const std::string& source,
                                          const EnvLookup& env = nullptr);

// Reads and parses the file at `path`; an unreadable file is INVALID_ARGUMENT naming
// `variable` and the path ("PLUGIN_ENV_FILE=/x: cannot open").
absl::StatusOr<DotenvEntries> ReadDotenvFile(const std::string& variable, const std::string& path,
                                             const EnvLookup& env = nullptr);

}  // namespace slipway::client::step

#endif  // SLIPWAY_CLIENT_STEP_DOTENV_H_
