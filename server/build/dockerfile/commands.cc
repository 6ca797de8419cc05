#include "server/build/dockerfile/commands.h"

#include <map>
#include <set>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "nlohmann/json.hpp"
#include "server/build/dockerfile/command_values.h"
#include "server/build/dockerfile/words.h"
#include "storage/status_macros.h"

namespace slipway::build {
namespace {

using dockerfile_internal::ParseBoolFlag;
using dockerfile_internal::ParseGoDuration;
using dockerfile_internal::ParseHeredocMarker;
using dockerfile_internal::QuoteIfNeeded;
using dockerfile_internal::SplitRawWords;
using dockerfile_internal::SplitWhitespace;

std::string JsonArray(const std::vector<std::string>& values) {
  return nlohmann::json(values).dump();
}

// Converts one instruction; every error carries "<file>:<line>: ".
class Converter {
 public:
  Converter(const Instruction& in, absl::string_view file, const VariableLookup& vars, char escape)
      : in_(in), file_(file), vars_(vars) {
    options_.escape = escape;
  }

  absl::StatusOr<Command> Convert() {
    Command command;
    command.keyword = in_.keyword;
    command.line = in_.line;
    const std::string& k = in_.keyword;
    absl::Status status;
    if (k == "COPY" || k == "ADD") {
      status = Copy(command);
    } else if (k == "RUN") {
      status = Run(command);
    } else if (k == "CMD" || k == "ENTRYPOINT" || k == "SHELL") {
      status = ExecForm(command);
    } else if (k == "ENV" || k == "LABEL") {
      status = KeyValuePairs(command);
    } else if (k == "ARG") {
      status = Arg(command);
    } else if (k == "WORKDIR" || k == "USER" || k == "STOPSIGNAL") {
      status = SingleValue(command);
    } else if (k == "EXPOSE") {
      status = Expose(command);
    } else if (k == "VOLUME") {
      status = Volume(command);
    } else if (k == "HEALTHCHECK") {
      status = Healthcheck(command);
    } else if (k == "ONBUILD") {
      std::string trigger = in_.raw_args;
      for (const Heredoc& h : in_.heredocs) absl::StrAppend(&trigger, "\n", h.content, h.name);
      command.body = OnbuildCommand{trigger};
      args_text_ = in_.raw_args;
    } else if (k == "MAINTAINER") {
      command.body = MaintainerCommand{in_.raw_args};
      args_text_ = in_.raw_args;
    } else {
      return Error(absl::StrCat(k, " is not a stage instruction (FROM starts a stage)"));
    }
    SLIPWAY_RETURN_IF_ERROR(status);
    command.text = k;
    for (const InstructionFlag& flag : flags_text_) {
      absl::StrAppend(&command.text, " --", flag.name);
      if (flag.has_value) absl::StrAppend(&command.text, "=", QuoteIfNeeded(flag.value));
    }
    absl::StrAppend(&command.text, " ", args_text_);
    for (const Heredoc& h : heredocs_text_) {
      absl::StrAppend(&command.text, "\n", h.content, h.name);
    }
    return command;
  }

 private:
  absl::Status Error(absl::string_view what) const {
    return absl::InvalidArgumentError(absl::StrCat(file_, ":", in_.line, ": ", what));
  }
  absl::Status Located(const absl::Status& status) const {
    return Error(absl::StrCat(in_.keyword, ": ", status.message()));
  }
  absl::StatusOr<std::string> Expand(absl::string_view word) const {
    auto out = ExpandWord(word, vars_, options_);
    if (!out.ok()) return Located(out.status());
    return out;
  }
  absl::StatusOr<std::vector<std::string>> ExpandList(absl::string_view text) const {
    auto out = ExpandWords(text, vars_, options_);
    if (!out.ok()) return Located(out.status());
    return out;
  }

  // The instruction's flags with values expanded when `expand` (or only those in
  // `expand_only`), checked for duplicates except `repeatable`; also recorded for `text`.
  absl::StatusOr<std::map<std::string, std::vector<InstructionFlag>>> Flags(
      bool expand, const std::set<std::string>& repeatable,
      const std::set<std::string>& expand_only = {}) {
    std::map<std::string, std::vector<InstructionFlag>> out;
    for (InstructionFlag flag : in_.flags) {
      if (expand || expand_only.count(flag.name) > 0) {
        SLIPWAY_ASSIGN_OR_RETURN(flag.value, Expand(flag.value));
      }
      auto& list = out[flag.name];
      if (!list.empty() && repeatable.count(flag.name) == 0) {
        return Error(absl::StrCat("duplicate flag specified: --", flag.name));
      }
      list.push_back(flag);
      flags_text_.push_back(flag);
    }
    return out;
  }
  absl::StatusOr<std::string> StringFlag(
      const std::map<std::string, std::vector<InstructionFlag>>& flags, const std::string& name) {
    auto it = flags.find(name);
    if (it == flags.end()) return std::string();
    if (!it->second[0].has_value) return Error(absl::StrCat("missing a value on flag: --", name));
    return it->second[0].value;
  }
  absl::StatusOr<bool> BoolFlag(const std::map<std::string, std::vector<InstructionFlag>>& flags,
                                const std::string& name) {
    auto it = flags.find(name);
    if (it == flags.end()) return false;
    auto value = ParseBoolFlag(name, it->second[0].has_value, it->second[0].value);
    if (!value.ok()) return Located(value.status());
    return value;
  }

