#include "client/hash_cache.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "storage/file_util.h"

namespace slipway::client {
namespace {

// Format: a header line, then one line per file:
//   <size> <mtime_ns> <ctime_ns> <inode> <dev> <64 hex>\t<absolute path>\n
// Paths may contain anything but '\n' and '\0'; files with a '\n' in the path are not cached.
constexpr absl::string_view kHeader = "slipway-hash-cache v1\n";

bool MakeDirs(const std::string& dir) {
  if (dir.empty()) return false;
  std::string partial;
  for (absl::string_view part : absl::StrSplit(dir, '/')) {
    partial += std::string(part) + "/";
    if (part.empty()) continue;
    if (::mkdir(partial.c_str(), 0700) != 0 && errno != EEXIST) return false;
  }
  return true;
}

bool IsHex64(absl::string_view s) {
  if (s.size() != 64) return false;
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

}  // namespace

FileIdentity FileIdentity::FromStat(const struct stat& st) {
  FileIdentity id;
  id.size = static_cast<int64_t>(st.st_size);
  id.mtime_ns = static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
  id.ctime_ns = static_cast<int64_t>(st.st_ctim.tv_sec) * 1000000000 + st.st_ctim.tv_nsec;
  id.inode = static_cast<uint64_t>(st.st_ino);
  id.dev = static_cast<uint64_t>(st.st_dev);
  return id;
}

std::string HashCache::DefaultDirectory(const EnvLookup& env) {
  if (auto d = env("SLIPWAY_CACHE_DIR"); d && !d->empty()) return *d;
  if (auto x = env("XDG_CACHE_HOME"); x && !x->empty()) return *x + "/slipway";
  if (auto h = env("HOME"); h && !h->empty()) return *h + "/.cache/slipway";
  return "";
}

HashCache HashCache::Load(const std::string& cache_dir, const std::string& context_root) {
  HashCache cache;
  if (cache_dir.empty()) return cache;
  // One file per context root keeps files small (fast to load) and pruning trivial.
  cache.file_ = absl::StrCat(cache_dir, "/hashes-", Sha256Of(context_root).hex().substr(0, 24));
  std::string text;
  absl::StatusOr<std::string> read = ReadFileToString(cache.file_);
  if (!read.ok()) return cache;
  text = *std::move(read);
  auto corrupt = [&cache] {
    cache.entries_.clear();
    cache.loaded_corrupt_ = true;
    cache.dirty_ = true;  // rewrite it
    return std::move(cache);
  };
  if (!absl::StartsWith(text, kHeader)) return corrupt();
  absl::string_view rest = absl::string_view(text).substr(kHeader.size());
  while (!rest.empty()) {
    size_t nl = rest.find('\n');
    if (nl == absl::string_view::npos) return corrupt();  // truncated last line
    absl::string_view line = rest.substr(0, nl);
    rest.remove_prefix(nl + 1);
    size_t tab = line.find('\t');
    if (tab == absl::string_view::npos) return corrupt();
    std::vector<absl::string_view> f = absl::StrSplit(line.substr(0, tab), ' ');
    if (f.size() != 6 || !IsHex64(f[5])) return corrupt();
    Entry e;
    if (!absl::SimpleAtoi(f[0], &e.identity.size) || !absl::SimpleAtoi(f[1], &e.identity.mtime_ns) ||
        !absl::SimpleAtoi(f[2], &e.identity.ctime_ns) ||
        !absl::SimpleAtoi(f[3], &e.identity.inode) || !absl::SimpleAtoi(f[4], &e.identity.dev)) {
      return corrupt();
    }
    e.hex = std::string(f[5]);
    cache.entries_.emplace(std::string(line.substr(tab + 1)), std::move(e));
  }
  return cache;
}

std::optional<Digest> HashCache::Lookup(const std::string& abs_path,
                                        const FileIdentity& identity) {
  auto it = entries_.find(abs_path);
  if (it == entries_.end() || !(it->second.identity == identity)) return std::nullopt;
  auto d = Digest::FromHex(it->second.hex);
  if (!d.ok()) return std::nullopt;
  it->second.used = true;
  return *d;
}

void HashCache::Put(const std::string& abs_path, const FileIdentity& identity,
                    const Digest& digest) {
  if (abs_path.find('\n') != std::string::npos) return;
  Entry& e = entries_[abs_path];
  e.identity = identity;
  e.hex = digest.hex();
  e.used = true;
  dirty_ = true;
}

absl::Status HashCache::Save() {
  if (file_.empty()) return absl::OkStatus();
  // Entries not used in this run belong to deleted or changed files: dropping them is a change.
  std::string out(kHeader);
  size_t kept = 0;
  for (const auto& [path, e] : entries_) {
    if (!e.used) continue;
    ++kept;
    absl::StrAppend(&out, e.identity.size, " ", e.identity.mtime_ns, " ", e.identity.ctime_ns,
                    " ", e.identity.inode, " ", e.identity.dev, " ", e.hex, "\t", path, "\n");
  }
  if (!dirty_ && kept == entries_.size()) return absl::OkStatus();
  std::string dir = file_.substr(0, file_.rfind('/'));
  if (!MakeDirs(dir)) {
    return absl::UnavailableError(absl::StrCat("cannot create ", dir, ": ", std::strerror(errno)));
  }
  std::string tmp = absl::StrCat(file_, ".tmp.", ::getpid());
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) {
    return absl::UnavailableError(absl::StrCat("cannot write ", tmp, ": ", std::strerror(errno)));
  }
  size_t done = 0;
  while (done < out.size()) {
    ssize_t n = ::write(fd, out.data() + done, out.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      int err = errno;
      ::close(fd);
      ::unlink(tmp.c_str());
      return absl::UnavailableError(absl::StrCat("cannot write ", tmp, ": ", std::strerror(err)));
    }
    done += static_cast<size_t>(n);
  }
  // No fsync: losing the cache in a crash only costs re-hashing; a torn file is detected as
  // corrupt because every line must end in '\n' and parse.
  if (::close(fd) != 0 || ::rename(tmp.c_str(), file_.c_str()) != 0) {
    int err = errno;
    ::unlink(tmp.c_str());
    return absl::UnavailableError(absl::StrCat("cannot replace ", file_, ": ", std::strerror(err)));
  }
  dirty_ = false;
  return absl::OkStatus();
}

}  // namespace slipway::client
