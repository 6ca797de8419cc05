#include "storage/archive/byte_stream.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"

namespace slipway {
namespace {

constexpr size_t kReadChunk = 1 << 20;

absl::Status ErrnoError(absl::string_view what, const std::string& path, int err) {
  std::string msg = absl::StrCat(what, " ", path, ": ", std::strerror(err));
  if (err == ENOENT) return absl::NotFoundError(msg);
  if (err == ENOSPC || err == EDQUOT) return absl::ResourceExhaustedError(msg);
  if (err == EACCES || err == EPERM) return absl::PermissionDeniedError(msg);
  return absl::InternalError(msg);
}

}  // namespace

absl::StatusOr<std::unique_ptr<FileByteSource>> FileByteSource::Open(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return ErrnoError("cannot open", path, errno);
  return std::unique_ptr<FileByteSource>(new FileByteSource(fd));
}

FileByteSource::FileByteSource(int fd) : fd_(fd) {}

FileByteSource::~FileByteSource() {
  if (fd_ >= 0) ::close(fd_);
}

absl::StatusOr<absl::string_view> FileByteSource::Next() {
  buffer_.resize(kReadChunk);
  for (;;) {
    ssize_t n = ::read(fd_, buffer_.data(), buffer_.size());
    if (n >= 0) return absl::string_view(buffer_.data(), static_cast<size_t>(n));
    if (errno == EINTR) continue;
    return ErrnoError("cannot read", absl::StrCat("fd ", fd_), errno);
  }
}

absl::StatusOr<std::unique_ptr<FileByteSink>> FileByteSink::Create(const std::string& path) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return ErrnoError("cannot create", path, errno);
  return std::unique_ptr<FileByteSink>(new FileByteSink(fd, path));
}

FileByteSink::FileByteSink(int fd, std::string path) : fd_(fd), path_(std::move(path)) {}

FileByteSink::~FileByteSink() {
  if (fd_ >= 0) ::close(fd_);
}

absl::Status FileByteSink::Write(absl::string_view data) {
  if (fd_ < 0) return absl::FailedPreconditionError(absl::StrCat(path_, " is closed"));
  while (!data.empty()) {
    ssize_t n = ::write(fd_, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoError("cannot write", path_, errno);
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return absl::OkStatus();
}

absl::Status FileByteSink::Close() {
  if (fd_ < 0) return absl::OkStatus();
  int fd = fd_;
  fd_ = -1;
  if (::fsync(fd) != 0) {
    int err = errno;
    ::close(fd);
    return ErrnoError("cannot fsync", path_, err);
  }
  if (::close(fd) != 0) return ErrnoError("cannot close", path_, errno);
  return absl::OkStatus();
}

}  // namespace slipway