  absl::Status Copy(Command& command) {
    CopyCommand copy;
    copy.is_add = in_.keyword == "ADD";
    SLIPWAY_ASSIGN_OR_RETURN(auto flags, Flags(/*expand=*/true, {"exclude"}));
    if (copy.is_add) {
      SLIPWAY_ASSIGN_OR_RETURN(copy.checksum, StringFlag(flags, "checksum"));
      SLIPWAY_ASSIGN_OR_RETURN(copy.keep_git_dir, BoolFlag(flags, "keep-git-dir"));
    } else {
      SLIPWAY_ASSIGN_OR_RETURN(copy.from, StringFlag(flags, "from"));
      SLIPWAY_ASSIGN_OR_RETURN(bool parents, BoolFlag(flags, "parents"));
      (void)parents;  // accepted; the COPY planner decides what it means for a source
    }
    SLIPWAY_ASSIGN_OR_RETURN(copy.chown, StringFlag(flags, "chown"));
    SLIPWAY_ASSIGN_OR_RETURN(copy.link, BoolFlag(flags, "link"));
    SLIPWAY_ASSIGN_OR_RETURN(std::string chmod, StringFlag(flags, "chmod"));
    if (!chmod.empty()) {
      auto mode = dockerfile_internal::ParseOctalMode(chmod);
      if (!mode.ok()) return Located(mode.status());
      copy.chmod = *mode;
    }
    if (auto it = flags.find("exclude"); it != flags.end()) {
      for (const InstructionFlag& f : it->second) {
        if (!f.has_value) return Error("missing a value on flag: --exclude");
        copy.excludes.push_back(f.value);
      }
    }

    // Every word, in order; heredoc markers become inline files instead of paths.
    std::vector<std::string> words;
    std::vector<bool> is_heredoc;
    if (in_.json_form) {
      for (const std::string& arg : in_.args) {
        SLIPWAY_ASSIGN_OR_RETURN(std::string word, Expand(arg));
        words.push_back(std::move(word));
        is_heredoc.push_back(false);
      }
    } else {
      for (const std::string& raw : SplitRawWords(in_.raw_args, options_.escape)) {
        std::optional<Heredoc> marker = ParseHeredocMarker(raw, options_.escape);
        const Heredoc* body = nullptr;
        for (const Heredoc& h : in_.heredocs) {
          if (marker && h.name == marker->name) body = &h;
        }
        if (body == nullptr) {
          SLIPWAY_ASSIGN_OR_RETURN(std::vector<std::string> expanded, ExpandList(raw));
          for (std::string& w : expanded) {
            words.push_back(std::move(w));
            is_heredoc.push_back(false);
          }
          continue;
        }
        Heredoc file = *body;
        if (file.expand) {
          ExpandOptions heredoc_options = options_;
          heredoc_options.keep_quotes = true;
          auto content = ExpandWord(file.content, vars_, heredoc_options);
          if (!content.ok()) return Located(content.status());
          file.content = std::move(*content);
        }
        copy.heredocs.push_back(std::move(file));
        words.push_back(raw);
        is_heredoc.push_back(true);
      }
    }
    if (words.size() < 2) {
      return Error(absl::StrCat(in_.keyword, " requires at least two arguments, but only ",
                                words.size(), " remained after expansion"));
    }
    if (is_heredoc.back()) return Error(absl::StrCat(in_.keyword, " destination is a heredoc"));
    copy.destination = words.back();
    if (copy.destination.empty()) return Error(absl::StrCat(in_.keyword, " destination is empty"));
    for (size_t i = 0; i + 1 < words.size(); ++i) {
      if (!is_heredoc[i]) copy.sources.push_back(words[i]);
    }
    args_text_ = in_.json_form ? JsonArray(words) : absl::StrJoin(words, " ");
    heredocs_text_ = copy.heredocs;
    command.body = std::move(copy);
    return absl::OkStatus();
  }

