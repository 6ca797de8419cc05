#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "storage/blob_store.h"
#include "storage/file_util.h"
#include "storage/fs_blob_io.h"
#include "storage/status_macros.h"

namespace slipway {
namespace {

constexpr char kOciLayoutContent[] = "{\"imageLayoutVersion\":\"1.0.0\"}";
constexpr char kEmptyIndexContent[] = "{\"manifests\":[],\"schemaVersion\":2}";

// Writes `content` to `path` only if `path` does not exist yet, atomically (temp + rename), so
// a crash never leaves a half-written oci-layout behind.
absl::Status WriteFileIfAbsent(const std::string& path, const std::string& tmp_dir,
                               absl::string_view content) {
  struct stat st;
  if (::stat(path.c_str(), &st) == 0) return absl::OkStatus();
  if (errno != ENOENT) return ErrnoStatus(errno, "stat", path);
  SLIPWAY_ASSIGN_OR_RETURN(TempFile tmp, TempFile::Create(tmp_dir));
  absl::Status s = WriteAll(tmp.fd(), content, tmp.path());
  if (s.ok() && ::fsync(tmp.fd()) != 0) s = ErrnoStatus(errno, "fsync", tmp.path());
  if (s.ok() && ::fchmod(tmp.fd(), 0644) != 0) s = ErrnoStatus(errno, "fchmod", tmp.path());
  if (s.ok() && ::rename(tmp.path().c_str(), path.c_str()) != 0) {
    s = ErrnoStatus(errno, "rename to", path);
  }
  if (s.ok()) tmp.Release();
  return s;
}

// Removes temp files nobody holds a lock on: their writer died (a live writer holds an
// exclusive flock on its temp file for its whole life, and the kernel drops it on exit).
absl::StatusOr<int> RemoveAbandonedTempFiles(const std::string& tmp_dir) {
  DIR* dir = ::opendir(tmp_dir.c_str());
  if (dir == nullptr) return ErrnoStatus(errno, "opendir", tmp_dir);
  int removed = 0;
  absl::Status status;
  while (true) {
    errno = 0;
    struct dirent* e = ::readdir(dir);
    if (e == nullptr) {
      if (errno != 0) status = ErrnoStatus(errno, "readdir", tmp_dir);
      break;
    }
    std::string name = e->d_name;
    if (!IsTempFileName(name)) continue;  // not ours: leave it alone
    std::string path = absl::StrCat(tmp_dir, "/", name);
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) continue;  // vanished meanwhile
    if (::flock(fd, LOCK_EX | LOCK_NB) == 0) {
      // Still the same file (not replaced since we opened it)? Then nobody owns it.
      struct stat by_fd, by_path;
      if (::fstat(fd, &by_fd) == 0 && ::lstat(path.c_str(), &by_path) == 0 &&
          by_fd.st_ino == by_path.st_ino && by_fd.st_dev == by_path.st_dev &&
          ::unlink(path.c_str()) == 0) {
        ++removed;
      }
    }
    ::close(fd);
  }
  ::closedir(dir);
  if (!status.ok()) return status;
  return removed;
}

}  // namespace

FsBlobStore::FsBlobStore(std::string root) : root_(std::move(root)) {}
FsBlobStore::~FsBlobStore() = default;

absl::StatusOr<std::unique_ptr<FsBlobStore>> FsBlobStore::Create(
    const FsBlobStoreOptions& options) {
  if (options.root.empty()) return absl::InvalidArgumentError("blob store root is empty");
  std::error_code ec;
  std::filesystem::path root = std::filesystem::absolute(options.root, ec);
  if (ec) return absl::InvalidArgumentError(absl::StrCat("blob store root ", options.root, ": ",
                                                         ec.message()));
  root = root.lexically_normal();
  std::string root_str = root.string();
  while (root_str.size() > 1 && root_str.back() == '/') root_str.pop_back();
  std::filesystem::create_directories(root, ec);
  if (ec) {
    return ErrnoStatus(ec.value(), "create directories", root_str);
  }
  auto store = absl::WrapUnique(new FsBlobStore(root_str));
  for (const std::string& dir : {store->root_ + "/blobs", store->root_ + "/blobs/sha256",
                                 store->root_ + "/tmp"}) {
    SLIPWAY_RETURN_IF_ERROR(MakeDir(dir));
  }
  const std::string tmp_dir = store->root_ + "/tmp";
  SLIPWAY_ASSIGN_OR_RETURN(store->removed_temp_files_, RemoveAbandonedTempFiles(tmp_dir));
  // An OCI image layout needs both files; index.json starts empty (exporters may rewrite it).
  SLIPWAY_RETURN_IF_ERROR(
      WriteFileIfAbsent(store->root_ + "/oci-layout", tmp_dir, kOciLayoutContent));
  SLIPWAY_RETURN_IF_ERROR(
      WriteFileIfAbsent(store->root_ + "/index.json", tmp_dir, kEmptyIndexContent));
  SLIPWAY_RETURN_IF_ERROR(FsyncDir(store->root_ + "/blobs"));
  SLIPWAY_RETURN_IF_ERROR(FsyncDir(store->root_));
  return store;
}

