#ifndef SLIPWAY_SERVER_BUILD_DOCKERFILE_INSTRUCTION_H_
#define SLIPWAY_SERVER_BUILD_DOCKERFILE_INSTRUCTION_H_

#include <string>
#include <vector>

namespace slipway::build {

// One `--name=value` (or bare `--name`) flag of an instruction as Docker's flag splitter reads
// it: quotes and escapes removed (`--chown="a b"` -> `a b`), variables not yet expanded: flags
// are expanded later, with the instruction (e.g. `COPY --from=${BASE}`).
struct InstructionFlag {
  std::string name;   // without the dashes: "from", "chown", "platform", "mount", ...
  std::string value;  // empty for a bare flag
  bool has_value = false;
};

// A heredoc body attached to an instruction (`<<EOF` / `<<-EOF` / `<<"EOF"`).
struct Heredoc {
  std::string name;     // the delimiter word without quotes, e.g. "EOF"
  std::string content;  // the body, each line ending in '\n'; leading tabs removed for `<<-`
  bool expand = true;   // false when the delimiter was quoted ('EOF' or "EOF")
  bool strip_tabs = false;
};

// One instruction as parsed, before any variable expansion.
struct Instruction {
  std::string keyword;  // upper case: "FROM", "COPY", "RUN", ...
  int line = 0;         // 1-based line where the instruction starts
  std::vector<InstructionFlag> flags;
  // Exec/JSON form (`CMD ["a", "b"]`): `args` holds the decoded array. For HEALTHCHECK this is
  // the form of the command after `CMD` (raw_args still starts with "CMD").
  bool json_form = false;
  std::vector<std::string> args;
  // The text after the keyword and flags, continuation lines joined (escape + newline removed,
  // comment lines inside continuations dropped), leading/trailing whitespace trimmed. Set for
  // both forms; for the shell form it is what gets expanded and split into words.
  std::string raw_args;
  std::vector<Heredoc> heredocs;  // in the order their `<<` markers appear
  std::string original;           // "COPY --from=a x /y": for history, errors and ONBUILD
};

}  // namespace slipway::build

#endif  // SLIPWAY_SERVER_BUILD_DOCKERFILE_INSTRUCTION_H_
