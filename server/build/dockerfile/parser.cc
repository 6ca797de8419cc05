#include "server/build/dockerfile/parser.h"

#include <algorithm>
#include <cctype>
#include <map>
#include <set>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "server/build/dockerfile/line_reader.h"
#include "server/build/dockerfile/words.h"
#include "storage/status_macros.h"

namespace slipway::build {
namespace {

using dockerfile_internal::LineReader;
using dockerfile_internal::LogicalLine;
using dockerfile_internal::ParseHeredocMarker;
using dockerfile_internal::ParseJsonStringArray;
using dockerfile_internal::SplitRawWords;
using dockerfile_internal::SplitWhitespace;

// The flags each instruction accepts; any other is an error, as in Docker.
const std::map<std::string, std::set<std::string>>& AllowedFlags() {
  static const auto* const kFlags = new std::map<std::string, std::set<std::string>>{
      {"ADD", {"chown", "chmod", "link", "exclude", "checksum", "keep-git-dir"}},
      {"ARG", {}},
      {"CMD", {}},
      {"COPY", {"from", "chown", "chmod", "link", "exclude", "parents"}},
      {"ENTRYPOINT", {}},
      {"ENV", {}},
      {"EXPOSE", {}},
      {"FROM", {"platform"}},
      {"HEALTHCHECK", {"interval", "timeout", "start-period", "start-interval", "retries"}},
      {"LABEL", {}},
      {"MAINTAINER", {}},
      {"ONBUILD", {}},
      {"RUN", {"mount", "network", "security"}},
      {"SHELL", {}},
      {"STOPSIGNAL", {}},
      {"USER", {}},
      {"VOLUME", {}},
      {"WORKDIR", {}},
  };
  return *kFlags;
}

absl::Status LineError(absl::string_view file, int line, absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat(file, ":", line, ": ", what));
}

// Docker's flag splitter: leading words that start with "--" are flags; quotes and escapes
// inside them are removed; a lone "--" ends the flags. Returns the text after the flags.
absl::string_view ExtractFlags(absl::string_view text, char escape,
                               std::vector<std::string>& flags) {
  size_t pos = 0;
  auto blank = [](char c) { return std::isspace(static_cast<unsigned char>(c)) != 0; };
  while (true) {
    while (pos < text.size() && blank(text[pos])) ++pos;
    if (text.substr(pos, 2) != "--") return text.substr(pos);
    std::string word;
    char quote = 0;
    size_t i = pos;
    for (; i < text.size(); ++i) {
      char c = text[i];
      if (quote == 0 && blank(c)) break;
      if (quote == 0 && (c == '"' || c == '\'')) {
        quote = c;
        continue;
      }
      if (quote != 0 && c == quote) {
        quote = 0;
        continue;
      }
      if (c == escape) {
        if (i + 1 == text.size()) continue;
        c = text[++i];
      }
      word.push_back(c);
    }
    pos = i;
    if (word == "--") return text.substr(pos);
    flags.push_back(std::move(word));
  }
}

bool CanHaveHeredocs(const Instruction& instruction, absl::string_view keyword) {
  return !instruction.json_form && (keyword == "RUN" || keyword == "COPY" || keyword == "ADD");
}

// Parses single logical lines into Instructions (heredoc bodies are read by the caller).
class LineParser {
 public:
  explicit LineParser(absl::string_view file) : file_(file) {}

