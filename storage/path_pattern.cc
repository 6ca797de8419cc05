#include "storage/path_pattern.h"

#include <cstdint>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace slipway {
namespace {

// One UTF-8 code point from the front of `s` (advancing it). Invalid bytes come back one at a
// time as U+FFFD, like Go's decoder, so '?' still consumes exactly one unit.
char32_t NextRune(absl::string_view& s) {
  auto b0 = static_cast<unsigned char>(s[0]);
  int len = 1;
  char32_t r = b0;
  if (b0 >= 0xF0 && b0 < 0xF8) {
    len = 4;
    r = b0 & 0x07;
  } else if (b0 >= 0xE0) {
    len = 3;
    r = b0 & 0x0F;
  } else if (b0 >= 0xC0) {
    len = 2;
    r = b0 & 0x1F;
  } else if (b0 >= 0x80) {
    s.remove_prefix(1);
    return 0xFFFD;
  }
  if (static_cast<int>(s.size()) < len) {
    s.remove_prefix(1);
    return 0xFFFD;
  }
  for (int i = 1; i < len; ++i) {
    auto b = static_cast<unsigned char>(s[i]);
    if ((b & 0xC0) != 0x80) {
      s.remove_prefix(1);
      return 0xFFFD;
    }
    r = (r << 6) | (b & 0x3F);
  }
  s.remove_prefix(len);
  return r;
}

absl::Status BadPattern(absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat("syntax error in pattern: ", why));
}

// One character of a class (possibly escaped). '-' and ']' must be escaped in this position.
absl::StatusOr<char32_t> ClassChar(absl::string_view& p) {
  if (p.empty()) return BadPattern("unterminated '['");
  if (p[0] == '-' || p[0] == ']') return BadPattern("'-' or ']' must be escaped in a class");
  if (p[0] == '\\') {
    p.remove_prefix(1);
    if (p.empty()) return BadPattern("trailing '\\'");
  }
  return NextRune(p);
}

// Matches `r` against the class body after '[' in `p`; consumes through the closing ']'.
absl::StatusOr<bool> MatchClass(absl::string_view& p, char32_t r) {
  bool negate = false;
  if (!p.empty() && p[0] == '^') {
    negate = true;
    p.remove_prefix(1);
  }
  bool hit = false;
  int ranges = 0;
  while (true) {
    if (!p.empty() && p[0] == ']' && ranges > 0) {
      p.remove_prefix(1);
      break;
    }
    auto lo = ClassChar(p);
    if (!lo.ok()) return lo.status();
    char32_t hi = *lo;
    if (!p.empty() && p[0] == '-') {
      p.remove_prefix(1);
      auto h = ClassChar(p);
      if (!h.ok()) return h.status();
      hi = *h;
    }
    if (*lo <= r && r <= hi) hit = true;
    ++ranges;
  }
  return hit != negate;
}

// Matches one star-free chunk at the front of `name`. Returns the rest of `name` on a match;
// nullopt-like via `ok`. Errors only for a malformed chunk.
absl::StatusOr<bool> MatchChunk(absl::string_view chunk, absl::string_view& name) {
  // Go reports a bad pattern even when the name has already failed, so keep scanning the chunk
  // after a mismatch with `failed` set.
  bool failed = false;
  while (!chunk.empty()) {
    if (!failed && name.empty()) failed = true;
    char c = chunk[0];
    if (c == '[') {
      chunk.remove_prefix(1);
      char32_t r = 0;
      if (!failed) r = NextRune(name);
      auto hit = MatchClass(chunk, r);
      if (!hit.ok()) return hit.status();
      if (!failed && !*hit) failed = true;
    } else if (c == '?') {
      chunk.remove_prefix(1);
      if (!failed) {
        if (name[0] == '/') {
          failed = true;
        } else {
          NextRune(name);
        }
      }
    } else {
      if (c == '\\') {
        chunk.remove_prefix(1);
        if (chunk.empty()) return BadPattern("trailing '\\'");
      }
      if (!failed) {
        if (name[0] != chunk[0]) {
          failed = true;
        } else {
          name.remove_prefix(1);
        }
      }
      chunk.remove_prefix(1);
    }
  }
  return !failed;
}

