#ifndef SLIPWAY_SERVER_BUILD_LAYER_UPPER_DIR_H_
#define SLIPWAY_SERVER_BUILD_LAYER_UPPER_DIR_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "server/build/layer/layer_entry.h"

namespace slipway::build {

struct UpperDirOptions {
  // Clamp every mtime to this (Unix seconds) when set, as SOURCE_DATE_EPOCH asks.
  std::optional<int64_t> source_date_epoch;
};

// The layer an overlayfs upper directory stands for, as entries WriteLayer takes: every file,
// directory, symlink, device and fifo in `upper_dir` with its metadata and xattrs
// (trusted.overlay.* dropped; security.capability and user.* kept), hard links within the
// upper dir as kHardlink entries pointing at the first path of the group, and overlay
// whiteouts turned into OCI whiteouts:
//   - a 0:0 character device `x`        → a `.wh.x` regular empty file entry
//   - a directory with trusted.overlay.opaque=y → the directory, then `<dir>/.wh..wh..opq`
// Only the upper directory is walked — never the lower layers — so the cost is proportional
// to what the RUN changed, not to the size of the image. Entries are in WriteLayer order
// (sorted by path, parents first). Regular files get source_path = their path in upper_dir.
// Whiteout files are mode 0, owned 0:0, with the whiteout's (or opaque directory's) mtime.
// Sockets are skipped (a tar cannot hold them); security.selinux (the host's label) is dropped.
// A newer kernel's "xwhiteout" (a regular file with trusted.overlay.whiteout) is a whiteout too.
// Thread-safe (no shared state); the upper dir must not change meanwhile (the RUN is over and
// the overlay unmounted).
//
// Errors: NOT_FOUND (upper_dir missing), INVALID_ARGUMENT (an overlay feature the layer
// format cannot express: a trusted.overlay.redirect or metacopy xattr — mount with
// redirect_dir=off,metacopy=off,index=off), INTERNAL for I/O errors (naming the path).
absl::StatusOr<std::vector<LayerEntry>> EntriesFromUpperDir(const std::string& upper_dir,
                                                            const UpperDirOptions& options);

}  // namespace slipway::build

#endif  // SLIPWAY_SERVER_BUILD_LAYER_UPPER_DIR_H_