  absl::Status Run(Command& command) {
    RunCommand run;
    SLIPWAY_ASSIGN_OR_RETURN(auto flags, Flags(/*expand=*/false, {"mount"}, {"mount"}));
    if (auto it = flags.find("mount"); it != flags.end()) {
      for (const InstructionFlag& f : it->second) {
        if (!f.has_value) return Error("missing a value on flag: --mount");
        run.mounts.push_back(f.value);
      }
    }
    SLIPWAY_ASSIGN_OR_RETURN(run.network, StringFlag(flags, "network"));
    SLIPWAY_ASSIGN_OR_RETURN(run.security, StringFlag(flags, "security"));
    run.json_form = in_.json_form;
    if (in_.json_form) {
      run.argv = in_.args;
      args_text_ = JsonArray(in_.args);
    } else {
      run.shell_command = in_.raw_args;
      args_text_ = in_.raw_args;
    }
    run.heredocs = in_.heredocs;
    heredocs_text_ = in_.heredocs;
    command.body = std::move(run);
    return absl::OkStatus();
  }

  absl::Status ExecForm(Command& command) {
    ExecFormCommand exec;
    exec.json_form = in_.json_form;
    if (in_.json_form) {
      exec.argv = in_.args;
      args_text_ = JsonArray(in_.args);
    } else {
      exec.shell_command = in_.raw_args;
      args_text_ = in_.raw_args;
    }
    command.body = std::move(exec);
    return absl::OkStatus();
  }

  absl::Status KeyValuePairs(Command& command) {
    KeyValues pairs;
    std::vector<std::string> words = SplitRawWords(in_.raw_args, options_.escape);
    if (words.empty()) return Error(absl::StrCat(in_.keyword, " requires at least one argument"));
    if (words[0].find('=') == std::string::npos) {
      // Legacy `ENV name value with spaces`: the value is the rest of the line.
      absl::string_view rest = absl::StripAsciiWhitespace(
          absl::string_view(in_.raw_args).substr(in_.raw_args.find(words[0]) + words[0].size()));
      if (rest.empty()) return Error(absl::StrCat(in_.keyword, " must have two arguments"));
      SLIPWAY_ASSIGN_OR_RETURN(std::string key, Expand(words[0]));
      SLIPWAY_ASSIGN_OR_RETURN(std::string value, Expand(rest));
      pairs.emplace_back(std::move(key), std::move(value));
    } else {
      for (const std::string& word : words) {
        size_t eq = word.find('=');
        if (eq == std::string::npos) {
          return Error(absl::StrCat(in_.keyword, " syntax error: can't find = in \"", word,
                                    "\"; must be of the form: name=value"));
        }
        SLIPWAY_ASSIGN_OR_RETURN(std::string key, Expand(word.substr(0, eq)));
        SLIPWAY_ASSIGN_OR_RETURN(std::string value, Expand(word.substr(eq + 1)));
        pairs.emplace_back(std::move(key), std::move(value));
      }
    }
    std::vector<std::string> text;
    for (const auto& [key, value] : pairs) {
      if (key.empty()) return Error(absl::StrCat(in_.keyword, " names can not be blank"));
      text.push_back(absl::StrCat(QuoteIfNeeded(key), "=", QuoteIfNeeded(value)));
    }
    args_text_ = absl::StrJoin(text, " ");
    if (in_.keyword == "ENV") {
      command.body = EnvCommand{std::move(pairs)};
    } else {
      command.body = LabelCommand{std::move(pairs)};
    }
    return absl::OkStatus();
  }

  absl::Status Arg(Command& command) {
    ArgCommand arg;
    std::vector<std::string> text;
    for (const std::string& word : SplitRawWords(in_.raw_args, options_.escape)) {
      ArgCommand::Arg one;
      size_t eq = word.find('=');
      one.name = word.substr(0, eq);
      if (one.name.empty()) return Error("ARG names can not be blank");
      if (eq != std::string::npos) {
        SLIPWAY_ASSIGN_OR_RETURN(one.default_value, Expand(word.substr(eq + 1)));
        text.push_back(absl::StrCat(one.name, "=", QuoteIfNeeded(*one.default_value)));
      } else {
        text.push_back(one.name);
      }
      arg.args.push_back(std::move(one));
    }
    if (arg.args.empty()) return Error("ARG requires at least one argument");
    args_text_ = absl::StrJoin(text, " ");
    command.body = std::move(arg);
    return absl::OkStatus();
  }