// Splits the pattern into (leading stars?, chunk up to the next unescaped, unbracketed '*').
struct Chunk {
  bool star = false;
  absl::string_view text;
};
Chunk NextChunk(absl::string_view& pattern) {
  Chunk out;
  while (!pattern.empty() && pattern[0] == '*') {
    pattern.remove_prefix(1);
    out.star = true;
  }
  bool in_class = false;
  size_t i = 0;
  for (; i < pattern.size(); ++i) {
    char c = pattern[i];
    if (c == '\\') {
      if (i + 1 < pattern.size()) ++i;
    } else if (c == '[') {
      in_class = true;
    } else if (c == ']') {
      in_class = false;
    } else if (c == '*' && !in_class) {
      break;
    }
  }
  out.text = pattern.substr(0, i);
  pattern.remove_prefix(i);
  return out;
}

// Syntax check of the rest of a pattern after a mismatch.
absl::Status ValidateRest(absl::string_view pattern) {
  while (!pattern.empty()) {
    Chunk c = NextChunk(pattern);
    absl::string_view empty;
    auto r = MatchChunk(c.text, empty);
    if (!r.ok()) return r.status();
  }
  return absl::OkStatus();
}

// Go-style path.Match on "/"-free or "/"-containing names.
absl::StatusOr<bool> GoMatch(absl::string_view pattern, absl::string_view name) {
  while (!pattern.empty()) {
    Chunk c = NextChunk(pattern);
    if (c.star && c.text.empty()) return name.find('/') == absl::string_view::npos;
    // Leftmost match of the chunk; the last chunk must consume the whole name.
    absl::string_view rest = name;
    auto ok = MatchChunk(c.text, rest);
    if (!ok.ok()) return ok.status();
    if (*ok && (rest.empty() || !pattern.empty())) {
      name = rest;
      continue;
    }
    bool advanced = false;
    if (c.star) {
      for (size_t i = 0; i < name.size() && name[i] != '/'; ++i) {
        rest = name.substr(i + 1);
        auto m = MatchChunk(c.text, rest);
        if (!m.ok()) return m.status();
        if (!*m) continue;
        if (pattern.empty() && !rest.empty()) continue;
        name = rest;
        advanced = true;
        break;
      }
    }
    if (advanced) continue;
    absl::Status s = ValidateRest(pattern);
    if (!s.ok()) return s;
    return false;
  }
  return name.empty();
}

// filepath.Clean for "/"-separated paths.
std::string CleanPath(absl::string_view p) {
  bool rooted = !p.empty() && p[0] == '/';
  std::vector<std::string> out;
  for (absl::string_view part : absl::StrSplit(p, '/')) {
    if (part.empty() || part == ".") continue;
    if (part == "..") {
      if (!out.empty() && out.back() != "..") {
        out.pop_back();
      } else if (!rooted) {
        out.emplace_back("..");
      }
      continue;
    }
    out.emplace_back(part);
  }
  std::string joined = absl::StrJoin(out, "/");
  if (rooted) return "/" + joined;
  return joined.empty() ? "." : joined;
}

}  // namespace

absl::StatusOr<bool> PathMatch(absl::string_view pattern, absl::string_view path) {
  return GoMatch(pattern, path);
}

// ---------------------------------------------------------------------------------------------
// IgnoreMatcher: a pattern is a token list. '*' and '?' stay within one path component, "**"
// followed by more pattern matches any number of leading directories (including none), a
// trailing "**" matches everything. Matching is a memoized backtracking search, so no pattern
// can make it exponential.

