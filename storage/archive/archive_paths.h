#ifndef SLIPWAY_STORAGE_ARCHIVE_ARCHIVE_PATHS_H_
#define SLIPWAY_STORAGE_ARCHIVE_ARCHIVE_PATHS_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace slipway {

// Normalizes a tar entry name: "./a//b/" → "a/b", "./" → "". Everything is resolved lexically
// inside the archive and never touches a filesystem. INVALID_ARGUMENT (naming the entry) for
// absolute names and any ".." component: archives that try to reach outside themselves are
// refused, not repaired.
absl::StatusOr<std::string> NormalizeEntryName(absl::string_view name);

// Resolves a symlink target relative to the directory of the link (both inside the archive),
// e.g. link "abc/layer.tar" → "../def/layer.tar" gives "def/layer.tar". INVALID_ARGUMENT for
// absolute targets and targets that climb above the archive root.
absl::StatusOr<std::string> ResolveLinkTarget(absl::string_view link_name,
                                              absl::string_view target);

// A short, printable rendering of untrusted text for error messages.
std::string QuoteForError(absl::string_view text);

}  // namespace slipway

#endif  // SLIPWAY_STORAGE_ARCHIVE_ARCHIVE_PATHS_H_
