#include "server/build/dockerfile/variable_expander.h"

#include <cctype>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "storage/status_macros.h"

namespace slipway::build {
namespace {

// Collects the words of an expansion: unquoted blanks split, quoted text and escaped characters
// never do, and a quote opens a word even when what it encloses is empty.
class WordCollector {
 public:
  void AddChar(char c) {  // unquoted: blanks separate words
    if (std::isspace(static_cast<unsigned char>(c))) {
      Finish();
    } else {
      AddRawChar(c);
    }
  }
  void AddRawChar(char c) {
    word_.push_back(c);
    in_word_ = true;
  }
  void AddString(absl::string_view s) {
    for (char c : s) AddChar(c);
  }
  void AddRawString(absl::string_view s) {
    word_.append(s.data(), s.size());
    in_word_ = true;
  }
  std::vector<std::string> Words() {
    Finish();
    return std::move(words_);
  }

 private:
  void Finish() {
    if (in_word_) words_.push_back(std::move(word_));
    word_.clear();
    in_word_ = false;
  }
  std::string word_;
  bool in_word_ = false;
  std::vector<std::string> words_;
};

// One pass of Docker's shell-word lexer over `input`.
class Lexer {
 public:
  Lexer(absl::string_view input, const VariableLookup& vars, const ExpandOptions& options)
      : in_(input), vars_(vars), options_(options) {}

  struct Result {
    std::string word;                // everything, unsplit
    std::vector<std::string> words;  // split on unquoted blanks
  };

  // Processes until `stop` (consumed) or the end of the input when stop == 0.
  absl::StatusOr<Result> ProcessUntil(char stop) {
    Result result;
    WordCollector words;
    const char escape = options_.escape;
    while (pos_ < in_.size()) {
      const char c = in_[pos_];
      if (stop != 0 && c == stop) {
        ++pos_;
        result.words = words.Words();
        return result;
      }
      if (options_.keep_quotes && c != '$') {
        ++pos_;
        if (c == escape && pos_ < in_.size() && in_[pos_] == '$') {
          result.word.push_back(in_[pos_++]);
        } else {
          result.word.push_back(c);
        }
        continue;
      }
      if (c == '\'') {
        SLIPWAY_ASSIGN_OR_RETURN(std::string quoted, SingleQuoted());
        result.word += quoted;
        words.AddRawString(quoted);
      } else if (c == '"') {
        SLIPWAY_ASSIGN_OR_RETURN(std::string quoted, DoubleQuoted());
        result.word += quoted;
        words.AddRawString(quoted);
      } else if (c == escape) {
        ++pos_;
        if (pos_ == in_.size()) break;  // a trailing escape is dropped
        result.word.push_back(in_[pos_]);
        words.AddRawChar(in_[pos_]);
        ++pos_;
      } else if (c == '$') {
        SLIPWAY_ASSIGN_OR_RETURN(std::string value, Dollar());
        result.word += value;
        words.AddString(value);  // unquoted expansions are split, as Docker does
      } else {
        ++pos_;
        result.word.push_back(c);
        words.AddChar(c);
      }
    }
    if (stop != 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("unexpected end of statement while looking for matching ",
                       std::string(1, stop), " in \"", in_, "\""));
    }
    result.words = words.Words();
    return result;
  }

 private:
  absl::StatusOr<std::string> SingleQuoted() {
    size_t close = in_.find('\'', pos_ + 1);
    if (close == absl::string_view::npos) {
      return absl::InvalidArgumentError(absl::StrCat(
          "unexpected end of statement while looking for matching single-quote in \"", in_, "\""));
    }
    std::string out(in_.substr(pos_ + 1, close - pos_ - 1));
    pos_ = close + 1;
    return out;
  }

