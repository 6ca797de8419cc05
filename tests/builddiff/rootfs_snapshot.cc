#include "tests/builddiff/rootfs_snapshot.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "storage/digest.h"
#include "storage/status_macros.h"

namespace slipway::testing {
namespace {

absl::Status Errno(const std::string& what, const std::string& path) {
  return absl::InternalError(absl::StrCat(what, " ", path, ": ", std::strerror(errno)));
}

absl::StatusOr<std::string> HashFile(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) return Errno("open", path);
  Sha256Hasher hasher;
  std::vector<char> buffer(1 << 20);
  for (;;) {
    ssize_t n = ::read(fd, buffer.data(), buffer.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      absl::Status s = Errno("read", path);
      ::close(fd);
      return s;
    }
    if (n == 0) break;
    hasher.Update(buffer.data(), static_cast<size_t>(n));
  }
  ::close(fd);
  return hasher.Finish().hex();
}

char TypeOf(mode_t m) {
  if (S_ISREG(m)) return 'f';
  if (S_ISDIR(m)) return 'd';
  if (S_ISLNK(m)) return 'l';
  if (S_ISCHR(m)) return 'c';
  if (S_ISBLK(m)) return 'b';
  if (S_ISFIFO(m)) return 'p';
  return '?';
}

struct Walker {
  std::string root;
  FsSnapshot out;
  std::map<std::pair<dev_t, ino_t>, std::vector<std::string>> inodes;

  // `rel` is "" for the root, else "/a/b".
  absl::Status Walk(const std::string& rel, int depth) {
    if (depth > 256) return absl::FailedPreconditionError("tree deeper than 256 at " + rel);
    std::string dir_path = root + rel;
    DIR* dir = ::opendir(dir_path.c_str());
    if (dir == nullptr) return Errno("opendir", dir_path);
    std::vector<std::string> names;
    errno = 0;
    while (struct dirent* e = ::readdir(dir)) {
      std::string name = e->d_name;
      if (name != "." && name != "..") names.push_back(std::move(name));
    }
    ::closedir(dir);
    for (const std::string& name : names) {
      std::string child = rel + "/" + name;
      std::string full = root + child;
      struct stat st;
      if (::lstat(full.c_str(), &st) != 0) return Errno("lstat", full);
      FsEntry entry;
      entry.type = TypeOf(st.st_mode);
      entry.mode = st.st_mode & 07777;
      entry.uid = st.st_uid;
      entry.gid = st.st_gid;
      if (entry.type != 'd') entry.mtime = st.st_mtim.tv_sec;
      if (entry.type == 'f') {
        entry.size = st.st_size;
        SLIPWAY_ASSIGN_OR_RETURN(entry.sha256, HashFile(full));
        if (st.st_nlink > 1) inodes[{st.st_dev, st.st_ino}].push_back(child);
      } else if (entry.type == 'l') {
        std::string target(static_cast<size_t>(st.st_size) + 1, '\0');
        ssize_t n = ::readlink(full.c_str(), target.data(), target.size());
        if (n < 0) return Errno("readlink", full);
        target.resize(static_cast<size_t>(n));
        entry.link = std::move(target);
      }
      out[child] = entry;
      if (entry.type == 'd') SLIPWAY_RETURN_IF_ERROR(Walk(child, depth + 1));
    }
    return absl::OkStatus();
  }
};

}  // namespace

absl::StatusOr<FsSnapshot> SnapshotTree(const std::string& root) {
  Walker walker;
  walker.root = root;
  SLIPWAY_RETURN_IF_ERROR(walker.Walk("", 0));
  for (auto& [inode, paths] : walker.inodes) {
    if (paths.size() < 2) continue;  // other links live outside the tree
    std::string first = *std::min_element(paths.begin(), paths.end());
    for (const std::string& p : paths) walker.out[p].hardlink_group = first;
  }
  return std::move(walker.out);
}

std::string ModeString(char type, uint32_t mode) {
  std::string s(10, '-');
  s[0] = type == 'f' ? '-' : type;
  const char* rwx = "rwxrwxrwx";
  for (int i = 0; i < 9; ++i) {
    if (mode & (0400u >> i)) s[1 + i] = rwx[i];
  }
  if (mode & 04000) s[3] = (mode & 0100) ? 's' : 'S';
  if (mode & 02000) s[6] = (mode & 0010) ? 's' : 'S';
  if (mode & 01000) s[9] = (mode & 0001) ? 't' : 'T';
  return s;
}

}  // namespace slipway::testing