  // Parses one logical line into `out`. Sets takes_heredocs() for RUN/COPY/ADD in shell form,
  // and for an ONBUILD whose trigger is one.
  absl::Status ParseLine(absl::string_view text, int line, char escape, Instruction& out) {
    text = absl::StripAsciiWhitespace(text);
    size_t split = 0;
    while (split < text.size() && !std::isspace(static_cast<unsigned char>(text[split]))) {
      ++split;
    }
    std::string word(text.substr(0, split));
    out.keyword = absl::AsciiStrToUpper(word);
    out.line = line;
    out.original = std::string(text);
    auto allowed = AllowedFlags().find(out.keyword);
    if (allowed == AllowedFlags().end()) {
      return LineError(file_, line, absl::StrCat("unknown instruction: ", word));
    }
    std::vector<std::string> flag_words;
    absl::string_view rest = ExtractFlags(text.substr(split), escape, flag_words);
    for (const std::string& flag : flag_words) {
      InstructionFlag parsed;
      std::string body = flag.substr(2);
      size_t eq = body.find('=');
      parsed.name = body.substr(0, eq);
      if (eq != std::string::npos) {
        parsed.value = body.substr(eq + 1);
        parsed.has_value = true;
      }
      if (allowed->second.count(parsed.name) == 0) {
        return LineError(file_, line,
                         absl::StrCat("unknown flag for ", out.keyword, ": --", parsed.name));
      }
      out.flags.push_back(std::move(parsed));
    }
    out.raw_args = std::string(absl::StripAsciiWhitespace(rest));
    SLIPWAY_RETURN_IF_ERROR(CheckArguments(out, escape));
    if (out.keyword != "ONBUILD") takes_heredocs_ = CanHaveHeredocs(out, out.keyword);
    return absl::OkStatus();
  }

  bool takes_heredocs() const { return takes_heredocs_; }

 private:
  absl::Status Error(const Instruction& in, absl::string_view what) {
    return LineError(file_, in.line, what);
  }

  absl::Status CheckArguments(Instruction& in, char escape) {
    const std::string& k = in.keyword;
    if (in.raw_args.empty()) return Error(in, absl::StrCat(k, " requires at least one argument"));
    if (k == "RUN" || k == "CMD" || k == "ENTRYPOINT" || k == "SHELL" || k == "COPY" ||
        k == "ADD" || k == "VOLUME") {
      // Exec form when the text is a JSON array of strings; anything else is the shell form
      // (a broken array included), except for SHELL which has no shell form.
      if (auto json = ParseJsonStringArray(in.raw_args)) {
        in.json_form = true;
        in.args = std::move(*json);
      } else if (k == "SHELL") {
        return Error(in, "SHELL requires the arguments to be in JSON form");
      }
    }
    if (k == "SHELL" && in.args.empty()) return Error(in, "SHELL requires at least one argument");
    if (k == "FROM") {
      std::vector<std::string> words = SplitWhitespace(in.raw_args);
      if (!(words.size() == 1 || (words.size() == 3 && absl::EqualsIgnoreCase(words[1], "as")))) {
        return Error(in, "FROM requires either one or three arguments (image [AS name])");
      }
    } else if (k == "COPY" || k == "ADD") {
      size_t count = in.json_form ? in.args.size() : SplitRawWords(in.raw_args, escape).size();
      if (count < 2) {
        return Error(in, absl::StrCat(k,
                                      " requires at least two arguments, but only one was "
                                      "provided. Destination could not be determined"));
      }
    } else if (k == "ENV" || k == "LABEL") {
      std::vector<std::string> words = SplitRawWords(in.raw_args, escape);
      if (words[0].find('=') == std::string::npos) {
        if (words.size() < 2) return Error(in, absl::StrCat(k, " must have two arguments"));
      } else {
        for (const std::string& w : words) {
          if (w.find('=') == std::string::npos) {
            return Error(in, absl::StrCat(k, " syntax error: can't find = in \"", w,
                                          "\"; must be of the form: name=value"));
          }
          if (w.front() == '=') return Error(in, absl::StrCat(k, " names can not be blank"));
        }
      }
    } else if (k == "ARG") {
      for (const std::string& w : SplitRawWords(in.raw_args, escape)) {
        if (w.front() == '=') return Error(in, "ARG names can not be blank");
      }
    } else if (k == "HEALTHCHECK") {
      std::vector<std::string> words = SplitWhitespace(in.raw_args);
      std::string type = absl::AsciiStrToUpper(words[0]);
      if (type == "NONE") {
        if (words.size() > 1 || !in.flags.empty()) {
          return Error(in, "HEALTHCHECK NONE takes no arguments");
        }
      } else if (type != "CMD") {
        return Error(in, absl::StrCat("unknown type \"", words[0], "\" in HEALTHCHECK (try CMD)"));
      } else {
        std::string command(
            absl::StripAsciiWhitespace(absl::string_view(in.raw_args).substr(words[0].size())));
        if (command.empty()) return Error(in, "HEALTHCHECK CMD requires a command");
        if (auto json = ParseJsonStringArray(command)) {
          in.json_form = true;
          in.args = std::move(*json);
        }
      }
    } else if (k == "ONBUILD") {
      std::string trigger = absl::AsciiStrToUpper(SplitWhitespace(in.raw_args)[0]);
      if (trigger == "ONBUILD") {
        return Error(in, "chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed");
      }
      if (trigger == "FROM" || trigger == "MAINTAINER") {
        return Error(in, absl::StrCat(trigger, " isn't allowed as an ONBUILD trigger"));
      }
      // The trigger is checked like any instruction now rather than when a child builds.
      Instruction nested;
      SLIPWAY_RETURN_IF_ERROR(ParseLine(in.raw_args, in.line, escape, nested));
    }
    return absl::OkStatus();
  }

