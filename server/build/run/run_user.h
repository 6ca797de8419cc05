#ifndef SLIPWAY_SERVER_BUILD_RUN_RUN_USER_H_
#define SLIPWAY_SERVER_BUILD_RUN_RUN_USER_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "server/build/layer/source_tree.h"

namespace slipway::build {

struct RunUser {
  uint32_t uid = 0, gid = 0;
  std::vector<uint32_t> supplementary_gids;
  std::string home = "/";  // HOME when the environment has none
};

// Resolves the image's USER ("", "name", "uid", "name:group", "uid:gid") against its
// /etc/passwd and /etc/group, as Docker's runtime does for a RUN: a name must exist in passwd
// (INVALID_ARGUMENT "unable to find user NAME: no matching entries in passwd file"); a numeric
// uid that passwd lacks runs with gid 0; without an explicit group the user's primary group
// and the groups listing the user apply; "" is root.
absl::StatusOr<RunUser> ResolveRunUser(const std::string& user, const SourceTree& rootfs);

}  // namespace slipway::build

#endif  // SLIPWAY_SERVER_BUILD_RUN_RUN_USER_H_
