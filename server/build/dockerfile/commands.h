#ifndef SLIPWAY_SERVER_BUILD_DOCKERFILE_COMMANDS_H_
#define SLIPWAY_SERVER_BUILD_DOCKERFILE_COMMANDS_H_

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "absl/status/statusor.h"
#include "server/build/dockerfile/instruction.h"
#include "server/build/dockerfile/variable_expander.h"

namespace slipway::build {

// Typed instructions after variable expansion (Docker expands ADD, COPY, ENV, EXPOSE, FROM,
// LABEL, STOPSIGNAL, USER, VOLUME, WORKDIR, ARG and ONBUILD never; RUN, CMD, ENTRYPOINT, SHELL
// and HEALTHCHECK are left for the shell). Every string here is final.

using KeyValues = std::vector<std::pair<std::string, std::string>>;  // in written order

struct CopyCommand {  // COPY and ADD
  bool is_add = false;
  std::vector<std::string> sources;  // context paths, stage paths, or (ADD) URLs; may glob;
                                     // heredoc markers are not in here (see heredocs)
  std::string destination;
  std::string from;                  // --from: stage name or index, or an image reference
  std::string chown;                 // --chown "user[:group]" (names or ids), empty = 0:0
  std::optional<uint32_t> chmod;     // --chmod octal
  bool link = false;                 // --link
  std::vector<std::string> excludes; // --exclude (repeatable)
  std::string checksum;              // ADD --checksum=sha256:...
  bool keep_git_dir = false;         // ADD --keep-git-dir
  std::vector<Heredoc> heredocs;     // COPY <<EOF dest: inline files named by heredoc name,
                                     // content already expanded when Heredoc::expand
};

struct RunCommand {
  bool json_form = false;
  std::vector<std::string> argv;     // JSON form
  std::string shell_command;         // shell form, unexpanded (the shell expands it)
  std::vector<std::string> mounts;   // --mount values, expanded
  std::string network;               // --network
  std::string security;              // --security
  std::vector<Heredoc> heredocs;     // as parsed, unexpanded (the shell expands them)
};

struct EnvCommand { KeyValues vars; };          // ENV a=b c=d, legacy ENV a b c
struct LabelCommand { KeyValues labels; };
struct ArgCommand {
  struct Arg { std::string name; std::optional<std::string> default_value; };  // expanded
  std::vector<Arg> args;
};
struct WorkdirCommand { std::string path; };
struct UserCommand { std::string user; };       // "name", "uid", "name:group", ...
struct ExposeCommand { std::vector<std::string> ports; };  // normalized "80/tcp", "53/udp"
struct VolumeCommand { std::vector<std::string> paths; };
// CMD / ENTRYPOINT / SHELL: the exec form as the config stores it (shell form is wrapped in the
// current SHELL by the builder, which knows it, so it is kept apart here).
struct ExecFormCommand {
  bool json_form = false;
  std::vector<std::string> argv;   // JSON form
  std::string shell_command;       // shell form
};
struct StopSignalCommand { std::string signal; };
struct HealthcheckCommand {
  bool none = false;                     // HEALTHCHECK NONE (then test is {"NONE"})
  std::vector<std::string> test;         // ["CMD", ...] or ["CMD-SHELL", "..."]
  int64_t interval_ns = 0, timeout_ns = 0, start_period_ns = 0, start_interval_ns = 0;
  int retries = 0;
};
// The trigger text, e.g. "RUN make"; a trigger's heredocs follow it ("\n<body><name>") so the
// text parses again as a Dockerfile line.
struct OnbuildCommand { std::string instruction; };
struct MaintainerCommand { std::string name; };

struct Command {
  std::string keyword;   // "COPY", "CMD", ... (ADD is a CopyCommand with is_add)
  int line = 0;
  std::string text;      // the instruction after expansion, used in cache keys and history
  std::variant<CopyCommand, RunCommand, EnvCommand, LabelCommand, ArgCommand, WorkdirCommand,
               UserCommand, ExposeCommand, VolumeCommand, ExecFormCommand, StopSignalCommand,
               HealthcheckCommand, OnbuildCommand, MaintainerCommand>
      body;
};

// Converts and expands one instruction of a stage (not FROM) with `vars` (the stage's scope).
// Command::text: keyword, flags (final values) and arguments in one canonical spelling
// (`copy  --from=$S a  b` -> "COPY --from=st a b"), then each heredoc as "\n<content><name>".
// EXPOSE expands port ranges ("8000-8002" -> three ports); HEALTHCHECK durations are Go
// durations, 0 when not given.
// INVALID_ARGUMENT "<file>:<line>: ..." for a malformed instruction (bad flag for this
// instruction, COPY with fewer than 2 arguments, bad --chmod, bad duration, ...).
absl::StatusOr<Command> ToCommand(const Instruction& instruction, absl::string_view file_name,
                                  const VariableLookup& vars, char escape);

}  // namespace slipway::build

#endif  // SLIPWAY_SERVER_BUILD_DOCKERFILE_COMMANDS_H_
