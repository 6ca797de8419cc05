#include "server/build/run/helper/in_root.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <deque>

namespace slipway::build::sandbox_helper {
namespace {

// Linux's own limit on symlinks in one lookup (MAXSYMLINKS): a loop ends in ELOOP, not here.
constexpr int kMaxSymlinks = 40;

std::deque<std::string> Split(const std::string& path) {
  std::deque<std::string> parts;
  size_t pos = 0;
  while (pos <= path.size()) {
    size_t slash = path.find('/', pos);
    if (slash == std::string::npos) slash = path.size();
    if (slash > pos) parts.push_back(path.substr(pos, slash - pos));
    pos = slash + 1;
  }
  return parts;
}

std::string Join(const std::vector<std::string>& parts) {
  std::string out;
  for (const std::string& p : parts) {
    if (!out.empty()) out += '/';
    out += p;
  }
  return out;
}

// Opens the canonical directory `parts` below the root. The parts were resolved already, so
// none of them is a symlink (O_NOFOLLOW makes sure).
int OpenCanonical(int root_fd, const std::vector<std::string>& parts) {
  int fd = fcntl(root_fd, F_DUPFD_CLOEXEC, 0);
  for (const std::string& p : parts) {
    if (fd < 0) return -1;
    int next = openat(fd, p.c_str(), O_PATH | O_NOFOLLOW | O_DIRECTORY | O_CLOEXEC);
    close(fd);
    fd = next;
  }
  return fd;
}

}  // namespace

std::string FdPath(int fd) { return "/proc/self/fd/" + std::to_string(fd); }

int OpenInRoot(int root_fd, const std::string& path, CreateAs create,
               std::vector<std::string>* created, std::string* canonical, std::string* error) {
  std::deque<std::string> todo = Split(path);
  std::vector<std::string> done;
  int cur = fcntl(root_fd, F_DUPFD_CLOEXEC, 0);
  int symlinks = 0;
  auto fail = [&](const std::string& what, int err) {
    if (cur >= 0) close(cur);
    *error = path + ": " + what + (err != 0 ? std::string(": ") + std::strerror(err) : "");
    return -1;
  };
  if (cur < 0) return fail("dup root", errno);
  while (!todo.empty()) {
    std::string name = todo.front();
    todo.pop_front();
    if (name == ".") continue;
    if (name == "..") {  // clamped at the root, as in a chroot
      if (!done.empty()) done.pop_back();
      close(cur);
      cur = OpenCanonical(root_fd, done);
      if (cur < 0) return fail("reopen " + Join(done), errno);
      continue;
    }
    const bool last = todo.empty();
    struct stat st;
    if (fstatat(cur, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
      if (errno != ENOENT || create == CreateAs::kNothing) return fail("stat " + name, errno);
      if (last && create == CreateAs::kFile) {
        int f = openat(cur, name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                       0644);
        if (f < 0) return fail("create " + name, errno);
        close(f);
      } else if (mkdirat(cur, name.c_str(), 0755) != 0) {
        return fail("mkdir " + name, errno);
      }
      std::vector<std::string> made = done;
      made.push_back(name);
      if (created != nullptr) created->push_back(Join(made));
      if (fstatat(cur, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
        return fail("stat " + name, errno);
      }
    }
    if (S_ISLNK(st.st_mode)) {
      if (++symlinks > kMaxSymlinks) return fail("too many symlinks", ELOOP);
      char buf[4096];
      ssize_t n = readlinkat(cur, name.c_str(), buf, sizeof(buf) - 1);
      if (n < 0) return fail("readlink " + name, errno);
      std::string target(buf, static_cast<size_t>(n));
      std::deque<std::string> more = Split(target);
      for (auto it = more.rbegin(); it != more.rend(); ++it) todo.push_front(*it);
      if (!target.empty() && target[0] == '/') {  // absolute: from the sandbox's root
        done.clear();
        close(cur);
        cur = OpenCanonical(root_fd, done);
        if (cur < 0) return fail("reopen root", errno);
      }
      continue;
    }
    if (!last && !S_ISDIR(st.st_mode)) return fail(name + " is not a directory", 0);
    int next = openat(cur, name.c_str(),
                      O_PATH | O_NOFOLLOW | O_CLOEXEC | (last ? 0 : O_DIRECTORY));
    if (next < 0) return fail("open " + name, errno);
    close(cur);
    cur = next;
    done.push_back(name);
  }
  if (canonical != nullptr) *canonical = Join(done);
  return cur;
}

}  // namespace slipway::build::sandbox_helper