std::string FsBlobStore::PathOf(const Digest& digest) const {
  return absl::StrCat(root_, "/blobs/sha256/", digest.hex());
}

absl::StatusOr<int64_t> FsBlobStore::Stat(const Digest& digest) const {
  std::string path = PathOf(digest);
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) {
    if (errno == ENOENT || errno == ENOTDIR) {
      return absl::NotFoundError(absl::StrCat("blob ", digest.ToString(), " not in store"));
    }
    return ErrnoStatus(errno, "stat", path);
  }
  if (!S_ISREG(st.st_mode)) {
    return absl::InternalError(absl::StrCat(path, " is not a regular file"));
  }
  return static_cast<int64_t>(st.st_size);
}

std::vector<Digest> FsBlobStore::FindMissing(const std::vector<Digest>& digests) const {
  std::vector<Digest> missing;
  // A build context asks about thousands of digests at once: stat them relative to the blob
  // directory, so the kernel walks one path component per digest instead of the whole path.
  const std::string dir = root_ + "/blobs/sha256";
  int dirfd = ::open(dir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
  for (const Digest& d : digests) {
    struct stat st;
    bool present = dirfd >= 0
                       ? ::fstatat(dirfd, d.hex().c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 &&
                             S_ISREG(st.st_mode)
                       : Stat(d).ok();
    if (!present) missing.push_back(d);
  }
  if (dirfd >= 0) ::close(dirfd);
  return missing;
}

absl::StatusOr<std::unique_ptr<BlobWriter>> FsBlobStore::NewWriter(
    const BlobWriterOptions& options) {
  if (options.expected_size.has_value() && *options.expected_size < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("expected blob size ", *options.expected_size, " is negative"));
  }
  return NewFsBlobWriter(root_ + "/tmp", root_ + "/blobs/sha256", options);
}

absl::StatusOr<std::unique_ptr<BlobReader>> FsBlobStore::NewReader(const Digest& digest,
                                                                   bool verify) const {
  return NewFsBlobReader(PathOf(digest), digest, verify);
}

absl::Status FsBlobStore::Delete(const Digest& digest) {
  std::string path = PathOf(digest);
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) return ErrnoStatus(errno, "unlink", path);
  return absl::OkStatus();
}

absl::Status FsBlobStore::List(const std::function<void(const ListedBlob&)>& fn,
                               const std::function<void(const std::string&)>& on_stray) const {
  const std::string dir_path = root_ + "/blobs/sha256";
  DIR* dir = ::opendir(dir_path.c_str());
  if (dir == nullptr) return ErrnoStatus(errno, "opendir", dir_path);
  absl::Status status;
  while (true) {
    errno = 0;
    struct dirent* e = ::readdir(dir);
    if (e == nullptr) {
      if (errno != 0) status = ErrnoStatus(errno, "readdir", dir_path);
      break;
    }
    std::string name = e->d_name;
    if (name == "." || name == "..") continue;
    auto digest = Digest::FromHex(name);
    struct stat st;
    if (::fstatat(::dirfd(dir), e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
      if (errno == ENOENT) continue;  // deleted while we listed
      status = ErrnoStatus(errno, "stat", absl::StrCat(dir_path, "/", name));
      break;
    }
    if (!digest.ok() || !S_ISREG(st.st_mode)) {
      if (on_stray) on_stray(name);
      continue;
    }
    fn(ListedBlob{*digest, static_cast<int64_t>(st.st_size),
                  static_cast<int64_t>(st.st_mtim.tv_sec)});
  }
  ::closedir(dir);
  return status;
}

}  // namespace slipway
