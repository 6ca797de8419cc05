#include "storage/direct_file_appender.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstring>

#include "absl/strings/str_cat.h"
#include "storage/file_util.h"

namespace slipway {
namespace {

constexpr size_t kAlignment = 4096;

// pwrite(2) until all is written, retrying EINTR and short writes.
absl::Status PwriteAll(int fd, const char* data, size_t size, int64_t offset,
                       const std::string& path) {
  while (size > 0) {
    ssize_t n = ::pwrite(fd, data, size, offset);
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoStatus(errno, "write", path);
    }
    data += n;
    size -= static_cast<size_t>(n);
    offset += n;
  }
  return absl::OkStatus();
}

// Straight from mmap, not malloc: page-aligned as O_DIRECT needs, returned to the kernel the
// moment a writer finishes, and without raising glibc's dynamic mmap threshold (which would
// otherwise serve later large allocations from arenas that never shrink).
char* AllocateAligned() {
  void* p = ::mmap(nullptr, DirectFileAppender::kBufferSize, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  return p == MAP_FAILED ? nullptr : static_cast<char*>(p);
}

}  // namespace

void DirectFileAppender::AlignedFree::operator()(char* p) const {
  ::munmap(p, DirectFileAppender::kBufferSize);
}

DirectFileAppender::DirectFileAppender(int fd, std::string path, Sha256Hasher* hasher)
    : fd_(fd), path_(std::move(path)), hasher_(hasher) {
  direct_fd_ = ::open(path_.c_str(), O_WRONLY | O_DIRECT | O_CLOEXEC);
  for (auto& b : buffers_) {
    b.reset(AllocateAligned());
    if (b == nullptr) error_ = absl::ResourceExhaustedError("out of memory for write buffers");
  }
}

DirectFileAppender::~DirectFileAppender() {
  if (pending_.valid()) pending_.wait();
  if (direct_fd_ >= 0) ::close(direct_fd_);
}

absl::Status DirectFileAppender::Append(absl::string_view data) {
  while (!data.empty()) {
    if (!error_.ok()) return error_;
    size_t n = std::min(data.size(), kBufferSize - fill_);
    std::memcpy(buffers_[current_].get() + fill_, data.data(), n);
    fill_ += n;
    data.remove_prefix(n);
    if (fill_ == kBufferSize) {
      error_ = SubmitCurrent();
    }
  }
  return error_;
}

absl::Status DirectFileAppender::WaitPending() {
  if (!pending_.valid()) return absl::OkStatus();
  return pending_.get();
}

absl::Status DirectFileAppender::SubmitCurrent() {
  // At most one write in flight: it used the other buffer, which we are about to refill.
  absl::Status prior = WaitPending();
  if (!prior.ok()) return prior;
  const char* buf = buffers_[current_].get();
  size_t len = fill_;
  int64_t offset = written_;
  int fd = direct_fd_ >= 0 ? direct_fd_ : fd_;
  const std::string* path = &path_;
  Sha256Hasher* hasher = hasher_;
  // Hash and write the same (read-only) buffer at once: the device works while a core hashes.
  pending_ = std::async(std::launch::async, [fd, buf, len, offset, path, hasher] {
    auto write = std::async(std::launch::async,
                            [=] { return PwriteAll(fd, buf, len, offset, *path); });
    hasher->Update(buf, len);
    return write.get();
  });
  written_ += static_cast<int64_t>(len);
  current_ ^= 1;
  fill_ = 0;
  return absl::OkStatus();
}

absl::Status DirectFileAppender::Finish() {
  if (!error_.ok()) return error_;
  error_ = WaitPending();
  if (!error_.ok()) return error_;
  if (fill_ == 0) return absl::OkStatus();
  hasher_->Update(buffers_[current_].get(), fill_);
  const int64_t final_size = written_ + static_cast<int64_t>(fill_);
  if (direct_fd_ >= 0) {
    // O_DIRECT wants whole blocks: write the tail padded with zeros, then cut the file back.
    size_t padded = (fill_ + kAlignment - 1) / kAlignment * kAlignment;
    std::memset(buffers_[current_].get() + fill_, 0, padded - fill_);
    error_ = PwriteAll(direct_fd_, buffers_[current_].get(), padded, written_, path_);
    if (error_.ok() && ::ftruncate(fd_, final_size) != 0) {
      error_ = ErrnoStatus(errno, "truncate", path_);
    }
  } else {
    error_ = PwriteAll(fd_, buffers_[current_].get(), fill_, written_, path_);
  }
  if (error_.ok()) {
    written_ = final_size;
    fill_ = 0;
  }
  return error_;
}

}  // namespace slipway
