#ifndef SLIPWAY_CLIENT_ATOMIC_FILE_H_
#define SLIPWAY_CLIENT_ATOMIC_FILE_H_

#include <sys/types.h>

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace slipway::client {

// A file written so that readers see either nothing (or the old file) or the whole new one:
// bytes go to "<path>.tmp-XXXXXX" in the same directory, Commit() fsyncs, renames over `path`
// and fsyncs the directory. Destroyed uncommitted, the temp file is removed. Not thread-safe.
class AtomicFile {
 public:
  // Creates missing parent directories. Errors name the path (PERMISSION_DENIED, NOT_FOUND, ...).
  static absl::StatusOr<std::unique_ptr<AtomicFile>> Create(const std::string& path,
                                                            mode_t mode = 0644);
  ~AtomicFile();
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  absl::Status Append(absl::string_view data);
  absl::Status Commit();

  const std::string& path() const { return path_; }

 private:
  AtomicFile(std::string path, std::string temp, int fd)
      : path_(std::move(path)), temp_(std::move(temp)), fd_(fd) {}
  std::string path_;
  std::string temp_;
  int fd_;
  bool committed_ = false;
};

// Create + Append(contents) + Commit.
absl::Status WriteFileAtomically(const std::string& path, absl::string_view contents);

// Creates `dir` and its missing parents; errors name the directory.
absl::Status CreateDirectories(const std::string& dir);

}  // namespace slipway::client

#endif  // SLIPWAY_CLIENT_ATOMIC_FILE_H_
