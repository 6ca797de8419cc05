#ifndef SLIPWAY_CLIENT_HASH_CACHE_H_
#define SLIPWAY_CLIENT_HASH_CACHE_H_

#include <sys/stat.h>

#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "client/connection.h"
#include "storage/digest.h"

namespace slipway::client {

// What a file's digest is remembered by: if any of these change the file is hashed again.
struct FileIdentity {
  int64_t size = 0;
  int64_t mtime_ns = 0;
  int64_t ctime_ns = 0;  // catches a rewrite that restored the mtime
  uint64_t inode = 0;
  uint64_t dev = 0;

  static FileIdentity FromStat(const struct stat& st);
  bool operator==(const FileIdentity& o) const {
    return size == o.size && mtime_ns == o.mtime_ns && ctime_ns == o.ctime_ns &&
           inode == o.inode && dev == o.dev;
  }
};

// The client's persistent "absolute path + identity → sha256" memory, one file per context
// root, so an unchanged file is never read again on a rebuild. A missing, unreadable or corrupt
// cache file is treated as empty (the cache is an optimisation, never a source of truth beyond
// the identity check). Save() keeps only the entries used in this run and writes atomically
// (temp file + rename). Not thread-safe.
class HashCache {
 public:
  // The directory caches live in: $SLIPWAY_CACHE_DIR, else $XDG_CACHE_HOME/slipway, else
  // $HOME/.cache/slipway. Empty when none can be determined (caching then disabled).
  static std::string DefaultDirectory(const EnvLookup& env);

  // Loads the cache for `context_root` (an absolute, resolved path) from `cache_dir`.
  // An empty `cache_dir` disables persistence.
  static HashCache Load(const std::string& cache_dir, const std::string& context_root);

  // The remembered digest when `identity` matches exactly.
  std::optional<Digest> Lookup(const std::string& abs_path, const FileIdentity& identity);
  void Put(const std::string& abs_path, const FileIdentity& identity, const Digest& digest);

  // Writes the cache if anything changed (new digests or entries no longer used). Errors are
  // returned for the caller to report as a warning; the build does not depend on them.
  absl::Status Save();

  const std::string& file() const { return file_; }
  bool loaded_corrupt() const { return loaded_corrupt_; }

 private:
  struct Entry {
    FileIdentity identity;
    std::string hex;
    bool used = false;
  };
  std::string file_;  // empty: memory only
  std::unordered_map<std::string, Entry> entries_;
  bool dirty_ = false;
  bool loaded_corrupt_ = false;
};

}  // namespace slipway::client

#endif  // SLIPWAY_CLIENT_HASH_CACHE_H_
