#ifndef SLIPWAY_SERVER_BUILD_DOCKERFILE_PARSER_H_
#define SLIPWAY_SERVER_BUILD_DOCKERFILE_PARSER_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "server/build/dockerfile/instruction.h"

namespace slipway::build {

struct ParsedDockerfile {
  std::string file_name;  // as given to ParseDockerfile, used in every error message
  char escape = '\\';     // from `# escape=` (only '\\' or '`')
  std::string syntax;     // from `# syntax=`: accepted and ignored (see notices)
  std::vector<std::string> notices;  // human-readable, e.g. the ignored syntax directive
  std::vector<Instruction> instructions;
};

// Parses a Dockerfile with the syntax of Docker's Dockerfile reference: parser directives at the
// top, comments, line continuations with the escape character, JSON and shell forms, heredocs
// (several per instruction), every instruction keyword (case-insensitive).
//
// Errors: INVALID_ARGUMENT whose message starts "<file_name>:<line>: " — an unknown
// instruction, an unterminated heredoc, a malformed JSON form where one is required, an
// instruction without its required arguments, no FROM before the first build instruction
// (only ARG and comments may precede it), an empty Dockerfile.
absl::StatusOr<ParsedDockerfile> ParseDockerfile(absl::string_view text,
                                                 absl::string_view file_name);

}  // namespace slipway::build

#endif  // SLIPWAY_SERVER_BUILD_DOCKERFILE_PARSER_H_
