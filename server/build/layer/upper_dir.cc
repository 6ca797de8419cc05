#include "server/build/layer/upper_dir.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "storage/status_macros.h"

namespace slipway::build {
namespace {

constexpr char kOverlayPrefix[] = "trusted.overlay.";
constexpr char kOpaqueXattr[] = "trusted.overlay.opaque";
// Newer kernels mark a whiteout stored as a regular file ("xwhiteout") with this xattr.
constexpr char kWhiteoutXattr[] = "trusted.overlay.whiteout";
constexpr char kWhiteoutPrefix[] = ".wh.";
constexpr char kOpaqueMarker[] = ".wh..wh..opq";
// A path is at most PATH_MAX bytes, so no real tree is deeper than this; it bounds the
// recursion (and the open directory descriptors, one per level).
constexpr int kMaxDepth = PATH_MAX / 2;

absl::Status Errno(absl::string_view what, const std::string& path) {
  return absl::InternalError(absl::StrCat("upper dir: ", what, " ", path, ": ",
                                          std::strerror(errno)));
}

std::string Join(const std::string& dir, absl::string_view name) {
  return dir.empty() ? std::string(name) : absl::StrCat(dir, "/", name);
}

int64_t Nanos(const struct timespec& ts) {
  return static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

// All xattrs of `full` (not following a final symlink), overlayfs' own ones included: the
// caller decides what they mean.
absl::StatusOr<std::map<std::string, std::string>> ReadXattrs(const std::string& full) {
  std::map<std::string, std::string> out;
  ssize_t size = llistxattr(full.c_str(), nullptr, 0);
  if (size < 0 && (errno == ENOTSUP || errno == EOPNOTSUPP)) return out;
  if (size < 0) return Errno("listing xattrs of", full);
  if (size == 0) return out;
  std::string names(static_cast<size_t>(size), '\0');
  size = llistxattr(full.c_str(), names.data(), names.size());
  if (size < 0) return Errno("listing xattrs of", full);
  names.resize(static_cast<size_t>(size));
  for (absl::string_view name : absl::StrSplit(names, '\0', absl::SkipEmpty())) {
    std::string n(name);
    ssize_t vsize = lgetxattr(full.c_str(), n.c_str(), nullptr, 0);
    if (vsize < 0 && errno == ENODATA) continue;  // removed meanwhile
    if (vsize < 0) return Errno(absl::StrCat("reading xattr ", n, " of"), full);
    std::string value(static_cast<size_t>(vsize), '\0');
    vsize = lgetxattr(full.c_str(), n.c_str(), value.data(), value.size());
    if (vsize < 0) return Errno(absl::StrCat("reading xattr ", n, " of"), full);
    value.resize(static_cast<size_t>(vsize));
    out.emplace(std::move(n), std::move(value));
  }
  return out;
}

class UpperWalker {
 public:
  UpperWalker(std::string root, const UpperDirOptions& options)
      : root_(std::move(root)), options_(options) {}

  absl::StatusOr<std::vector<LayerEntry>> Run() {
    // The root is never an entry, but an opaque root hides every lower file.
    SLIPWAY_ASSIGN_OR_RETURN(auto root_xattrs, ReadXattrs(root_));
    SLIPWAY_RETURN_IF_ERROR(CheckExpressible(root_xattrs, root_));
    if (IsOpaque(root_xattrs)) {
      struct stat st {};
      if (lstat(root_.c_str(), &st) != 0) return Errno("stat", root_);
      entries_.push_back(Marker(kOpaqueMarker, st));
    }
    int fd = open(root_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) return Errno("opening", root_);
    SLIPWAY_RETURN_IF_ERROR(ScanDir(fd, "", 0));  // takes ownership of fd
    SettleHardLinks();
    std::sort(entries_.begin(), entries_.end(),
              [](const LayerEntry& a, const LayerEntry& b) { return a.path < b.path; });
    return std::move(entries_);
  }

 private:
  static bool IsOpaque(const std::map<std::string, std::string>& xattrs) {
    auto it = xattrs.find(kOpaqueXattr);
    return it != xattrs.end() && it->second == "y";
  }

  // Redirects and metacopy make the upper entry depend on a lower path or lower content,
  // which a layer tar cannot say.
  static absl::Status CheckExpressible(const std::map<std::string, std::string>& xattrs,
                                       const std::string& full) {
    for (const char* name : {"trusted.overlay.redirect", "trusted.overlay.metacopy"}) {
      if (xattrs.count(name) != 0) {
        return absl::InvalidArgumentError(absl::StrCat(
            "upper dir: ", full, " has ", name,
            ", which a layer cannot express (mount with redirect_dir=off,metacopy=off,index=off)"));
      }
    }
    return absl::OkStatus();
  }

  int64_t Mtime(const struct stat& st) const {
    int64_t t = Nanos(st.st_mtim);
    if (options_.source_date_epoch) {
      t = std::min<int64_t>(t, *options_.source_date_epoch * 1000000000);
    }
    return t;
  }

  // A whiteout file (`.wh.x` or the opaque marker): empty, mode 0, root-owned, as BuildKit's
  // layers carry them; the time is the one overlayfs gave the whiteout (or its directory) so
  // the layer stays reproducible under SOURCE_DATE_EPOCH.
  LayerEntry Marker(const std::string& path, const struct stat& st) const {
    LayerEntry e;
    e.path = path;
    e.type = EntryType::kFile;
    e.mode = 0;
    e.mtime_unix_nanos = Mtime(st);
    e.size = 0;
    e.source_path = "/dev/null";  // zero bytes, always readable
    return e;
  }

  absl::Status ScanDir(int fd, const std::string& rel, int depth) {
    DIR* dir = fdopendir(fd);
    if (dir == nullptr) {
      absl::Status s = Errno("reading directory", Join(root_, rel));
      close(fd);
      return s;
    }
    absl::Cleanup close_dir = [dir] { closedir(dir); };
    if (depth > kMaxDepth) {
      return absl::InternalError(
          absl::StrCat("upper dir: ", Join(root_, rel), " is nested deeper than ", kMaxDepth));
    }
    // Names first, so descending does not keep a directory stream busy while it iterates.
    std::vector<std::string> names;
    for (;;) {
      errno = 0;
      struct dirent* d = readdir(dir);
      if (d == nullptr) {
        if (errno != 0) return Errno("reading directory", Join(root_, rel));
        break;
      }
      if (std::strcmp(d->d_name, ".") == 0 || std::strcmp(d->d_name, "..") == 0) continue;
      names.emplace_back(d->d_name);
    }
    for (const std::string& name : names) {
      SLIPWAY_RETURN_IF_ERROR(ScanEntry(dirfd(dir), rel, name, depth));
    }
    return absl::OkStatus();
  }

  absl::Status ScanEntry(int parent_fd, const std::string& parent_rel, const std::string& name,
                         int depth) {
    const std::string rel = Join(parent_rel, name);
    const std::string full = absl::StrCat(root_, "/", rel);
    struct stat st {};
    if (fstatat(parent_fd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
      return Errno("stat", full);
    }
    // Whiteouts first: the classic 0:0 character device needs no xattr read.
    if (S_ISCHR(st.st_mode) && st.st_rdev == makedev(0, 0)) {
      entries_.push_back(Marker(Join(parent_rel, absl::StrCat(kWhiteoutPrefix, name)), st));
      return absl::OkStatus();
    }
    if (S_ISSOCK(st.st_mode)) return absl::OkStatus();  // a tar cannot hold a socket
    SLIPWAY_ASSIGN_OR_RETURN(auto xattrs, ReadXattrs(full));
    SLIPWAY_RETURN_IF_ERROR(CheckExpressible(xattrs, full));
    if (S_ISREG(st.st_mode) && xattrs.count(kWhiteoutXattr) != 0) {
      entries_.push_back(Marker(Join(parent_rel, absl::StrCat(kWhiteoutPrefix, name)), st));
      return absl::OkStatus();
    }
    const bool opaque = S_ISDIR(st.st_mode) && IsOpaque(xattrs);

    LayerEntry e;
    e.path = rel;
    e.mode = st.st_mode & 07777;
    e.uid = st.st_uid;
    e.gid = st.st_gid;
    e.mtime_unix_nanos = Mtime(st);
    for (auto& [key, value] : xattrs) {
      // overlayfs bookkeeping (origin, impure, opaque, ...) is not content; an SELinux label
      // is the host's, applied by whoever runs the image.
      if (absl::StartsWith(key, kOverlayPrefix) || key == "security.selinux") continue;
      e.xattrs.emplace(key, std::move(value));
    }
    switch (st.st_mode & S_IFMT) {
      case S_IFREG:
        e.type = EntryType::kFile;
        e.size = st.st_size;
        e.source_path = full;
        if (st.st_nlink > 1) links_[{st.st_dev, st.st_ino}].push_back(entries_.size());
        break;
      case S_IFDIR: e.type = EntryType::kDirectory; break;
      case S_IFLNK: {
        e.type = EntryType::kSymlink;
        std::string target(static_cast<size_t>(std::max<off_t>(st.st_size, 0)) + 1, '\0');
        for (;;) {
          ssize_t n = readlinkat(parent_fd, name.c_str(), target.data(), target.size());
          if (n < 0) return Errno("readlink", full);
          if (static_cast<size_t>(n) < target.size()) {
            target.resize(static_cast<size_t>(n));
            break;
          }
          if (target.size() > PATH_MAX * 4) {
            return absl::InternalError(absl::StrCat("upper dir: symlink ", full, " too long"));
          }
          target.resize(target.size() * 2);  // grew since the stat
        }
        e.link_target = std::move(target);
        break;
      }
      case S_IFCHR:
      case S_IFBLK:
        e.type = S_ISCHR(st.st_mode) ? EntryType::kCharDevice : EntryType::kBlockDevice;
        e.dev_major = major(st.st_rdev);
        e.dev_minor = minor(st.st_rdev);
        break;
      case S_IFIFO: e.type = EntryType::kFifo; break;
      default:
        return absl::InternalError(absl::StrCat("upper dir: ", full, " has an unknown type"));
    }
    entries_.push_back(std::move(e));
    if (!S_ISDIR(st.st_mode)) return absl::OkStatus();
    if (opaque) entries_.push_back(Marker(Join(rel, kOpaqueMarker), st));
    int child = openat(parent_fd, name.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
    if (child < 0) return Errno("opening", full);
    return ScanDir(child, rel, depth + 1);
  }

  // Hard links within the upper dir: the first path (in sorted order) of each group stays the
  // file, the others link to it. Links to lower files never reach the upper dir with index=off
  // (a copy-up breaks them), so a group is only what the upper dir holds.
  void SettleHardLinks() {
    for (auto& [key, group] : links_) {
      if (group.size() < 2) continue;
      std::sort(group.begin(), group.end(),
                [&](size_t a, size_t b) { return entries_[a].path < entries_[b].path; });
      for (size_t i = 1; i < group.size(); ++i) {
        LayerEntry& e = entries_[group[i]];
        e.type = EntryType::kHardlink;
        e.link_target = entries_[group[0]].path;
        e.source_path.clear();
        e.size = 0;
      }
    }
  }

  const std::string root_;
  const UpperDirOptions& options_;
  std::vector<LayerEntry> entries_;
  std::map<std::pair<dev_t, ino_t>, std::vector<size_t>> links_;
};

}  // namespace

absl::StatusOr<std::vector<LayerEntry>> EntriesFromUpperDir(const std::string& upper_dir,
                                                            const UpperDirOptions& options) {
  char real[PATH_MAX];
  if (realpath(upper_dir.c_str(), real) == nullptr) {
    if (errno == ENOENT || errno == ENOTDIR) {
      return absl::NotFoundError(absl::StrCat("upper dir ", upper_dir, " does not exist"));
    }
    return absl::InternalError(
        absl::StrCat("upper dir: realpath ", upper_dir, ": ", std::strerror(errno)));
  }
  struct stat st {};
  if (lstat(real, &st) != 0 || !S_ISDIR(st.st_mode)) {
    return absl::NotFoundError(absl::StrCat("upper dir ", upper_dir, " is not a directory"));
  }
  UpperWalker walker(real, options);
  return walker.Run();
}

}  // namespace slipway::build
