#ifndef SLIPWAY_SERVER_BUILD_RUN_RUN_MOUNTS_H_
#define SLIPWAY_SERVER_BUILD_RUN_RUN_MOUNTS_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"

namespace slipway::build {

// One `RUN --mount=...` flag, parsed as BuildKit's Dockerfile frontend defines it.
struct RunMountSpec {
  enum class Type { kBind, kCache, kTmpfs, kSecret, kSsh };
  Type type = Type::kBind;           // default when type= is missing
  std::string target;                // target= / dst= / destination= (absolute after WORKDIR)
  std::string source;                // source= / src= (path in the context or the `from` stage)
  std::string from;                  // from= (stage name/index or image)
  std::string id;                    // id= (cache: default = target; secret: default = basename of target)
  bool read_only = true;             // bind default ro (rw= / readwrite= flips); cache default rw
  enum class Sharing { kShared, kPrivate, kLocked };
  Sharing sharing = Sharing::kShared;
  bool required = false;             // secret: missing secret is an error
  uint32_t mode = 0;                 // mode= (octal); 0 = default for the type
  uint32_t uid = 0, gid = 0;
  int64_t size_bytes = 0;            // tmpfs size=
};

// Parses one --mount value ("type=cache,target=/root/.cache,id=x"). `workdir` makes a relative
// target absolute. Errors: INVALID_ARGUMENT naming the key ("--mount: unknown key \"foo\"",
// "--mount: type=cache needs target", "--mount: target \"/a/../b\" contains \"..\"",
// "--mount: sharing=x: expected shared, private or locked").
// Keys are case-insensitive; readonly/ro, rw/readwrite and required may be bare (= true) or
// take a Go boolean; fields may be CSV-quoted. Keys that do not fit the type (sharing= without
// type=cache, size= without tmpfs, required= without secret/ssh, mode/uid/gid with bind or
// tmpfs, id= with bind or tmpfs, from= with tmpfs/secret/ssh) are INVALID_ARGUMENT. Defaults:
// read_only is false for cache and tmpfs, true otherwise; secret: id = basename of target,
// target = /run/secrets/<id>; ssh: id = "default", target = /run/buildkit/ssh_agent.0.
absl::StatusOr<RunMountSpec> ParseRunMount(const std::string& value, const std::string& workdir);

// The persistent directories behind `RUN --mount=type=cache`, one per id, under `root` (e.g.
// <data-dir>/run-cache). An id is mapped to a directory name that cannot leave the root
// (hex sha256 of the id, so "../x", "/etc" and "a/../../b" are just names). Survives restarts.
class CacheMountDirs {
 public:
  static absl::StatusOr<std::unique_ptr<CacheMountDirs>> Create(const std::string& root);

  // A held cache directory. For sharing=locked the lock is held until the Lease is destroyed
  // (a second locked run of the same id waits); sharing=private hands out a fresh directory
  // that is removed when released; shared hands out the one directory without a lock.
  // A Lease must not outlive the CacheMountDirs that gave it.
  class Lease {
   public:
    virtual ~Lease() = default;
    virtual const std::string& path() const = 0;
  };
  // Creates the directory on first use (mode `mode` or 0755, owned uid:gid); an existing
  // directory keeps its owner and mode. INVALID_ARGUMENT for an empty id, INTERNAL for I/O
  // errors. Thread-safe; a locked Acquire blocks while another Lease of the id is locked (also
  // one held by another process on the same root, through flock).
  absl::StatusOr<std::unique_ptr<Lease>> Acquire(const std::string& id,
                                                 RunMountSpec::Sharing sharing, uint32_t mode,
                                                 uint32_t uid, uint32_t gid);

 private:
  class LeaseImpl;
  explicit CacheMountDirs(std::string root) : root_(std::move(root)) {}
  // root_/<name>, created atomically (a temp dir renamed into place) when missing.
  absl::StatusOr<std::string> Ensure(const std::string& name, uint32_t mode, uint32_t uid,
                                     uint32_t gid);
  void Unlock(const std::string& name);

  const std::string root_;
  std::atomic<uint64_t> next_temp_{0};
  absl::Mutex mu_;
  absl::flat_hash_set<std::string> locked_ ABSL_GUARDED_BY(mu_);  // names with a locked Lease
};

}  // namespace slipway::build

#endif  // SLIPWAY_SERVER_BUILD_RUN_RUN_MOUNTS_H_
