#include "client/atomic_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <system_error>

#include "absl/strings/str_cat.h"
#include "storage/file_util.h"
#include "storage/status_macros.h"

namespace slipway::client {

absl::Status CreateDirectories(const std::string& dir) {
  if (dir.empty()) return absl::OkStatus();
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return ErrnoStatus(ec.value(), "create directory", dir);
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<AtomicFile>> AtomicFile::Create(const std::string& path,
                                                               mode_t mode) {
  if (path.empty()) return absl::InvalidArgumentError("empty output path");
  std::filesystem::path p(path);
  if (p.has_parent_path()) SLIPWAY_RETURN_IF_ERROR(CreateDirectories(p.parent_path().string()));
  std::string temp = path + ".tmp-XXXXXX";
  int fd = ::mkostemp(temp.data(), O_CLOEXEC);
  if (fd < 0) return ErrnoStatus(errno, "create", temp);
  ::fchmod(fd, mode);
  return std::unique_ptr<AtomicFile>(new AtomicFile(path, temp, fd));
}

AtomicFile::~AtomicFile() {
  if (fd_ >= 0) ::close(fd_);
  if (!committed_) ::unlink(temp_.c_str());
}

absl::Status AtomicFile::Append(absl::string_view data) {
  if (fd_ < 0) return absl::FailedPreconditionError(absl::StrCat(path_, ": already closed"));
  return WriteAll(fd_, data, path_);
}

absl::Status AtomicFile::Commit() {
  if (fd_ < 0) return absl::FailedPreconditionError(absl::StrCat(path_, ": already closed"));
  int fd = fd_;
  fd_ = -1;
  if (::fsync(fd) != 0) {
    int err = errno;
    ::close(fd);
    return ErrnoStatus(err, "fsync", path_);
  }
  if (::close(fd) != 0) return ErrnoStatus(errno, "close", path_);
  if (::rename(temp_.c_str(), path_.c_str()) != 0) return ErrnoStatus(errno, "rename", path_);
  committed_ = true;
  std::filesystem::path parent = std::filesystem::path(path_).parent_path();
  return FsyncDir(parent.empty() ? "." : parent.string());
}

absl::Status WriteFileAtomically(const std::string& path, absl::string_view contents) {
  SLIPWAY_ASSIGN_OR_RETURN(std::unique_ptr<AtomicFile> file, AtomicFile::Create(path));
  SLIPWAY_RETURN_IF_ERROR(file->Append(contents));
  return file->Commit();
}

}  // namespace slipway::client
