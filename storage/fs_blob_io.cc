#include "storage/fs_blob_io.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <optional>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "storage/direct_file_appender.h"
#include "storage/file_util.h"
#include "storage/status_macros.h"

namespace slipway {
namespace {

constexpr absl::string_view kTempPrefix = "blob-";
constexpr absl::string_view kTempSuffix = ".partial";
// Appends are gathered into this much memory before a write(2): callers hand us tar records
// and HTTP chunks of a few KiB, and a syscall per chunk would dominate.
constexpr size_t kWriteBufferSize = 1 << 20;
constexpr size_t kReadBufferSize = 256 << 10;
// mkstemp collisions with a just-removed leftover are the only reason to retry.
constexpr int kTempCreateAttempts = 8;

class FsBlobWriter : public BlobWriter {
 public:
  FsBlobWriter(TempFile file, std::string blobs_dir, const BlobWriterOptions& options)
      : file_(std::move(file)), blobs_dir_(std::move(blobs_dir)), options_(options) {}

  absl::Status Append(absl::string_view data) override {
    if (state_ != State::kWriting) return NotWriting("Append");
    if (options_.expected_size.has_value() &&
        bytes_written() + static_cast<int64_t>(data.size()) > *options_.expected_size) {
      state_ = State::kFailed;
      return absl::DataLossError(absl::StrCat(
          "blob longer than its expected size ", *options_.expected_size, " (at least ",
          bytes_written() + static_cast<int64_t>(data.size()), " bytes)",
          options_.expected_digest ? absl::StrCat(" for ", options_.expected_digest->ToString())
                                   : ""));
    }
    size_ += static_cast<int64_t>(data.size());
    if (appender_ != nullptr) return Check(appender_->Append(data));
    if (buffer_.size() + data.size() > kWriteBufferSize) {
      // A large blob: switch to the overlapped O_DIRECT path (which hashes on its own thread),
      // starting with what is buffered.
      appender_ = std::make_unique<DirectFileAppender>(file_.fd(), file_.path(), &hasher_);
      SLIPWAY_RETURN_IF_ERROR(Check(appender_->Append(buffer_)));
      std::string().swap(buffer_);
      return Check(appender_->Append(data));
    }
    {
      if (buffer_.capacity() == 0) buffer_.reserve(std::min(kWriteBufferSize, data.size() * 2));
      buffer_.append(data.data(), data.size());
      return absl::OkStatus();
    }
  }

  int64_t bytes_written() const override { return size_; }

  absl::StatusOr<BlobInfo> Finish() override {
    if (state_ != State::kWriting) return NotWriting("Finish");
    SLIPWAY_RETURN_IF_ERROR(Flush());
    // Read-only before it becomes visible: a published blob is never modified in place.
    if (::fchmod(file_.fd(), 0444) != 0) return Check(ErrnoStatus(errno, "fchmod", file_.path()));
    if (::fsync(file_.fd()) != 0) return Check(ErrnoStatus(errno, "fsync", file_.path()));
    int64_t size = size_;
    Digest digest = hasher_.Finish();
    bool digest_ok = !options_.expected_digest || *options_.expected_digest == digest;
    bool size_ok = !options_.expected_size || *options_.expected_size == size;
    if (!digest_ok || !size_ok) {
      state_ = State::kFailed;
      return absl::DataLossError(absl::StrCat(
          "blob content does not match its expectation: expected ",
          options_.expected_digest ? options_.expected_digest->ToString() : "(any digest)",
          " size ", options_.expected_size ? absl::StrCat(*options_.expected_size) : "(any)",
          ", got ", digest.ToString(), " size ", size));
    }
    info_.emplace(BlobInfo{digest, size});
    state_ = State::kFinished;
    return *info_;
  }

