#include "server/build/run/helper/placeholders.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <set>

namespace slipway::build::sandbox_helper {
namespace {

// Opens the parent directory of `rel` below `base` without following any symlink; sets
// `name` to the last component. -1 when some component is missing or not a directory.
int OpenParent(const std::string& base, const std::string& rel, std::string* name) {
  int fd = open(base.c_str(), O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  size_t pos = 0;
  while (fd >= 0) {
    size_t slash = rel.find('/', pos);
    if (slash == std::string::npos) {
      *name = rel.substr(pos);
      return fd;
    }
    std::string part = rel.substr(pos, slash - pos);
    pos = slash + 1;
    int next = openat(fd, part.c_str(), O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    close(fd);
    fd = next;
  }
  return -1;
}

bool IsEmptyDir(int parent, const std::string& name) {
  int fd = openat(parent, name.c_str(), O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return false;
  DIR* dir = fdopendir(fd);
  if (dir == nullptr) {
    close(fd);
    return false;
  }
  bool empty = true;
  while (struct dirent* e = readdir(dir)) {
    if (std::strcmp(e->d_name, ".") != 0 && std::strcmp(e->d_name, "..") != 0) {
      empty = false;
      break;
    }
  }
  closedir(dir);
  return empty;
}

bool IsOpaque(int parent, const std::string& name) {
  int fd = openat(parent, name.c_str(), O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return true;  // unsure: keep it
  char value[8];
  ssize_t n = fgetxattr(fd, "trusted.overlay.opaque", value, sizeof(value));
  close(fd);
  return n > 0;
}

// The entry `rel` of the topmost lower directory that has it (lstat), as overlayfs merges.
bool StatInLowers(const std::vector<std::string>& lower_dirs, const std::string& rel,
                  struct stat* st) {
  for (const std::string& lower : lower_dirs) {
    std::string name;
    int parent = OpenParent(lower, rel, &name);
    if (parent < 0) continue;
    bool found = fstatat(parent, name.c_str(), st, AT_SYMLINK_NOFOLLOW) == 0;
    close(parent);
    if (found) return true;
  }
  return false;
}

}  // namespace

std::string RemovePlaceholders(const std::string& upper_dir,
                               const std::vector<std::string>& lower_dirs,
                               const std::vector<std::string>& created) {
  std::string problems;
  std::set<std::string> ours(created.begin(), created.end());
  std::set<std::string> parents;
  for (auto it = created.rbegin(); it != created.rend(); ++it) {
    const std::string& rel = *it;
    for (size_t slash = rel.rfind('/'); slash != std::string::npos && slash > 0;
         slash = rel.rfind('/', slash - 1)) {
      parents.insert(rel.substr(0, slash));
    }
    std::string name;
    int parent = OpenParent(upper_dir, rel, &name);
    if (parent < 0) continue;  // not in the upper layer (e.g. inside a tmpfs or a lower dir)
    struct stat st;
    if (fstatat(parent, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0) {
      int flags = -1;
      if (S_ISDIR(st.st_mode) && IsEmptyDir(parent, name)) flags = AT_REMOVEDIR;
      else if (S_ISREG(st.st_mode) && st.st_size == 0) flags = 0;
      else if (S_ISCHR(st.st_mode) && st.st_rdev == makedev(0, 0)) flags = 0;
      if (flags >= 0 && unlinkat(parent, name.c_str(), flags) != 0) {
        problems += "remove " + rel + ": " + std::strerror(errno) + "; ";
      }
    }
    close(parent);
  }
  // Deepest first, so a parent is looked at after its children are gone.
  std::vector<std::string> ordered(parents.begin(), parents.end());
  std::sort(ordered.begin(), ordered.end(), [](const std::string& a, const std::string& b) {
    return std::count(a.begin(), a.end(), '/') > std::count(b.begin(), b.end(), '/');
  });
  for (const std::string& rel : ordered) {
    if (ours.count(rel) != 0) continue;  // handled above
    std::string name;
    int parent = OpenParent(upper_dir, rel, &name);
    if (parent < 0) continue;
    struct stat up, low;
    if (fstatat(parent, name.c_str(), &up, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(up.st_mode) &&
        IsEmptyDir(parent, name) && !IsOpaque(parent, name) &&
        StatInLowers(lower_dirs, rel, &low) && S_ISDIR(low.st_mode) &&
        low.st_mode == up.st_mode && low.st_uid == up.st_uid && low.st_gid == up.st_gid) {
      if (unlinkat(parent, name.c_str(), AT_REMOVEDIR) != 0) {
        problems += "remove copied-up " + rel + ": " + std::strerror(errno) + "; ";
      }
    }
    close(parent);
  }
  return problems;
}

}  // namespace slipway::build::sandbox_helper