  absl::StatusOr<std::string> DoubleQuoted() {
    ++pos_;
    std::string out;
    while (pos_ < in_.size()) {
      const char c = in_[pos_];
      if (c == '"') {
        ++pos_;
        return out;
      }
      if (c == '$') {
        SLIPWAY_ASSIGN_OR_RETURN(std::string value, Dollar());
        out += value;
        continue;
      }
      ++pos_;
      if (c == options_.escape && pos_ < in_.size()) {
        // Inside double quotes only ", $ and the escape itself can be escaped.
        const char next = in_[pos_];
        if (next == '"' || next == '$' || next == options_.escape) {
          out.push_back(next);
          ++pos_;
          continue;
        }
      }
      out.push_back(c);
    }
    return absl::InvalidArgumentError(absl::StrCat(
        "unexpected end of statement while looking for matching double-quote in \"", in_, "\""));
  }

  std::string Name() {
    std::string name;
    if (pos_ < in_.size() && std::isdigit(static_cast<unsigned char>(in_[pos_]))) {
      while (pos_ < in_.size() && std::isdigit(static_cast<unsigned char>(in_[pos_]))) {
        name.push_back(in_[pos_++]);
      }
      return name;
    }
    if (pos_ < in_.size() &&
        absl::string_view("@*#?-$!").find(in_[pos_]) != absl::string_view::npos) {
      return std::string(1, in_[pos_++]);
    }
    while (pos_ < in_.size() &&
           (std::isalnum(static_cast<unsigned char>(in_[pos_])) || in_[pos_] == '_')) {
      name.push_back(in_[pos_++]);
    }
    return name;
  }

  std::optional<std::string> Get(const std::string& name) {
    if (options_.used != nullptr) options_.used->insert(name);
    return vars_ ? vars_(name) : std::nullopt;
  }

  absl::Status BadSubstitution() {
    return absl::InvalidArgumentError(absl::StrCat("bad substitution in \"", in_, "\""));
  }

  absl::StatusOr<std::string> Dollar() {
    ++pos_;  // '$'
    if (pos_ == in_.size()) return std::string("$");
    if (in_[pos_] != '{') {
      std::string name = Name();
      if (name.empty()) return std::string("$");
      return Get(name).value_or("");
    }
    ++pos_;  // '{'
    std::string name = Name();
    if (pos_ == in_.size()) {
      return absl::InvalidArgumentError(absl::StrCat("missing '}' in \"", in_, "\""));
    }
    if (name.empty()) return BadSubstitution();
    char c = in_[pos_++];
    if (c == '}') return Get(name).value_or("");
    const bool colon = c == ':';
    if (colon) {
      if (pos_ == in_.size()) return BadSubstitution();
      c = in_[pos_++];
    }
    if (c != '-' && c != '+' && c != '?') {
      return absl::InvalidArgumentError(absl::StrCat("unsupported modifier (", std::string(1, c),
                                                     ") in substitution \"", in_, "\""));
    }
    // The word after the modifier is itself lexed (quotes, escapes, nested expansions).
    SLIPWAY_ASSIGN_OR_RETURN(Result word, ProcessUntil('}'));
    std::optional<std::string> value = Get(name);
    // With ':' an empty value counts as unset.
    const bool present = value.has_value() && (!colon || !value->empty());
    switch (c) {
      case '-':
        return present ? *value : word.word;
      case '+':
        return present ? word.word : std::string();
      default:  // '?'
        if (present) return *value;
        return absl::InvalidArgumentError(absl::StrCat(
            name, ": ",
            word.word.empty() ? (colon ? "parameter null or not set" : "parameter not set")
                              : word.word));
    }
  }

  absl::string_view in_;
  size_t pos_ = 0;
  const VariableLookup& vars_;
  const ExpandOptions& options_;
};

}  // namespace

absl::StatusOr<std::string> ExpandWord(absl::string_view word, const VariableLookup& vars,
                                       const ExpandOptions& options) {
  Lexer lexer(word, vars, options);
  SLIPWAY_ASSIGN_OR_RETURN(Lexer::Result result, lexer.ProcessUntil(0));
  return std::move(result.word);
}

absl::StatusOr<std::vector<std::string>> ExpandWords(absl::string_view text,
                                                     const VariableLookup& vars,
                                                     const ExpandOptions& options) {
  Lexer lexer(text, vars, options);
  SLIPWAY_ASSIGN_OR_RETURN(Lexer::Result result, lexer.ProcessUntil(0));
  return std::move(result.words);
}

}  // namespace slipway::build
