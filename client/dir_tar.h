#ifndef SLIPWAY_CLIENT_DIR_TAR_H_
#define SLIPWAY_CLIENT_DIR_TAR_H_

#include <functional>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace slipway::client {

// Streams `dir` (e.g. an OCI image layout) as a tar, produced on the fly and never held whole:
// entries in sorted order with paths relative to `dir`, regular files, directories and symlinks
// (as symlinks, never followed); other file types are refused. `emit` receives the tar bytes in
// pieces and may fail (e.g. the server went away), which stops the walk.
// INVALID_ARGUMENT / UNAVAILABLE naming the path at fault.
absl::Status TarDirectory(const std::string& dir,
                          const std::function<absl::Status(absl::string_view)>& emit);

}  // namespace slipway::client

#endif  // SLIPWAY_CLIENT_DIR_TAR_H_
