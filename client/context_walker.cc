#include "client/context_walker.h"

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "storage/digest.h"
#include "storage/file_util.h"
#include "storage/path_pattern.h"

namespace slipway::client {
namespace {

constexpr size_t kHashBuffer = 1 << 20;

absl::Status IoError(absl::string_view op, absl::string_view path, int err) {
  return absl::UnavailableError(absl::StrCat(op, " ", path, ": ", std::strerror(err)));
}

// One walked entry before sorting and hashing.
struct Found {
  v1::ContextEntry entry;
  struct stat st;
};

int64_t MtimeNs(const struct stat& st) {
  return static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
}

class Walker {
 public:
  Walker(const IgnoreMatcher& ignore, std::vector<Found>* out) : ignore_(ignore), out_(out) {}

  // Lists the directory open as `dirfd` (closed here), whose relative path is `rel` ("" root).
  absl::Status Walk(int dirfd, const std::string& rel) {
    DIR* d = ::fdopendir(dirfd);
    if (d == nullptr) {
      int err = errno;
      ::close(dirfd);
      return IoError("cannot list", rel.empty() ? "." : rel, err);
    }
    std::unique_ptr<DIR, int (*)(DIR*)> closer(d, ::closedir);
    std::vector<std::string> names;
    errno = 0;
    while (struct dirent* de = ::readdir(d)) {
      if (std::strcmp(de->d_name, ".") == 0 || std::strcmp(de->d_name, "..") == 0) continue;
      names.emplace_back(de->d_name);
    }
    if (errno != 0) return IoError("cannot list", rel.empty() ? "." : rel, errno);
    std::sort(names.begin(), names.end());
    for (const std::string& name : names) {
      std::string path = rel.empty() ? name : absl::StrCat(rel, "/", name);
      Found f;
      if (::fstatat(dirfd, name.c_str(), &f.st, AT_SYMLINK_NOFOLLOW) != 0) {
        return IoError("cannot stat", path, errno);
      }
      bool excluded = ignore_.Excluded(path);
      v1::ContextEntry& e = f.entry;
      e.set_path(path);
      e.set_mode(f.st.st_mode & 07777);
      e.set_uid(f.st.st_uid);
      e.set_gid(f.st.st_gid);
      e.set_mtime_unix_nanos(MtimeNs(f.st));
      if (S_ISDIR(f.st.st_mode)) {
        if (excluded && ignore_.CanSkipDirectory(path)) continue;
        if (!excluded) {
          e.set_type(v1::ContextEntry::DIRECTORY);
          out_->push_back(f);
        }
        int child = ::openat(dirfd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (child < 0) return IoError("cannot open", path, errno);
        absl::Status s = Walk(child, path);
        if (!s.ok()) return s;
        continue;
      }
      if (excluded) continue;
      if (S_ISREG(f.st.st_mode)) {
        e.set_type(v1::ContextEntry::FILE);
        e.set_size(static_cast<int64_t>(f.st.st_size));
        out_->push_back(std::move(f));
      } else if (S_ISLNK(f.st.st_mode)) {
        // The target is sent as text; it is never followed here.
        std::string target(static_cast<size_t>(f.st.st_size) + 1, '\0');
        ssize_t n = ::readlinkat(dirfd, name.c_str(), target.data(), target.size());
        if (n < 0) return IoError("cannot read link", path, errno);
        target.resize(static_cast<size_t>(n));
        e.set_type(v1::ContextEntry::SYMLINK);
        e.set_link_target(target);
        out_->push_back(std::move(f));
      }
      // Sockets, fifos and devices have no place in a build context: skipped.
    }
    return absl::OkStatus();
  }

 private:
  const IgnoreMatcher& ignore_;
  std::vector<Found>* out_;
};

// Hashes the regular file `rel` under the root, checking it is still the walked inode.
absl::StatusOr<Digest> HashFile(int rootfd, const std::string& rel, const struct stat& walked,
                                int64_t* bytes) {
  int fd = ::openat(rootfd, rel.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return IoError("cannot open", rel, errno);
  struct stat st;
  if (::fstat(fd, &st) != 0 || st.st_ino != walked.st_ino || st.st_dev != walked.st_dev) {
    ::close(fd);
    return absl::AbortedError(absl::StrCat(rel, " changed while the context was read"));
  }
  ::posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
  Sha256Hasher hasher;
  std::unique_ptr<char[]> buf(new char[kHashBuffer]);
  for (;;) {
    ssize_t n = ::read(fd, buf.get(), kHashBuffer);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int err = errno;
      ::close(fd);
      return IoError("cannot read", rel, err);
    }
    if (n == 0) break;
    hasher.Update(buf.get(), static_cast<size_t>(n));
  }
  ::close(fd);
  if (hasher.bytes() != static_cast<int64_t>(walked.st_size)) {
    return absl::AbortedError(absl::StrCat(rel, " changed while the context was read"));
  }
  *bytes += hasher.bytes();
  return hasher.Finish();
}

}  // namespace

absl::StatusOr<ContextListing> WalkContext(const ContextWalkOptions& options) {
  ContextListing listing;
  char resolved[PATH_MAX];
  if (::realpath(options.context_dir.c_str(), resolved) == nullptr) {
    return absl::NotFoundError(
        absl::StrCat("context ", options.context_dir, ": ", std::strerror(errno)));
  }
  listing.root = resolved;

  // .dockerignore: next to the Dockerfile ("<Dockerfile>.dockerignore") wins over the root's.
  std::string ignore_text;
  std::vector<std::string> candidates;
  if (!options.dockerfile_path.empty()) candidates.push_back(options.dockerfile_path + ".dockerignore");
  candidates.push_back(listing.root + "/.dockerignore");
  for (const auto& c : candidates) {
    absl::StatusOr<std::string> text = ReadFileToString(c);
    if (text.ok()) {
      ignore_text = *std::move(text);
      listing.ignore_file = c;
      break;
    }
    if (!absl::IsNotFound(text.status())) return text.status();
  }
  auto ignore = IgnoreMatcher::Parse(ignore_text, listing.ignore_file);
  if (!ignore.ok()) return ignore.status();

  int rootfd = ::open(listing.root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (rootfd < 0) {
    int e = errno;
    if (e == ENOTDIR) {
      return absl::FailedPreconditionError(
          absl::StrCat("context ", options.context_dir, " is not a directory"));
    }
    return IoError("cannot open context", options.context_dir, e);
  }
  std::vector<Found> found;
  Walker walker(*ignore, &found);
  absl::Status walked = walker.Walk(::dup(rootfd), "");
  if (!walked.ok()) {
    ::close(rootfd);
    return walked;
  }
  // Byte order of the full path, the order the server's tree uses (so "a-b" < "a/b").
  std::sort(found.begin(), found.end(), [](const Found& a, const Found& b) {
    return a.entry.path() < b.entry.path();
  });

  struct Inode {
    std::string first_path;
  };
  absl::flat_hash_map<std::pair<dev_t, ino_t>, Inode> links;
  listing.entries.reserve(found.size());
  for (Found& f : found) {
    v1::ContextEntry& e = f.entry;
    if (e.type() == v1::ContextEntry::FILE) {
      if (f.st.st_nlink > 1) {
        auto [it, inserted] = links.try_emplace({f.st.st_dev, f.st.st_ino}, Inode{e.path()});
        if (!inserted) {
          e.set_type(v1::ContextEntry::HARDLINK);
          e.set_link_target(it->second.first_path);
          e.clear_size();
          listing.entries.push_back(std::move(e));
          continue;
        }
      }
      std::string abs = absl::StrCat(listing.root, "/", e.path());
      FileIdentity id = FileIdentity::FromStat(f.st);
      std::optional<Digest> digest;
      if (options.cache != nullptr) digest = options.cache->Lookup(abs, id);
      if (digest) {
        ++listing.files_cached;
      } else {
        auto hashed = HashFile(rootfd, e.path(), f.st, &listing.bytes_hashed);
        if (!hashed.ok()) {
          ::close(rootfd);
          return hashed.status();
        }
        digest = *hashed;
        ++listing.files_hashed;
        if (options.cache != nullptr) options.cache->Put(abs, id, *digest);
      }
      e.set_digest(digest->ToString());
      listing.sources.try_emplace(e.digest(), ContextSource{abs, e.size(), f.st.st_ino,
                                                            f.st.st_dev});
    }
    listing.entries.push_back(std::move(e));
  }
  ::close(rootfd);
  return listing;
}

}  // namespace slipway::client
