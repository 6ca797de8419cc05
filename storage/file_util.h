#ifndef SLIPWAY_STORAGE_FILE_UTIL_H_
#define SLIPWAY_STORAGE_FILE_UTIL_H_

// Small POSIX helpers shared by the store: errno → absl::Status mapping and the write/fsync
// loops every durable file write needs. All functions are thread-safe (they hold no state).

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace slipway {

// Maps `err` (an errno value) to a status whose message names the operation and the path:
// ENOENT → NOT_FOUND, ENOSPC/EDQUOT → RESOURCE_EXHAUSTED, EACCES/EPERM/EROFS →
// PERMISSION_DENIED, EEXIST → ALREADY_EXISTS, EIO → DATA_LOSS, anything else → INTERNAL.
absl::Status ErrnoStatus(int err, absl::string_view op, absl::string_view path);

// write(2) until all of `data` is written, retrying EINTR and short writes.
absl::Status WriteAll(int fd, absl::string_view data, absl::string_view path);

// Opens `dir` and fsyncs it, so a rename or create inside it survives a crash.
absl::Status FsyncDir(const std::string& dir);

// Creates `dir` (one level) if absent; OK if it already exists as a directory.
absl::Status MakeDir(const std::string& dir);

// The whole file at `path` (small files: configs, caches, tokens, reports). Errors as
// ErrnoStatus: NOT_FOUND when it (or a parent directory) does not exist.
absl::StatusOr<std::string> ReadFileToString(const std::string& path);

}  // namespace slipway

#endif  // SLIPWAY_STORAGE_FILE_UTIL_H_