namespace {

enum class Tok : char { kLiteral, kStar, kQuestion, kClass, kAnyDirs, kAnyRest };

struct Token {
  Tok kind;
  std::string text;  // literal byte or class body (without brackets)
};

absl::StatusOr<std::vector<Token>> Tokenize(absl::string_view p) {
  std::vector<Token> out;
  while (!p.empty()) {
    char c = p[0];
    if (c == '*') {
      if (p.size() > 1 && p[1] == '*') {
        p.remove_prefix(2);
        if (!p.empty() && p[0] == '/') p.remove_prefix(1);
        out.push_back({p.empty() ? Tok::kAnyRest : Tok::kAnyDirs, ""});
      } else {
        p.remove_prefix(1);
        out.push_back({Tok::kStar, ""});
      }
    } else if (c == '?') {
      p.remove_prefix(1);
      out.push_back({Tok::kQuestion, ""});
    } else if (c == '[') {
      // Find the closing ']' honouring escapes; the body was validated by PathMatch already.
      size_t i = 1;
      if (i < p.size() && p[i] == '^') ++i;
      bool first = true;
      for (; i < p.size(); ++i) {
        if (p[i] == '\\') {
          ++i;
        } else if (p[i] == ']' && !first) {
          break;
        }
        first = false;
      }
      if (i >= p.size()) return BadPattern("unterminated '['");
      out.push_back({Tok::kClass, std::string(p.substr(1, i - 1))});
      p.remove_prefix(i + 1);
    } else {
      if (c == '\\') {
        p.remove_prefix(1);
        if (p.empty()) return BadPattern("trailing '\\'");
      }
      out.push_back({Tok::kLiteral, std::string(1, p[0])});
      p.remove_prefix(1);
    }
  }
  return out;
}

class TokenMatcher {
 public:
  TokenMatcher(const std::vector<Token>& toks, absl::string_view name)
      : toks_(toks), name_(name), memo_((toks.size() + 1) * (name.size() + 1), 0) {}

  bool Match(size_t t, size_t n) {
    char& m = memo_[t * (name_.size() + 1) + n];
    if (m != 0) return m == 1;
    bool r = Compute(t, n);
    m = r ? 1 : 2;
    return r;
  }

 private:
  bool Compute(size_t t, size_t n) {
    if (t == toks_.size()) return n == name_.size();
    const Token& tok = toks_[t];
    switch (tok.kind) {
      case Tok::kLiteral:
        return n < name_.size() && name_[n] == tok.text[0] && Match(t + 1, n + 1);
      case Tok::kStar:
        for (size_t k = n;; ++k) {
          if (Match(t + 1, k)) return true;
          if (k >= name_.size() || name_[k] == '/') return false;
        }
      case Tok::kQuestion: {
        if (n >= name_.size() || name_[n] == '/') return false;
        absl::string_view rest = name_.substr(n);
        NextRune(rest);
        return Match(t + 1, name_.size() - rest.size());
      }
      case Tok::kClass: {
        if (n >= name_.size()) return false;
        absl::string_view rest = name_.substr(n);
        char32_t r = NextRune(rest);
        absl::string_view body = tok.text;
        std::string closed = std::string(body) + "]";
        absl::string_view cls = closed;
        auto hit = MatchClass(cls, r);
        return hit.ok() && *hit && Match(t + 1, name_.size() - rest.size());
      }
      case Tok::kAnyRest:
        return true;
      case Tok::kAnyDirs:
        // "(.*/)?": nothing, or anything ending in a '/'.
        if (Match(t + 1, n)) return true;
        for (size_t k = n; k < name_.size(); ++k) {
          if (name_[k] == '/' && Match(t + 1, k + 1)) return true;
        }
        return false;
    }
    return false;
  }

  const std::vector<Token>& toks_;
  absl::string_view name_;
  std::vector<char> memo_;  // 0 unknown, 1 match, 2 no match
};

bool TokensMatch(const std::vector<Token>& toks, absl::string_view name) {
  TokenMatcher m(toks, name);
  return m.Match(0, 0);
}

}  // namespace

