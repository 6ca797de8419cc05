#ifndef SLIPWAY_SERVER_BUILD_DOCKERFILE_WORDS_H_
#define SLIPWAY_SERVER_BUILD_DOCKERFILE_WORDS_H_

// Internal to the Dockerfile frontend: word splitting before any expansion, shared by the
// parser (heredoc markers, ENV/LABEL/ARG validation) and the commands (ENV/LABEL key=value).

#include <optional>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "server/build/dockerfile/instruction.h"

namespace slipway::build::dockerfile_internal {

// Splits on whitespace outside quotes, keeping quotes and escapes in the words (Docker's
// parseWords): `a="b c" d\ e` -> {`a="b c"`, `d\ e`}. Never fails: an unterminated quote runs to
// the end of the text.
std::vector<std::string> SplitRawWords(absl::string_view text, char escape);

// Splits on runs of blanks only (no quote handling): FROM, the shell form of COPY/ADD/VOLUME.
std::vector<std::string> SplitWhitespace(absl::string_view text);

// A heredoc marker word (`<<EOF`, `<<-EOF`, `<<"EOF"`, `3<<EOF`) as a Heredoc without content;
// nullopt when `raw_word` (quotes kept, as SplitRawWords returns it) is not one.
std::optional<Heredoc> ParseHeredocMarker(absl::string_view raw_word, char escape);

// Removes quotes and escapes from a word without expanding variables (heredoc names).
std::string Unquote(absl::string_view word, char escape);

// Parses `text` as a JSON array of strings; nullopt when it is not exactly that.
std::optional<std::vector<std::string>> ParseJsonStringArray(absl::string_view text);

// `value` as is when it has no blanks or quotes, else double-quoted with `"` and `\` escaped:
// canonical instruction text for cache keys.
std::string QuoteIfNeeded(absl::string_view value);

}  // namespace slipway::build::dockerfile_internal

#endif  // SLIPWAY_SERVER_BUILD_DOCKERFILE_WORDS_H_
