#ifndef SLIPWAY_STORAGE_JSON_UTIL_H_
#define SLIPWAY_STORAGE_JSON_UTIL_H_

// nlohmann::json behind absl::Status: parsing never throws, and errors name the field at fault
// ("layers[2].digest: ..."). Also the OCI descriptor ⇄ JSON mapping shared by manifests, indexes
// and archive formats. All functions are thread-safe.

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "nlohmann/json.hpp"
#include "storage/descriptor.h"

namespace slipway {

// Documents nested deeper than this are refused before nlohmann parses them: its parser and
// destructor recurse, and a few MiB of '[' would overflow the stack.
inline constexpr int kMaxJsonDepth = 64;

// Parses `bytes` as a JSON object. INVALID_ARGUMENT naming `what` for invalid JSON, a non-object
// or nesting deeper than kMaxJsonDepth.
absl::StatusOr<nlohmann::json> ParseJsonObject(absl::string_view bytes, absl::string_view what);

// INVALID_ARGUMENT "<where>: <problem>".
absl::Status JsonError(absl::string_view where, absl::string_view problem);

// obj[key] as a string; "" when absent (or null); INVALID_ARGUMENT "<where>.<key> ..." when it
// is present but not a string.
absl::StatusOr<std::string> JsonOptionalString(const nlohmann::json& obj, absl::string_view key,
                                               absl::string_view where);

// A short printable rendering of a value for error messages.
std::string JsonSnippet(const nlohmann::json& value);

// An OCI descriptor: mediaType non-empty, digest via Digest::Parse, size an integer >= 0,
// optional annotations (string → string). Other fields (urls, data, artifactType, platform) are
// ignored. INVALID_ARGUMENT naming `where` and the field.
absl::StatusOr<Descriptor> ParseDescriptor(const nlohmann::json& j, absl::string_view where);
// {"annotations"?, "digest", "mediaType", "size"}; annotations only when non-empty.
nlohmann::json DescriptorToJson(const Descriptor& d);

// Compact dump (no whitespace, keys sorted by nlohmann's std::map); never throws (invalid
// UTF-8 is replaced).
std::string DumpCompact(const nlohmann::json& value);

}  // namespace slipway

#endif  // SLIPWAY_STORAGE_JSON_UTIL_H_
