#ifndef SLIPWAY_SERVER_BUILD_DOCKERFILE_VARIABLE_EXPANDER_H_
#define SLIPWAY_SERVER_BUILD_DOCKERFILE_VARIABLE_EXPANDER_H_

#include <functional>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace slipway::build {

// The variables an expansion sees; nullopt = unset (distinct from set-but-empty).
using VariableLookup = std::function<std::optional<std::string>(absl::string_view name)>;

struct ExpandOptions {
  char escape = '\\';
  // Names looked up during the expansion are added here (cache keys use them).
  std::set<std::string>* used = nullptr;
  // Heredoc bodies (an unquoted delimiter): only `$` expansions happen; quotes stay as written
  // and the escape character only protects a following `$` (which it then replaces).
  bool keep_quotes = false;
};

// Expands one word with the semantics of Docker's shell lexer: `$a`, `${a}`, `${a:-w}`,
// `${a-w}`, `${a:+w}`, `${a+w}`, `${a:?msg}`, `${a?msg}`, escapes, single quotes (literal) and
// double quotes (expanding); quotes are removed. INVALID_ARGUMENT for a bad substitution or a
// `?` whose variable is unset/empty (message includes `msg`).
absl::StatusOr<std::string> ExpandWord(absl::string_view word, const VariableLookup& vars,
                                       const ExpandOptions& options = {});

// Expands and splits into words on unquoted whitespace (COPY sources, EXPOSE, VOLUME, ...): a
// quoted empty string is kept as an empty word, an unquoted expansion to nothing is dropped.
absl::StatusOr<std::vector<std::string>> ExpandWords(absl::string_view text,
                                                     const VariableLookup& vars,
                                                     const ExpandOptions& options = {});

}  // namespace slipway::build

#endif  // SLIPWAY_SERVER_BUILD_DOCKERFILE_VARIABLE_EXPANDER_H_
