#include "client/step/dotenv.h"

#include <cctype>
#include <fstream>
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

}  // namespace

absl::StatusOr<DotenvEntries> ParseDotenv(const std::string& text, const std::string& source) {
  DotenvEntries entries;
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
              case 'n': value += '\n'; break;
              case 'r': value += '\r'; break;
              case 't': value += '\t'; break;
              default: value += n; break;  // \\ \" \$ and anything else: the character
            }
          } else if (c == '"') {
            closed = true;
            break;
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
      value = std::string(absl::StripTrailingAsciiWhitespace(rest));
    }
    entries.emplace_back(std::move(key), std::move(value));
  }
  return entries;
}

absl::StatusOr<DotenvEntries> ReadDotenvFile(const std::string& variable,
                                             const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::InvalidArgumentError(absl::StrCat(variable, "=", path, ": cannot open"));
  std::stringstream buffer;
  buffer << in.rdbuf();
  if (in.bad()) {
    return absl::InvalidArgumentError(absl::StrCat(variable, "=", path, ": cannot read"));
  }
  return ParseDotenv(buffer.str(), path);
}

}  // namespace slipway::client::step
