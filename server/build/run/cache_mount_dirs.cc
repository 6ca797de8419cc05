// CacheMountDirs (declared in run_mounts.h): the persistent directories behind
// RUN --mount=type=cache.
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "server/build/run/run_mounts.h"
#include "storage/digest.h"
#include "storage/status_macros.h"

namespace slipway::build {
namespace {

constexpr char kTempPrefix[] = ".tmp-";
constexpr char kPrivateDir[] = ".private";

absl::Status Errno(absl::string_view what, const std::string& path) {
  return absl::InternalError(absl::StrCat("run cache: ", what, " ", path, ": ",
                                          std::strerror(errno)));
}

absl::Status RemoveTree(const std::string& path) {
  std::error_code ec;
  std::filesystem::remove_all(path, ec);
  if (ec) return absl::InternalError(absl::StrCat("run cache: removing ", path, ": ", ec.message()));
  return absl::OkStatus();
}

std::string NameOf(const std::string& id) {
  Sha256Hasher h;
  h.Update(id);
  return h.Finish().hex();
}

}  // namespace

class CacheMountDirs::LeaseImpl : public CacheMountDirs::Lease {
 public:
  enum class Release { kNothing, kUnlock, kRemove };
  LeaseImpl(CacheMountDirs* owner, std::string path, std::string name, Release release,
            int lock_fd)
      : owner_(owner), path_(std::move(path)), name_(std::move(name)), release_(release),
        lock_fd_(lock_fd) {}
  ~LeaseImpl() override {
    if (lock_fd_ >= 0) close(lock_fd_);  // drops the flock
    if (release_ == Release::kUnlock) owner_->Unlock(name_);
    // A private directory is scratch: failing to remove it only costs disk until the next
    // Create sweeps .private.
    if (release_ == Release::kRemove) RemoveTree(path_).IgnoreError();
  }
  const std::string& path() const override { return path_; }

 private:
  CacheMountDirs* owner_;
  std::string path_, name_;
  Release release_;
  int lock_fd_;
};

absl::StatusOr<std::unique_ptr<CacheMountDirs>> CacheMountDirs::Create(const std::string& root) {
  if (root.empty()) return absl::InvalidArgumentError("run cache: root is empty");
  std::error_code ec;
  std::filesystem::create_directories(root, ec);
  if (ec) return absl::InternalError(absl::StrCat("run cache: creating ", root, ": ", ec.message()));
  char real[PATH_MAX];
  if (realpath(root.c_str(), real) == nullptr) return Errno("realpath", root);
  std::string dir = real;
  // Leftovers of a crash: half-created directories and private ones nobody holds any more.
  std::vector<std::string> stale{dir + "/" + kPrivateDir};
  for (std::filesystem::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    std::string name = it->path().filename().string();
    if (absl::StartsWith(name, kTempPrefix)) stale.push_back(it->path().string());
  }
  if (ec) return absl::InternalError(absl::StrCat("run cache: listing ", dir, ": ", ec.message()));
  for (const std::string& path : stale) SLIPWAY_RETURN_IF_ERROR(RemoveTree(path));
  if (mkdir((dir + "/" + kPrivateDir).c_str(), 0700) != 0) {
    return Errno("mkdir", dir + "/" + kPrivateDir);
  }
  return std::unique_ptr<CacheMountDirs>(new CacheMountDirs(dir));
}

absl::StatusOr<std::string> CacheMountDirs::Ensure(const std::string& name, uint32_t mode,
                                                   uint32_t uid, uint32_t gid) {
  const std::string path = absl::StrCat(root_, "/", name);
  struct stat st {};
  if (lstat(path.c_str(), &st) == 0) {
    if (!S_ISDIR(st.st_mode)) {
      return absl::InternalError(absl::StrCat("run cache: ", path, " is not a directory"));
    }
    return path;
  }
  // Made aside and renamed in, so a concurrent shared user never sees it before its owner and
  // mode are set.
  const std::string tmp = absl::StrCat(root_, "/", kTempPrefix, name, "-", getpid(), "-",
                                       next_temp_.fetch_add(1));
  if (mkdir(tmp.c_str(), 0700) != 0) return Errno("mkdir", tmp);
  absl::Status status;
  if (lchown(tmp.c_str(), uid, gid) != 0) status = Errno("chown", tmp);
  if (status.ok() && chmod(tmp.c_str(), mode == 0 ? 0755 : mode) != 0) status = Errno("chmod", tmp);
  if (status.ok() && rename(tmp.c_str(), path.c_str()) != 0) {
    // Someone else created it first: theirs is the cache.
    if (errno != EEXIST && errno != ENOTEMPTY) status = Errno("rename to", path);
  }
  rmdir(tmp.c_str());  // left only when the rename did not happen
  SLIPWAY_RETURN_IF_ERROR(status);
  return path;
}

void CacheMountDirs::Unlock(const std::string& name) {
  absl::MutexLock lock(&mu_);
  locked_.erase(name);
}

absl::StatusOr<std::unique_ptr<CacheMountDirs::Lease>> CacheMountDirs::Acquire(
    const std::string& id, RunMountSpec::Sharing sharing, uint32_t mode, uint32_t uid,
    uint32_t gid) {
  if (id.empty()) return absl::InvalidArgumentError("run cache: id is empty");
  const std::string name = NameOf(id);
  using Release = LeaseImpl::Release;
  switch (sharing) {
    case RunMountSpec::Sharing::kShared: {
      SLIPWAY_ASSIGN_OR_RETURN(std::string path, Ensure(name, mode, uid, gid));
      return std::unique_ptr<Lease>(new LeaseImpl(this, path, name, Release::kNothing, -1));
    }
    case RunMountSpec::Sharing::kPrivate: {
      const std::string path = absl::StrCat(root_, "/", kPrivateDir, "/", name, "-", getpid(),
                                            "-", next_temp_.fetch_add(1));
      if (mkdir(path.c_str(), 0700) != 0) return Errno("mkdir", path);
      if (lchown(path.c_str(), uid, gid) != 0 || chmod(path.c_str(), mode == 0 ? 0755 : mode) != 0) {
        absl::Status s = Errno("setting owner and mode of", path);
        RemoveTree(path).IgnoreError();
        return s;
      }
      return std::unique_ptr<Lease>(new LeaseImpl(this, path, name, Release::kRemove, -1));
    }
    case RunMountSpec::Sharing::kLocked: {
      {
        // Threads of this process queue here; the flock below covers other processes.
        absl::MutexLock lock(&mu_);
        auto unlocked = [this, &name]() ABSL_NO_THREAD_SAFETY_ANALYSIS {
          return locked_.count(name) == 0;  // called by Await with mu_ held
        };
        mu_.Await(absl::Condition(&unlocked));
        locked_.insert(name);
      }
      // From here on the in-process lock is released by the Lease, or below on failure.
      auto fail = [this, &name](absl::Status s) {
        Unlock(name);
        return s;
      };
      const std::string lock_path = absl::StrCat(root_, "/", name, ".lock");
      int fd = open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
      if (fd < 0) return fail(Errno("opening", lock_path));
      while (flock(fd, LOCK_EX) != 0) {
        if (errno == EINTR) continue;
        absl::Status s = Errno("locking", lock_path);
        close(fd);
        return fail(s);
      }
      auto path = Ensure(name, mode, uid, gid);
      if (!path.ok()) {
        close(fd);
        return fail(path.status());
      }
      return std::unique_ptr<Lease>(new LeaseImpl(this, *path, name, Release::kUnlock, fd));
    }
  }
  return absl::InvalidArgumentError("run cache: unknown sharing mode");
}

}  // namespace slipway::build