  absl::Status Publish() override {
    if (state_ == State::kPublished) return absl::OkStatus();
    if (state_ != State::kFinished) {
      return absl::FailedPreconditionError("Publish before a successful Finish");
    }
    std::string target = absl::StrCat(blobs_dir_, "/", info_->digest.hex());
    // RENAME_NOREPLACE: when another writer of the same content won, its copy stays and ours
    // is dropped; readers never see the file change underneath them.
    if (::renameat2(AT_FDCWD, file_.path().c_str(), AT_FDCWD, target.c_str(),
                    RENAME_NOREPLACE) != 0) {
      int err = errno;
      if (err == EEXIST) {
        // The same content is already there. Refresh its mtime: GC's grace period counts from
        // the last write, and this publish is a write as far as the caller is concerned.
        ::utimensat(AT_FDCWD, target.c_str(), nullptr, 0);
        file_.Discard();
        state_ = State::kPublished;
        return absl::OkStatus();
      }
      if (err != EINVAL && err != ENOSYS) return Check(ErrnoStatus(err, "rename to", target));
      // The filesystem lacks RENAME_NOREPLACE: a plain rename over identical content is safe.
      if (::rename(file_.path().c_str(), target.c_str()) != 0) {
        return Check(ErrnoStatus(errno, "rename to", target));
      }
    }
    file_.Release();
    state_ = State::kPublished;
    return Check(FsyncDir(blobs_dir_));
  }

 private:
  enum class State { kWriting, kFinished, kPublished, kFailed };

  absl::Status Flush() {
    if (appender_ != nullptr) {
      absl::Status s = appender_->Finish();
      // Finished writers may wait a long time for Publish (an import publishes all of its
      // blobs at the end): give the buffers back now.
      appender_.reset();
      return Check(std::move(s));
    }
    // Small blobs are hashed here, once, as they are written (large ones by the appender).
    hasher_.Update(buffer_);
    if (buffer_.empty()) return absl::OkStatus();
    absl::Status s = WriteAll(file_.fd(), buffer_, file_.path());
    buffer_.clear();
    return Check(std::move(s));
  }

  // Any I/O error poisons the writer (the temp file's content is no longer known).
  absl::Status Check(absl::Status s) {
    if (!s.ok()) state_ = State::kFailed;
    return s;
  }

  absl::Status NotWriting(absl::string_view op) const {
    return absl::FailedPreconditionError(absl::StrCat(
        op, " on a blob writer that is ",
        state_ == State::kFailed ? "failed" : "already finished", " (", file_.path(), ")"));
  }

  TempFile file_;
  const std::string blobs_dir_;
  const BlobWriterOptions options_;
  Sha256Hasher hasher_;  // owned here; fed by the appender's thread once it exists
  int64_t size_ = 0;
  std::string buffer_;                           // small blobs: written at Finish
  std::unique_ptr<DirectFileAppender> appender_;  // large blobs: overlapped direct writes
  State state_ = State::kWriting;
  std::optional<BlobInfo> info_;
};

class FsBlobReader : public BlobReader {
 public:
  FsBlobReader(int fd, std::string path, Digest digest, int64_t size, bool verify)
      : fd_(fd), path_(std::move(path)), digest_(std::move(digest)), size_(size) {
    if (verify) hasher_ = std::make_unique<Sha256Hasher>();
  }
  ~FsBlobReader() override { ::close(fd_); }

  int64_t size() const override { return size_; }

  absl::StatusOr<size_t> Read(char* buf, size_t n) override {
    if (!error_.ok()) return error_;
    if (n == 0) return 0;
    size_t got = 0;
    if (pos_ < buffer_.size()) {
      got = std::min(n, buffer_.size() - pos_);
      std::copy_n(buffer_.data() + pos_, got, buf);
      pos_ += got;
    } else if (!eof_) {
      if (n >= kReadBufferSize) {
        // Large reads go straight into the caller's buffer: no point copying twice.
        SLIPWAY_ASSIGN_OR_RETURN(got, ReadFd(buf, n));
      } else {
        buffer_.resize(kReadBufferSize);
        SLIPWAY_ASSIGN_OR_RETURN(size_t filled, ReadFd(buffer_.data(), buffer_.size()));
        buffer_.resize(filled);
        pos_ = got = std::min(n, filled);
        std::copy_n(buffer_.data(), got, buf);
      }
    }
    delivered_ += static_cast<int64_t>(got);
    if (hasher_ != nullptr && !verified_) {
      hasher_->Update(buf, got);
      if (got == 0 || delivered_ >= size_) {
        verified_ = true;
        Digest actual = hasher_->Finish();
        if (actual != digest_) {
          error_ = absl::DataLossError(absl::StrCat("blob ", path_, " is corrupt: expected ",
                                                    digest_.ToString(), ", content hashes to ",
                                                    actual.ToString(), " (", delivered_,
                                                    " bytes)"));
          return error_;
        }
      }
    }
    return got;
  }

