#include "server/build/dockerfile/line_reader.h"

#include <algorithm>
#include <cctype>

#include "absl/strings/ascii.h"

namespace slipway::build::dockerfile_internal {
namespace {

absl::string_view TrimLeft(absl::string_view s) { return absl::StripLeadingAsciiWhitespace(s); }

bool IsComment(absl::string_view line) {
  absl::string_view t = TrimLeft(line);
  return !t.empty() && t.front() == '#';
}

bool IsBlank(absl::string_view line) { return TrimLeft(line).empty(); }

// Docker's continuation rule: the escape is the last character but for blanks and tabs, and is
// not itself escaped. Removes it (and what follows) and returns true when the line continues.
bool TrimContinuation(std::string& line, char escape) {
  size_t end = line.size();
  while (end > 0 && (line[end - 1] == ' ' || line[end - 1] == '\t')) --end;
  if (end == 0 || line[end - 1] != escape) return false;
  if (end >= 2 && line[end - 2] == escape) return false;
  line.resize(end - 1);
  return true;
}

// `# name = value` with blanks allowed around the parts; name is [A-Za-z][A-Za-z0-9]*.
bool MatchDirective(absl::string_view line, std::string& name, std::string& value) {
  if (line.empty() || line.front() != '#') return false;
  absl::string_view rest = TrimLeft(line.substr(1));
  size_t i = 0;
  if (rest.empty() || !std::isalpha(static_cast<unsigned char>(rest[0]))) return false;
  while (i < rest.size() && std::isalnum(static_cast<unsigned char>(rest[i]))) ++i;
  name = absl::AsciiStrToLower(rest.substr(0, i));
  rest = TrimLeft(rest.substr(i));
  if (rest.empty() || rest.front() != '=') return false;
  value = std::string(absl::StripAsciiWhitespace(rest.substr(1)));
  return !value.empty();
}

}  // namespace

LineReader::LineReader(absl::string_view text) {
  if (text.substr(0, 3) == "\xEF\xBB\xBF") text.remove_prefix(3);  // UTF-8 byte-order mark
  size_t start = 0;
  while (start < text.size()) {
    size_t nl = text.find('\n', start);
    size_t end = nl == absl::string_view::npos ? text.size() : nl;
    absl::string_view line = text.substr(start, end - start);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    lines_.push_back(line);
    start = end + 1;
  }
}

std::vector<LineReader::Directive> LineReader::ReadDirectives(
    const std::vector<std::string>& known) {
  std::vector<Directive> out;
  while (next_ < lines_.size()) {
    std::string name, value;
    if (!MatchDirective(TrimLeft(lines_[next_]), name, value)) break;
    if (std::find(known.begin(), known.end(), name) == known.end()) break;
    out.push_back({name, value, static_cast<int>(next_) + 1});
    ++next_;
  }
  return out;
}

std::optional<LogicalLine> LineReader::Next(char escape) {
  while (next_ < lines_.size()) {
    absl::string_view first = lines_[next_++];
    if (IsComment(first) || IsBlank(first)) continue;
    LogicalLine logical;
    logical.start_line = static_cast<int>(next_);
    std::string text(TrimLeft(first));
    bool more = TrimContinuation(text, escape);
    logical.text = std::move(text);
    // Continuation lines keep their leading blanks; comment and blank lines inside are dropped.
    while (more && next_ < lines_.size()) {
      absl::string_view line = lines_[next_++];
      if (IsComment(line) || IsBlank(line)) continue;
      std::string part(line);
      more = TrimContinuation(part, escape);
      logical.text += part;
    }
    logical.end_line = static_cast<int>(next_);
    if (IsBlank(logical.text)) continue;  // a lone escape line
    return logical;
  }
  return std::nullopt;
}

std::optional<std::string> LineReader::ReadHeredoc(const std::string& name, bool strip_tabs) {
  std::string body;
  while (next_ < lines_.size()) {
    absl::string_view line = lines_[next_++];
    if (strip_tabs) {
      while (!line.empty() && line.front() == '\t') line.remove_prefix(1);
    }
    if (line == name) return body;
    body.append(line.data(), line.size());
    body.push_back('\n');
  }
  return std::nullopt;
}

}  // namespace slipway::build::dockerfile_internal
