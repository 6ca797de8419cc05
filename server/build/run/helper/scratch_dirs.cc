#include "server/build/run/helper/scratch_dirs.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace slipway::build::sandbox_helper {
namespace {

constexpr char kPrefix[] = "slipway-sandbox.";
constexpr size_t kMaxScanned = 65536;     // entries of the parent looked at per sweep
constexpr size_t kMaxAttempts = 32;       // dead helpers' directories handled per sweep
constexpr size_t kMaxEntriesPerDir = 4096;  // a layer-link directory has one per layer

// The inode of this process's PID namespace; 0 when /proc is not there to tell.
unsigned long long PidNamespace() {
  struct stat st;
  if (stat("/proc/self/ns/pid", &st) != 0) return 0;
  return static_cast<unsigned long long>(st.st_ino);
}

// Parses the decimal number at `*p` (1..max_digits digits), advancing `*p`.
bool ParseNumber(const char** p, size_t max_digits, unsigned long long* out) {
  size_t n = 0;
  *out = 0;
  while (**p >= '0' && **p <= '9') {
    if (++n > max_digits) return false;
    *out = *out * 10 + static_cast<unsigned long long>(**p - '0');
    ++*p;
  }
  return n > 0;
}

// "slipway-sandbox.<pid>@<pidns>.XXXXXX" (mkdtemp's six letters and digits).
bool ParseName(const char* name, pid_t* pid, unsigned long long* ns) {
  const size_t prefix_len = sizeof(kPrefix) - 1;
  if (std::strncmp(name, kPrefix, prefix_len) != 0) return false;
  const char* p = name + prefix_len;
  unsigned long long value;
  if (!ParseNumber(&p, 10, &value) || value == 0 || value > INT_MAX || *p++ != '@') {
    return false;
  }
  *pid = static_cast<pid_t>(value);
  if (!ParseNumber(&p, 20, ns) || *p++ != '.') return false;
  size_t suffix = 0;
  for (; *p != '\0'; ++p, ++suffix) {
    bool alnum = (*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z');
    if (!alnum) return false;
  }
  return suffix == 6;
}

// "<base><digits>", as the sandbox numbers its secrets and mount layer-link directories.
bool IsNumbered(const char* name, const char* base) {
  size_t len = std::strlen(base);
  if (std::strncmp(name, base, len) != 0) return false;
  const char* p = name + len;
  unsigned long long ignored;
  return ParseNumber(&p, 10, &ignored) && *p == '\0';
}

// What Inspect found.
enum class Found { kOurs, kNotOurs, kGone };

// Looks at `name` in `dirfd` without following it: kOurs when it is ours to remove — owned by
// `uid`, on device `dev`, and not the root of a mount (of this mount namespace; st_dev alone
// misses a bind mount of the same filesystem). kGone when it no longer exists (another helper
// sweeping the same leftover at the same time).
Found Inspect(int dirfd, const char* name, uid_t uid, dev_t dev, struct statx* sx) {
  if (statx(dirfd, name, AT_SYMLINK_NOFOLLOW | AT_NO_AUTOMOUNT, STATX_TYPE | STATX_UID | STATX_INO,
            sx) != 0) {
    return errno == ENOENT ? Found::kGone : Found::kNotOurs;
  }
  if ((sx->stx_mask & (STATX_TYPE | STATX_UID)) != (STATX_TYPE | STATX_UID)) return Found::kNotOurs;
  if (sx->stx_uid != uid || makedev(sx->stx_dev_major, sx->stx_dev_minor) != dev) {
    return Found::kNotOurs;
  }
  if ((sx->stx_attributes_mask & STATX_ATTR_MOUNT_ROOT) != 0 &&
      (sx->stx_attributes & STATX_ATTR_MOUNT_ROOT) != 0) {
    return Found::kNotOurs;
  }
  return Found::kOurs;
}

// Opens the directory `name` in `dirfd` that Inspect described as `sx` (-1 if it is not that
// directory any more).
int OpenSubdir(int dirfd, const char* name, const struct statx& sx) {
  int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return -1;
  struct stat st;
  if (fstat(fd, &st) != 0 || st.st_ino != sx.stx_ino ||
      st.st_dev != makedev(sx.stx_dev_major, sx.stx_dev_minor)) {
    close(fd);
    errno = ESTALE;  // replaced since it was looked at: not a case of "gone"
    return -1;
  }
  return fd;
}

// The names in directory `fd` (without "." and ".."); false when there are more than `limit`.
bool ListNames(int fd, size_t limit, std::vector<std::string>* names) {
  int copy = dup(fd);  // closedir closes it; `fd` stays the caller's
  if (copy < 0) return false;
  DIR* dir = fdopendir(copy);
  if (dir == nullptr) {
    close(copy);
    return false;
  }
  rewinddir(dir);  // the copy shares its offset with `fd`, which an earlier pass left at the end
  bool ok = true;
  while (struct dirent* e = readdir(dir)) {
    if (std::strcmp(e->d_name, ".") == 0 || std::strcmp(e->d_name, "..") == 0) continue;
    if (names->size() >= limit) {
      ok = false;
      break;
    }
    names->emplace_back(e->d_name);
  }
  closedir(dir);
  return ok;
}

// Checks (dry_run) or empties the leftover scratch directory `fd` (depth 0) or one of its
// layer-link directories (depth 1). False when it holds anything the sandbox does not make
// there, or (not dry_run) something could not be removed. What vanishes meanwhile (another
// helper sweeping the same directory) is no obstacle.
bool CleanDir(int fd, int depth, bool dry_run, uid_t uid, dev_t dev) {
  std::vector<std::string> names;
  if (!ListNames(fd, kMaxEntriesPerDir, &names)) return false;
  for (const std::string& entry : names) {
    const char* name = entry.c_str();
    struct statx sx;
    Found found = Inspect(fd, name, uid, dev, &sx);
    if (found == Found::kGone) continue;
    if (found != Found::kOurs) return false;
    int flags = -1;
    if (S_ISLNK(sx.stx_mode)) {
      flags = 0;
    } else if (depth > 0) {
      return false;  // layer-link directories hold symlinks only
    } else if (S_ISREG(sx.stx_mode) && (std::strcmp(name, "hosts") == 0 ||
                                        std::strcmp(name, "resolv.conf") == 0 ||
                                        IsNumbered(name, "secret-"))) {
      flags = 0;
    } else if (S_ISDIR(sx.stx_mode) &&
               (std::strcmp(name, "root") == 0 || std::strcmp(name, "empty") == 0 ||
                std::strcmp(name, "root-layers") == 0 || IsNumbered(name, "mount-layers-"))) {
      int sub = OpenSubdir(fd, name, sx);
      if (sub < 0 && errno == ENOENT) continue;
      if (sub < 0) return false;
      bool ok = CleanDir(sub, depth + 1, dry_run, uid, dev);
      close(sub);
      if (!ok) return false;
      flags = AT_REMOVEDIR;
    } else {
      return false;
    }
    if (!dry_run && unlinkat(fd, name, flags) != 0 && errno != ENOENT) return false;
  }
  return true;
}

}  // namespace

std::string MakeScratchDir(const std::string& parent, std::string* error) {
  std::string path = parent + "/" + kPrefix + std::to_string(getpid()) + "@" +
                     std::to_string(PidNamespace()) + ".XXXXXX";
  std::vector<char> buf(path.begin(), path.end());
  buf.push_back('\0');
  if (mkdtemp(buf.data()) == nullptr) {
    *error = "mkdtemp " + path + ": " + std::strerror(errno);
    return "";
  }
  return std::string(buf.data());
}

int SweepLeftoverScratchDirs(const std::string& parent) {
  const unsigned long long own_ns = PidNamespace();
  if (own_ns == 0) return 0;  // no way to tell whose pids the names carry
  int top = open(parent.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (top < 0) return 0;
  struct stat top_st;
  if (fstat(top, &top_st) != 0) {
    close(top);
    return 0;
  }
  // A pid is looked at only after its directory's name was read: the directory was made by
  // its helper, so a live helper is alive at that check.
  std::vector<std::string> candidates;
  int copy = dup(top);
  DIR* dir = copy >= 0 ? fdopendir(copy) : nullptr;
  if (dir == nullptr) {
    if (copy >= 0) close(copy);
    close(top);
    return 0;
  }
  size_t scanned = 0;
  while (struct dirent* e = readdir(dir)) {
    if (++scanned > kMaxScanned || candidates.size() >= kMaxAttempts) break;
    pid_t pid;
    unsigned long long ns;
    if (ParseName(e->d_name, &pid, &ns) && ns == own_ns && pid != getpid() &&
        kill(pid, 0) != 0 && errno == ESRCH) {
      candidates.emplace_back(e->d_name);
    }
  }
  closedir(dir);

  const uid_t uid = geteuid();
  int removed = 0;
  for (const std::string& name : candidates) {
    struct statx sx;
    if (Inspect(top, name.c_str(), uid, top_st.st_dev, &sx) != Found::kOurs ||
        !S_ISDIR(sx.stx_mode)) {
      continue;
    }
    int fd = OpenSubdir(top, name.c_str(), sx);
    if (fd < 0) continue;
    // Everything is checked before anything is removed: a directory with a stranger in it
    // stays whole.
    bool ok = CleanDir(fd, 0, true, uid, top_st.st_dev) &&
              CleanDir(fd, 0, false, uid, top_st.st_dev);
    close(fd);
    if (ok && unlinkat(top, name.c_str(), AT_REMOVEDIR) == 0) ++removed;
  }
  close(top);
  return removed;
}

}  // namespace slipway::build::sandbox_helper