 private:
  absl::StatusOr<size_t> ReadFd(char* buf, size_t n) {
    while (true) {
      ssize_t r = ::read(fd_, buf, n);
      if (r >= 0) {
        if (r == 0) eof_ = true;
        return static_cast<size_t>(r);
      }
      if (errno != EINTR) {
        error_ = ErrnoStatus(errno, "read", path_);
        return error_;
      }
    }
  }

  const int fd_;
  const std::string path_;
  const Digest digest_;
  const int64_t size_;
  std::unique_ptr<Sha256Hasher> hasher_;  // only when verifying
  std::vector<char> buffer_;
  size_t pos_ = 0;
  int64_t delivered_ = 0;
  bool eof_ = false;
  bool verified_ = false;
  absl::Status error_;
};

}  // namespace

bool IsTempFileName(absl::string_view name) {
  return name.size() > kTempPrefix.size() + kTempSuffix.size() &&
         absl::StartsWith(name, kTempPrefix) && absl::EndsWith(name, kTempSuffix);
}

absl::StatusOr<TempFile> TempFile::Create(const std::string& dir) {
  for (int attempt = 0; attempt < kTempCreateAttempts; ++attempt) {
    std::string path = absl::StrCat(dir, "/", kTempPrefix, "XXXXXX", kTempSuffix);
    int fd = ::mkostemps(path.data(), static_cast<int>(kTempSuffix.size()), O_CLOEXEC);
    if (fd < 0) return ErrnoStatus(errno, "create temp file in", dir);
    TempFile file(fd, path);
    int rc;
    do {
      rc = ::flock(fd, LOCK_EX);
    } while (rc != 0 && errno == EINTR);
    if (rc != 0) return ErrnoStatus(errno, "flock", path);
    // Between mkostemps and flock a concurrent FsBlobStore::Create may have taken the fresh
    // file for a leftover and unlinked it; then our path no longer names our file.
    struct stat by_fd, by_path;
    if (::fstat(fd, &by_fd) == 0 && ::lstat(path.c_str(), &by_path) == 0 &&
        by_fd.st_ino == by_path.st_ino && by_fd.st_dev == by_path.st_dev) {
      return file;
    }
    file.Release();  // not ours any more: close without unlinking someone else's path
  }
  return absl::InternalError(absl::StrCat("could not create a temp file in ", dir, " after ",
                                          kTempCreateAttempts, " attempts"));
}

TempFile::TempFile(TempFile&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)), path_(std::move(other.path_)) {}

TempFile& TempFile::operator=(TempFile&& other) noexcept {
  if (this != &other) {
    Discard();
    fd_ = std::exchange(other.fd_, -1);
    path_ = std::move(other.path_);
  }
  return *this;
}

TempFile::~TempFile() { Discard(); }

void TempFile::Discard() {
  if (fd_ < 0) return;
  // Unlink while still holding the lock, so nobody mistakes the file for a leftover meanwhile.
  ::unlink(path_.c_str());
  ::close(fd_);
  fd_ = -1;
}

void TempFile::Release() {
  if (fd_ < 0) return;
  ::close(fd_);
  fd_ = -1;
}

absl::StatusOr<std::unique_ptr<BlobWriter>> NewFsBlobWriter(const std::string& tmp_dir,
                                                            const std::string& blobs_dir,
                                                            const BlobWriterOptions& options) {
  SLIPWAY_ASSIGN_OR_RETURN(TempFile file, TempFile::Create(tmp_dir));
  return std::unique_ptr<BlobWriter>(new FsBlobWriter(std::move(file), blobs_dir, options));
}

absl::StatusOr<std::unique_ptr<BlobReader>> NewFsBlobReader(const std::string& path,
                                                            const Digest& digest, bool verify) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) {
      return absl::NotFoundError(absl::StrCat("blob ", digest.ToString(), " not in store"));
    }
    return ErrnoStatus(errno, "open", path);
  }
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    absl::Status s = ErrnoStatus(errno, "fstat", path);
    ::close(fd);
    return s;
  }
  return std::unique_ptr<BlobReader>(
      new FsBlobReader(fd, path, digest, static_cast<int64_t>(st.st_size), verify));
}

}  // namespace slipway
