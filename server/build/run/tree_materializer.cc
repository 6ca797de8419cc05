#include "server/build/run/tree_materializer.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "storage/status_macros.h"

namespace slipway::build {
namespace {

absl::Status Errno(const std::string& what, const std::string& path) {
  return absl::InternalError(absl::StrCat(what, " ", path, ": ", std::strerror(errno)));
}

absl::Status CopyContent(const std::string& from, const std::string& to, uint32_t mode) {
  int in = open(from.c_str(), O_RDONLY | O_CLOEXEC);
  if (in < 0) return Errno("open", from);
  absl::Cleanup close_in = [in] { close(in); };
  int out = open(to.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode & 07777);
  if (out < 0) return Errno("create", to);
  absl::Cleanup close_out = [out] { close(out); };
  // copy_file_range stays in the kernel (and shares extents where the filesystem can).
  for (int rounds = 0;; ++rounds) {
    ssize_t n = copy_file_range(in, nullptr, out, nullptr, 1 << 30, 0);
    if (n == 0) break;
    if (n < 0) {
      if (errno == EINTR && rounds < 1000) continue;
      if (errno == EXDEV || errno == ENOSYS || errno == EINVAL) break;  // fall back below
      return Errno("copy to", to);
    }
  }
  // A fallback for filesystems without copy_file_range: append what is still missing.
  struct stat src{}, dst{};
  if (fstat(in, &src) != 0 || fstat(out, &dst) != 0) return Errno("stat", to);
  if (dst.st_size < src.st_size) {
    std::vector<char> buf(1 << 20);
    if (lseek(in, dst.st_size, SEEK_SET) < 0) return Errno("seek", from);
    while (true) {
      ssize_t n = read(in, buf.data(), buf.size());
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return Errno("read", from);
      if (n == 0) break;
      for (ssize_t done = 0; done < n;) {
        ssize_t w = write(out, buf.data() + done, n - done);
        if (w < 0 && errno == EINTR) continue;
        if (w < 0) return Errno("write", to);
        done += w;
      }
    }
  }
  return absl::OkStatus();
}

absl::Status Place(const LayerEntry& e, const std::string& dest, const std::string& root_dest,
                   const std::string& strip) {
  switch (e.type) {
    case EntryType::kDirectory:
      if (mkdir(dest.c_str(), 0700) != 0) return Errno("mkdir", dest);
      break;
    case EntryType::kFile:
      SLIPWAY_RETURN_IF_ERROR(CopyContent(e.source_path, dest, 0600));
      break;
    case EntryType::kSymlink:
      if (symlink(e.link_target.c_str(), dest.c_str()) != 0) return Errno("symlink", dest);
      break;
    case EntryType::kHardlink: {
      std::string target = e.link_target;
      if (!strip.empty() && absl::StartsWith(target, strip + "/")) {
        target = target.substr(strip.size() + 1);
      } else if (!strip.empty()) {
        return absl::OkStatus();  // a link to outside the subtree: leave it out
      }
      std::string from = absl::StrCat(root_dest, "/", target);
      if (link(from.c_str(), dest.c_str()) != 0) return Errno("link", dest);
      return absl::OkStatus();
    }
    case EntryType::kFifo:
      if (mkfifo(dest.c_str(), 0600) != 0) return Errno("mkfifo", dest);
      break;
    case EntryType::kCharDevice:
    case EntryType::kBlockDevice: {
      mode_t kind = e.type == EntryType::kCharDevice ? S_IFCHR : S_IFBLK;
      if (mknod(dest.c_str(), kind | 0600, makedev(e.dev_major, e.dev_minor)) != 0) {
        return Errno("mknod", dest);
      }
      break;
    }
  }
  if (geteuid() == 0 && lchown(dest.c_str(), e.uid, e.gid) != 0) return Errno("chown", dest);
  if (e.type != EntryType::kSymlink && chmod(dest.c_str(), e.mode & 07777) != 0) {
    return Errno("chmod", dest);
  }
  return absl::OkStatus();
}

void SetTime(const LayerEntry& e, const std::string& dest) {
  struct timespec times[2];
  times[0].tv_sec = times[1].tv_sec = e.mtime_unix_nanos / 1'000'000'000;
  times[0].tv_nsec = times[1].tv_nsec = e.mtime_unix_nanos % 1'000'000'000;
  (void)utimensat(AT_FDCWD, dest.c_str(), times, AT_SYMLINK_NOFOLLOW);
}

}  // namespace

absl::Status MaterializeTree(const SourceTree& tree, const std::string& path,
                             const std::string& dest) {
  const std::string clean = CleanPath(path);
  SLIPWAY_ASSIGN_OR_RETURN(LayerEntry top, tree.Stat(clean, /*follow=*/true));
  if (top.type != EntryType::kDirectory) {
    SLIPWAY_RETURN_IF_ERROR(Place(top, dest, dest, ""));
    SetTime(top, dest);
    return absl::OkStatus();
  }
  // The subtree as the tree resolves it (a symlinked directory is walked at its target).
  const std::string base = top.path;
  SLIPWAY_ASSIGN_OR_RETURN(std::vector<LayerEntry> entries, tree.Walk(base));
  if (mkdir(dest.c_str(), 0755) != 0) return Errno("mkdir", dest);
  auto relative = [&base](const std::string& p) {
    return base.empty() ? p : p.substr(base.size() + 1);
  };
  for (const LayerEntry& e : entries) {
    SLIPWAY_RETURN_IF_ERROR(Place(e, absl::StrCat(dest, "/", relative(e.path)), dest, base));
  }
  // Times last, deepest first, so creating children does not move a directory's mtime.
  for (auto it = entries.rbegin(); it != entries.rend(); ++it) {
    SetTime(*it, absl::StrCat(dest, "/", relative(it->path)));
  }
  if (geteuid() == 0) (void)chown(dest.c_str(), top.uid, top.gid);
  (void)chmod(dest.c_str(), top.mode & 07777);
  SetTime(top, dest);
  return absl::OkStatus();
}

}  // namespace slipway::build
