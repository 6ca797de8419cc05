#ifndef SLIPWAY_SERVER_BUILD_DOCKERFILE_LINE_READER_H_
#define SLIPWAY_SERVER_BUILD_DOCKERFILE_LINE_READER_H_

// Internal to the Dockerfile frontend: turns a Dockerfile's text into logical lines (one per
// instruction, continuations joined) and reads heredoc bodies, as Docker's parser does.

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace slipway::build::dockerfile_internal {

struct LogicalLine {
  std::string text;    // continuation escapes removed, comment/blank continuation lines dropped
  int start_line = 0;  // 1-based
  int end_line = 0;
};

// Not thread-safe; holds a view of the text it was given (which must outlive it).
class LineReader {
 public:
  explicit LineReader(absl::string_view text);

  // The directives at the top (`# name=value`), consumed; stops at the first other line. Only
  // names in `known` are directives: an unknown one ends the directive block (a plain comment).
  // Returns name (lower-cased) / value pairs in order, with their line numbers.
  struct Directive {
    std::string name, value;
    int line = 0;
  };
  std::vector<Directive> ReadDirectives(const std::vector<std::string>& known);

  // The next instruction line (skipping comments and blank lines), or nullopt at the end.
  // `escape` ends a line that continues on the next one.
  std::optional<LogicalLine> Next(char escape);

  // Reads a heredoc body up to its delimiter line; nullopt when the file ends first. With
  // `strip_tabs`, leading tabs are removed from the body lines and the delimiter line.
  std::optional<std::string> ReadHeredoc(const std::string& name, bool strip_tabs);

  int last_line() const { return static_cast<int>(next_); }  // 1-based number of the last read

 private:
  std::vector<absl::string_view> lines_;  // without '\n' / '\r'
  size_t next_ = 0;                       // index of the next unread line
};

}  // namespace slipway::build::dockerfile_internal

#endif  // SLIPWAY_SERVER_BUILD_DOCKERFILE_LINE_READER_H_
