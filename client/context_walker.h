#ifndef SLIPWAY_CLIENT_CONTEXT_WALKER_H_
#define SLIPWAY_CLIENT_CONTEXT_WALKER_H_

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "client/hash_cache.h"
#include "slipway/v1/slipway.pb.h"

namespace slipway::client {

struct ContextWalkOptions {
  std::string context_dir;      // as the user gave it; a symlinked root is resolved once
  std::string dockerfile_path;  // "<dockerfile>.dockerignore" is preferred when it exists
  HashCache* cache = nullptr;   // optional
};

// A regular file whose bytes may have to be uploaded.
struct ContextSource {
  std::string abs_path;
  int64_t size = 0;
  ino_t inode = 0;
  dev_t dev = 0;
};

struct ContextListing {
  std::string root;                       // resolved absolute context root
  std::vector<v1::ContextEntry> entries;  // sorted by path (byte order)
  std::map<std::string, ContextSource> sources;  // "sha256:..." → one file with those bytes
  std::string ignore_file;                // the .dockerignore used ("" = none)
  int64_t files_hashed = 0;               // read and hashed in this walk
  int64_t files_cached = 0;               // digest taken from the hash cache
  int64_t bytes_hashed = 0;
};

// Lists the build context the way `docker build` sees it: .dockerignore rules applied before
// anything is read (excluded directories are not even opened when no exception can reach into
// them), symlinks sent as SYMLINK with their target and never followed (nothing outside the
// root is read), later members of a hard-link group sent as HARDLINK to the first one in path
// order, sockets/devices/fifos skipped. Files are hashed (SHA-256) unless the cache knows them.
// Errors: INVALID_ARGUMENT naming the .dockerignore line; NOT_FOUND / FAILED_PRECONDITION for a
// missing or non-directory context; UNAVAILABLE naming the path for an unreadable entry.
absl::StatusOr<ContextListing> WalkContext(const ContextWalkOptions& options);

}  // namespace slipway::client

#endif  // SLIPWAY_CLIENT_CONTEXT_WALKER_H_
