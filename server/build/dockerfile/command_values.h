#ifndef SLIPWAY_SERVER_BUILD_DOCKERFILE_COMMAND_VALUES_H_
#define SLIPWAY_SERVER_BUILD_DOCKERFILE_COMMAND_VALUES_H_

// Internal to the Dockerfile frontend: the value syntaxes instructions use. Errors are
// INVALID_ARGUMENT without a location (the caller prefixes "<file>:<line>: ").

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace slipway::build::dockerfile_internal {

// A Go duration ("300ms", "1m30s", "1.5h", "-2s", "0"): nanoseconds.
absl::StatusOr<int64_t> ParseGoDuration(absl::string_view text);

// An EXPOSE word: "80" -> {"80/tcp"}, "53/UDP" -> {"53/udp"}, "8000-8002" -> three ports.
absl::StatusOr<std::vector<std::string>> NormalizeExposePort(absl::string_view text);

// An octal mode as --chmod takes it ("755", "0644"), at most 07777.
absl::StatusOr<uint32_t> ParseOctalMode(absl::string_view text);

// "true"/"false" for a boolean flag; a bare flag (no value) is true.
absl::StatusOr<bool> ParseBoolFlag(absl::string_view name, bool has_value, absl::string_view value);

}  // namespace slipway::build::dockerfile_internal

#endif  // SLIPWAY_SERVER_BUILD_DOCKERFILE_COMMAND_VALUES_H_