  absl::Status SingleValue(Command& command) {
    SLIPWAY_ASSIGN_OR_RETURN(std::string value, Expand(in_.raw_args));
    if (value.empty()) return Error(absl::StrCat(in_.keyword, " is empty after expansion"));
    args_text_ = value;
    if (in_.keyword == "WORKDIR") {
      command.body = WorkdirCommand{std::move(value)};
    } else if (in_.keyword == "USER") {
      command.body = UserCommand{std::move(value)};
    } else {
      command.body = StopSignalCommand{std::move(value)};
    }
    return absl::OkStatus();
  }

  absl::Status Expose(Command& command) {
    ExposeCommand expose;
    SLIPWAY_ASSIGN_OR_RETURN(std::vector<std::string> words, ExpandList(in_.raw_args));
    for (const std::string& word : words) {
      auto ports = dockerfile_internal::NormalizeExposePort(word);
      if (!ports.ok()) return Located(ports.status());
      for (std::string& p : *ports) expose.ports.push_back(std::move(p));
    }
    if (expose.ports.empty()) return Error("EXPOSE requires at least one argument");
    args_text_ = absl::StrJoin(expose.ports, " ");
    command.body = std::move(expose);
    return absl::OkStatus();
  }

  absl::Status Volume(Command& command) {
    VolumeCommand volume;
    if (in_.json_form) {
      for (const std::string& arg : in_.args) {
        SLIPWAY_ASSIGN_OR_RETURN(std::string path, Expand(arg));
        volume.paths.push_back(std::move(path));
      }
    } else {
      SLIPWAY_ASSIGN_OR_RETURN(volume.paths, ExpandList(in_.raw_args));
    }
    if (volume.paths.empty()) return Error("VOLUME requires at least one argument");
    for (const std::string& path : volume.paths) {
      if (path.empty()) return Error("VOLUME specified can not be an empty string");
    }
    args_text_ = JsonArray(volume.paths);
    command.body = std::move(volume);
    return absl::OkStatus();
  }

  absl::Status Healthcheck(Command& command) {
    HealthcheckCommand health;
    SLIPWAY_ASSIGN_OR_RETURN(auto flags, Flags(/*expand=*/false, {}));
    std::vector<std::string> words = SplitWhitespace(in_.raw_args);
    if (absl::AsciiStrToUpper(words.at(0)) == "NONE") {
      health.none = true;
      health.test = {"NONE"};
      args_text_ = "NONE";
      command.body = std::move(health);
      return absl::OkStatus();
    }
    struct DurationFlag {
      const char* name;
      int64_t* out;
    };
    for (DurationFlag d : {DurationFlag{"interval", &health.interval_ns},
                           DurationFlag{"timeout", &health.timeout_ns},
                           DurationFlag{"start-period", &health.start_period_ns},
                           DurationFlag{"start-interval", &health.start_interval_ns}}) {
      SLIPWAY_ASSIGN_OR_RETURN(std::string text, StringFlag(flags, d.name));
      if (text.empty()) continue;
      auto ns = ParseGoDuration(text);
      if (!ns.ok()) return Located(ns.status());
      if (*ns < 0) return Error(absl::StrCat("HEALTHCHECK --", d.name, " cannot be negative"));
      if (*ns != 0 && *ns < 1'000'000) {
        return Error(
            absl::StrCat("HEALTHCHECK --", d.name, " \"", text, "\" cannot be less than 1ms"));
      }
      *d.out = *ns;
    }
    SLIPWAY_ASSIGN_OR_RETURN(std::string retries, StringFlag(flags, "retries"));
    if (!retries.empty()) {
      int value = 0;
      if (!absl::SimpleAtoi(retries, &value)) {
        return Error(absl::StrCat("HEALTHCHECK --retries \"", retries, "\" is not a number"));
      }
      if (value < 0) return Error("HEALTHCHECK --retries cannot be negative");
      health.retries = value;
    }
    if (in_.json_form) {
      health.test = {"CMD"};
      health.test.insert(health.test.end(), in_.args.begin(), in_.args.end());
    } else {
      std::string shell(
          absl::StripAsciiWhitespace(absl::string_view(in_.raw_args).substr(words[0].size())));
      health.test = {"CMD-SHELL", shell};
    }
    args_text_ = in_.raw_args;
    command.body = std::move(health);
    return absl::OkStatus();
  }

  const Instruction& in_;
  std::string file_;
  const VariableLookup& vars_;
  ExpandOptions options_;
  std::vector<InstructionFlag> flags_text_;  // final flag values, for Command::text
  std::string args_text_;
  std::vector<Heredoc> heredocs_text_;
};

}  // namespace

absl::StatusOr<Command> ToCommand(const Instruction& instruction, absl::string_view file_name,
                                  const VariableLookup& vars, char escape) {
  Converter converter(instruction, file_name, vars, escape);
  return converter.Convert();
}

}  // namespace slipway::build
