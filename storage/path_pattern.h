#ifndef SLIPWAY_STORAGE_PATH_PATTERN_H_
#define SLIPWAY_STORAGE_PATH_PATTERN_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace slipway {

// Go's path.Match on "/"-separated paths (Docker's COPY wildcards): '*' any run of non-'/'
// characters, '?' one non-'/' character, '[...]' classes with ranges and '^' negation (as in Go,
// '!' is an ordinary member),
// '\\' escapes. INVALID_ARGUMENT for a malformed pattern (unclosed '[', trailing '\\').
absl::StatusOr<bool> PathMatch(absl::string_view pattern, absl::string_view path);

// .dockerignore rules (moby/patternmatcher), also used for COPY --exclude: each pattern is
// cleaned (a leading "/" and "./" dropped, trailing "/" dropped), "**" matches any number of
// directories, a leading '!' makes an exception, the last matching pattern wins, and a path is
// excluded when it or one of its parent directories is excluded. Paths are relative and
// "/"-separated. Immutable and thread-safe once built.
class IgnoreMatcher {
 public:
  // From a .dockerignore file: one pattern per line, '#' comment lines and blank lines skipped,
  // surrounding whitespace trimmed. INVALID_ARGUMENT "<source>:<line>: ..." for a bad pattern.
  static absl::StatusOr<IgnoreMatcher> Parse(absl::string_view text, absl::string_view source);
  static absl::StatusOr<IgnoreMatcher> FromPatterns(const std::vector<std::string>& patterns);

  bool Excluded(absl::string_view path) const;
  // Whether a walk may skip the excluded directory `dir` entirely: false when an exception
  // pattern could re-include something below it.
  bool CanSkipDirectory(absl::string_view dir) const;
  bool empty() const { return patterns_.empty(); }

 private:
  struct Compiled;
  struct Pattern {
    std::string text;      // cleaned, without '!'
    bool exception = false;
    std::shared_ptr<const Compiled> compiled;  // token form (implementation detail)
  };
  std::vector<Pattern> patterns_;
};

}  // namespace slipway

#endif  // SLIPWAY_STORAGE_PATH_PATTERN_H_
