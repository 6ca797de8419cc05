#include "server/build/dockerfile/words.h"

#include <cctype>

#include "nlohmann/json.hpp"

namespace slipway::build::dockerfile_internal {
namespace {

bool IsBlank(char c) { return std::isspace(static_cast<unsigned char>(c)) != 0; }

}  // namespace

std::vector<std::string> SplitRawWords(absl::string_view text, char escape) {
  std::vector<std::string> words;
  std::string word;
  bool in_word = false;
  char quote = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (quote == 0 && IsBlank(c)) {
      if (in_word) words.push_back(std::move(word));
      word.clear();
      in_word = false;
      continue;
    }
    in_word = true;
    word.push_back(c);
    if (c == escape && quote != '\'' && i + 1 < text.size()) {
      word.push_back(text[++i]);  // the escaped character never ends a word or a quote
      continue;
    }
    if (quote == 0 && (c == '"' || c == '\'')) {
      quote = c;
    } else if (c == quote) {
      quote = 0;
    }
  }
  if (in_word) words.push_back(std::move(word));
  return words;
}

std::vector<std::string> SplitWhitespace(absl::string_view text) {
  std::vector<std::string> words;
  size_t i = 0;
  while (i < text.size()) {
    while (i < text.size() && IsBlank(text[i])) ++i;
    size_t start = i;
    while (i < text.size() && !IsBlank(text[i])) ++i;
    if (i > start) words.emplace_back(text.substr(start, i - start));
  }
  return words;
}

std::string Unquote(absl::string_view word, char escape) {
  std::string out;
  char quote = 0;
  for (size_t i = 0; i < word.size(); ++i) {
    const char c = word[i];
    if (quote == '\'') {
      if (c == '\'')
        quote = 0;
      else
        out.push_back(c);
      continue;
    }
    if (c == escape && i + 1 < word.size()) {
      out.push_back(word[++i]);
      continue;
    }
    if (quote == 0 && (c == '"' || c == '\'')) {
      quote = c;
    } else if (quote == '"' && c == '"') {
      quote = 0;
    } else {
      out.push_back(c);
    }
  }
  return out;
}

std::optional<Heredoc> ParseHeredocMarker(absl::string_view raw_word, char escape) {
  // Docker's shape: optional file descriptor digits, "<<", optional "-", a name without '<'.
  size_t i = 0;
  while (i < raw_word.size() && std::isdigit(static_cast<unsigned char>(raw_word[i]))) ++i;
  if (raw_word.substr(i, 2) != "<<") return std::nullopt;
  i += 2;
  Heredoc heredoc;
  if (i < raw_word.size() && raw_word[i] == '-') {
    heredoc.strip_tabs = true;
    ++i;
  }
  absl::string_view rest = raw_word.substr(i);
  if (rest.empty() || rest.find('<') != absl::string_view::npos) return std::nullopt;
  heredoc.name = Unquote(rest, escape);
  if (heredoc.name.empty()) return std::nullopt;
  // Any quoting of the delimiter turns expansion of the body off, as in the shell.
  heredoc.expand = rest.find_first_of("'\"") == absl::string_view::npos;
  return heredoc;
}

std::optional<std::vector<std::string>> ParseJsonStringArray(absl::string_view text) {
  if (text.empty() || text.front() != '[') return std::nullopt;
  nlohmann::json parsed =
      nlohmann::json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (parsed.is_discarded() || !parsed.is_array()) return std::nullopt;
  std::vector<std::string> out;
  out.reserve(parsed.size());
  for (const auto& element : parsed) {
    if (!element.is_string()) return std::nullopt;
    out.push_back(element.get<std::string>());
  }
  return out;
}

std::string QuoteIfNeeded(absl::string_view value) {
  bool needs = value.empty();
  for (char c : value) needs = needs || IsBlank(c) || c == '"' || c == '\'' || c == '\\';
  if (!needs) return std::string(value);
  std::string out = "\"";
  for (char c : value) {
    if (c == '"' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  out.push_back('"');
  return out;
}

}  // namespace slipway::build::dockerfile_internal
