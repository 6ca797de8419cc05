#ifndef SLIPWAY_TESTS_BUILDDIFF_ROOTFS_SNAPSHOT_H_
#define SLIPWAY_TESTS_BUILDDIFF_ROOTFS_SNAPSHOT_H_

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <string>

#include "absl/status/statusor.h"

namespace slipway::testing {

// What the differential tests compare about one filesystem entry. Directory mtimes are not
// recorded at all (they move whenever a later step adds a child, and buildah's "now" differs
// from any other builder's); other mtimes are kept in whole seconds so a case can opt in.
struct FsEntry {
  char type = '?';        // 'f' file, 'd' directory, 'l' symlink, 'c'/'b' device, 'p' fifo
  uint32_t mode = 0;      // permission bits incl. setuid/setgid/sticky (07777)
  uint32_t uid = 0, gid = 0;
  int64_t size = 0;       // regular files only (0 otherwise)
  std::string sha256;     // regular files: hex of the content
  std::string link;       // symlinks: target as stored
  std::string hardlink_group;  // regular files with more than one link: the smallest path
                               // of the group (in this tree); empty otherwise
  int64_t mtime = 0;      // seconds; 0 for directories
};

// Path ("/etc/passwd", root is not an entry) → entry.
using FsSnapshot = std::map<std::string, FsEntry>;

// Walks `root` with lstat (never following symlinks), hashing regular files as it goes
// (streamed, OpenSSL). Hard links are grouped by (device, inode). Errors name the path.
absl::StatusOr<FsSnapshot> SnapshotTree(const std::string& root);

// "drwxr-sr-x"-style text for a type and mode, for readable diffs.
std::string ModeString(char type, uint32_t mode);

}  // namespace slipway::testing

#endif  // SLIPWAY_TESTS_BUILDDIFF_ROOTFS_SNAPSHOT_H_