struct IgnoreMatcher::Compiled {
  std::vector<Token> tokens;
};

absl::StatusOr<IgnoreMatcher> IgnoreMatcher::FromPatterns(
    const std::vector<std::string>& patterns) {
  IgnoreMatcher m;
  for (size_t i = 0; i < patterns.size(); ++i) {
    absl::string_view p = absl::StripAsciiWhitespace(patterns[i]);
    if (p.empty()) continue;
    Pattern pat;
    if (p[0] == '!') {
      pat.exception = true;
      p = absl::StripAsciiWhitespace(p.substr(1));
      if (p.empty()) {
        return absl::InvalidArgumentError(
            absl::StrCat("pattern ", i + 1, ": illegal exclusion pattern \"!\""));
      }
    }
    std::string cleaned = CleanPath(p);
    if (cleaned.size() > 1 && cleaned[0] == '/') cleaned.erase(0, 1);
    // Docker validates each pattern with filepath.Match; do the same.
    auto valid = PathMatch(cleaned, ".");
    if (!valid.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("pattern ", i + 1, " \"", patterns[i], "\": ", valid.status().message()));
    }
    auto toks = Tokenize(cleaned);
    if (!toks.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("pattern ", i + 1, " \"", patterns[i], "\": ", toks.status().message()));
    }
    pat.text = std::move(cleaned);
    pat.compiled = std::make_shared<const Compiled>(Compiled{*std::move(toks)});
    m.patterns_.push_back(std::move(pat));
  }
  return m;
}

absl::StatusOr<IgnoreMatcher> IgnoreMatcher::Parse(absl::string_view text,
                                                   absl::string_view source) {
  std::vector<std::string> lines;
  std::vector<int> line_numbers;
  int line_no = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    ++line_no;
    absl::string_view l = absl::StripAsciiWhitespace(line);
    if (l.empty() || l[0] == '#') continue;
    lines.emplace_back(l);
    line_numbers.push_back(line_no);
  }
  IgnoreMatcher m;
  for (size_t i = 0; i < lines.size(); ++i) {
    auto one = FromPatterns({lines[i]});
    if (!one.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat(source, ":", line_numbers[i], ": ", one.status().message()));
    }
    for (auto& p : one->patterns_) m.patterns_.push_back(std::move(p));
  }
  return m;
}

bool IgnoreMatcher::Excluded(absl::string_view path) const {
  if (patterns_.empty()) return false;
  // The last pattern matching the path or one of its parent directories decides.
  for (auto it = patterns_.rbegin(); it != patterns_.rend(); ++it) {
    const auto& toks = it->compiled->tokens;
    bool hit = TokensMatch(toks, path);
    for (size_t pos = path.find('/'); !hit && pos != absl::string_view::npos;
         pos = path.find('/', pos + 1)) {
      hit = TokensMatch(toks, path.substr(0, pos));
    }
    if (hit) return !it->exception;
  }
  return false;
}

bool IgnoreMatcher::CanSkipDirectory(absl::string_view dir) const {
  // Conservative: the directory may be skipped only when no exception pattern can match a path
  // strictly below it. Compared component by component; "**" could match anything.
  std::vector<absl::string_view> dir_parts = absl::StrSplit(dir, '/');
  for (const auto& p : patterns_) {
    if (!p.exception) continue;
    if (p.text.find("**") != std::string::npos) return false;
    std::vector<absl::string_view> parts = absl::StrSplit(p.text, '/');
    if (parts.size() <= dir_parts.size()) continue;
    bool prefix = true;
    for (size_t i = 0; i < dir_parts.size() && prefix; ++i) {
      auto m = PathMatch(parts[i], dir_parts[i]);
      prefix = m.ok() && *m;
    }
    if (prefix) return false;
  }
  return true;
}

}  // namespace slipway
