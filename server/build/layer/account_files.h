#ifndef SLIPWAY_SERVER_BUILD_LAYER_ACCOUNT_FILES_H_
#define SLIPWAY_SERVER_BUILD_LAYER_ACCOUNT_FILES_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace slipway::build {

// Helpers for an image's /etc/passwd and /etc/group (passwd(5), group(5)), shared by COPY
// --chown and RUN's USER.

// Account files are small; a bigger one is not an account file worth parsing.
constexpr int64_t kMaxAccountFileBytes = 4 << 20;

// A decimal id with nothing else in it ("+1", " 1" and "" are not ids).
std::optional<uint32_t> ParseAccountId(absl::string_view text);

// The colon-separated fields of the first non-comment line of `file` whose field `field`
// (0 = name, 2 = id) equals `value`, or nullopt.
std::optional<std::vector<std::string>> FindAccountEntry(absl::string_view file,
                                                         absl::string_view value,
                                                         int field = 0);

// The gids of every group in `group_file` whose member list (field 3) names `user`.
std::vector<uint32_t> SupplementaryGroups(absl::string_view group_file, absl::string_view user);

}  // namespace slipway::build

#endif  // SLIPWAY_SERVER_BUILD_LAYER_ACCOUNT_FILES_H_