  std::string file_;
  bool takes_heredocs_ = false;
};

}  // namespace

absl::StatusOr<ParsedDockerfile> ParseDockerfile(absl::string_view text,
                                                 absl::string_view file_name) {
  ParsedDockerfile out;
  out.file_name = std::string(file_name);
  LineReader reader(text);
  bool seen_escape = false, seen_syntax = false;
  for (const auto& directive : reader.ReadDirectives({"escape", "syntax", "check"})) {
    if (directive.name == "escape") {
      if (seen_escape) {
        return LineError(file_name, directive.line, "only one escape parser directive can be used");
      }
      seen_escape = true;
      if (directive.value != "\\" && directive.value != "`") {
        return LineError(
            file_name, directive.line,
            absl::StrCat("invalid escape token '", directive.value, "' does not match ` or \\"));
      }
      out.escape = directive.value[0];
    } else if (directive.name == "syntax") {
      if (seen_syntax) {
        return LineError(file_name, directive.line, "only one syntax parser directive can be used");
      }
      seen_syntax = true;
      out.syntax = directive.value;
      out.notices.push_back(absl::StrCat(file_name, ":", directive.line,
                                         ": syntax directive ignored (", directive.value,
                                         "): Slipway parses Dockerfiles itself"));
    } else {
      out.notices.push_back(
          absl::StrCat(file_name, ":", directive.line, ": ", directive.name, " directive ignored"));
    }
  }

  bool seen_from = false;
  while (auto line = reader.Next(out.escape)) {
    LineParser parser(file_name);
    Instruction instruction;
    SLIPWAY_RETURN_IF_ERROR(
        parser.ParseLine(line->text, line->start_line, out.escape, instruction));
    if (instruction.keyword == "FROM") seen_from = true;
    if (!seen_from && instruction.keyword != "ARG") {
      return LineError(
          file_name, line->start_line,
          absl::StrCat(instruction.keyword, " before the first FROM: only ARG may precede FROM"));
    }
    if (parser.takes_heredocs() && absl::StrContains(line->text, "<<")) {
      for (const std::string& word : SplitRawWords(line->text, out.escape)) {
        std::optional<Heredoc> heredoc = ParseHeredocMarker(word, out.escape);
        if (!heredoc) continue;
        std::optional<std::string> body = reader.ReadHeredoc(heredoc->name, heredoc->strip_tabs);
        if (!body) {
          return LineError(file_name, line->start_line,
                           absl::StrCat("unterminated heredoc <<", heredoc->name,
                                        " (the file ends before a line \"", heredoc->name, "\")"));
        }
        heredoc->content = std::move(*body);
        instruction.heredocs.push_back(std::move(*heredoc));
      }
    }
    out.instructions.push_back(std::move(instruction));
  }
  if (out.instructions.empty()) {
    return LineError(file_name, std::max(1, reader.last_line()), "file with no instructions");
  }
  return out;
}

}  // namespace slipway::build
