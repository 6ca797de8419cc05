#include "client/step/dotenv.h"

#include <algorithm>
#include <cctype>
#include <fstream>
#include <optional>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"

namespace slipway::client::step {
namespace {

bool ValidKey(absl::string_view key) {
  if (key.empty()) return false;
  if (!(std::isalpha(static_cast<unsigned char>(key[0])) || key[0] == '_')) return false;
  for (char c : key) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '-')) {
      return false;
    }
  }
  return true;
}

// At raw[j] == '$': the name of a $NAME or ${NAME} reference and the index just past it.
std::optional<std::pair<std::string, size_t>> VarRef(absl::string_view raw, size_t j) {
  auto name_char = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; };
  if (j + 1 < raw.size() && raw[j + 1] == '{') {
    size_t close = raw.find('}', j + 2);
    if (close == absl::string_view::npos || close == j + 2) return std::nullopt;
    absl::string_view name = raw.substr(j + 2, close - j - 2);
    if (!std::all_of(name.begin(), name.end(), name_char)) return std::nullopt;
    return std::make_pair(std::string(name), close + 1);
  }
  size_t end = j + 1;
  while (end < raw.size() && name_char(raw[end])) ++end;
  if (end == j + 1) return std::nullopt;
  return std::make_pair(std::string(raw.substr(j + 1, end - j - 1)), end);
}

}  // namespace

absl::StatusOr<DotenvEntries> ParseDotenv(const std::string& text, const std::string& source,
                                          const EnvLookup& env) {
  DotenvEntries entries;
  // $NAME / ${NAME}: an earlier line of the file, else the environment, else "".
  auto resolve = [&](const std::string& name) -> std::string {
    for (auto it = entries.rbegin(); it != entries.rend(); ++it) {
      if (it->first == name) return it->second;
    }
    if (env) {
      if (auto v = env(name)) return *v;
    }
    return "";
  };
  // Appends raw[j...] starting at a '$' and returns the index of its last character.
  auto expand_at = [&](absl::string_view raw, size_t j, std::string* out) -> size_t {
    auto ref = VarRef(raw, j);
    if (!ref) {
      *out += '$';
      return j;
    }
    *out += resolve(ref->first);
    return ref->second - 1;
  };
  // Split into lines ourselves: a double-quoted value may continue on the next lines.
  std::vector<std::string> lines;
  {
    std::string line;
    std::istringstream in(text);
    while (std::getline(in, line)) {
      if (!line.empty() && line.back() == '\r') line.pop_back();
      lines.push_back(line);
    }
  }
  for (size_t i = 0; i < lines.size(); ++i) {
    const size_t line_no = i + 1;
    auto fail = [&](const std::string& what) {
      return absl::InvalidArgumentError(absl::StrCat(source, ":", line_no, ": ", what));
    };
    absl::string_view line = absl::StripAsciiWhitespace(lines[i]);
    if (line.empty() || line[0] == '#') continue;
    if (absl::ConsumePrefix(&line, "export")) {
      if (line.empty() || !absl::ascii_isspace(line[0])) {
        return fail("expected KEY=VALUE after \"export\"");
      }
      line = absl::StripLeadingAsciiWhitespace(line);
    }
    size_t sep = line.find_first_of("=:");
    if (sep == absl::string_view::npos) return fail("expected KEY=VALUE");
    std::string key(absl::StripTrailingAsciiWhitespace(line.substr(0, sep)));
    if (!ValidKey(key)) return fail(absl::StrCat("invalid key \"", key, "\""));
    absl::string_view rest = absl::StripLeadingAsciiWhitespace(line.substr(sep + 1));
    std::string value;
    if (!rest.empty() && rest[0] == '\'') {
      size_t end = rest.find('\'', 1);
      if (end == absl::string_view::npos) return fail(absl::StrCat("unterminated ' in ", key));
      value = std::string(rest.substr(1, end - 1));
    } else if (!rest.empty() && rest[0] == '"') {
      // Escapes are decoded; an unescaped newline inside the quotes joins the next line.
      std::string raw(rest.substr(1));
      bool closed = false;
      while (true) {
        for (size_t j = 0; j < raw.size(); ++j) {
          char c = raw[j];
          if (c == '\\' && j + 1 < raw.size()) {
            char n = raw[++j];
            switch (n) {
              case 'n':
                value += '\n';
                break;
              case 'r':
                value += '\r';
                break;
              case 't':
                value += '\t';
                break;
              default:
                value += n;
                break;  // \\ \" \$ and anything else: the character
            }
          } else if (c == '"') {
            closed = true;
            break;
          } else if (c == '$') {
            j = expand_at(raw, j, &value);
          } else {
            value += c;
          }
        }
        if (closed || i + 1 >= lines.size()) break;
        value += '\n';
        raw = lines[++i];
      }
      if (!closed) return fail(absl::StrCat("unterminated \" in ", key));
    } else {
      size_t comment = rest.find(" #");
      if (comment == absl::string_view::npos) comment = rest.find("\t#");
      if (comment != absl::string_view::npos) rest = rest.substr(0, comment);
      rest = absl::StripTrailingAsciiWhitespace(rest);
      for (size_t j = 0; j < rest.size(); ++j) {
        if (rest[j] == '$') {
          j = expand_at(rest, j, &value);
        } else {
          value += rest[j];
        }
      }
    }
    entries.emplace_back(std::move(key), std::move(value));
  }
  return entries;
}

absl::StatusOr<DotenvEntries> ReadDotenvFile(const std::string& variable, const std::string& path,
                                             const EnvLookup& env) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::InvalidArgumentError(absl::StrCat(variable, "=", path, ": cannot open"));
  std::stringstream buffer;
  buffer << in.rdbuf();
  if (in.bad()) {
    return absl::InvalidArgumentError(absl::StrCat(variable, "=", path, ": cannot read"));
  }
  return ParseDotenv(buffer.str(), path, env);
}

}  // namespace slipway::client::step
