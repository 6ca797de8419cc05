#ifndef SLIPWAY_SERVER_BUILD_RUN_HELPER_IN_ROOT_H_
#define SLIPWAY_SERVER_BUILD_RUN_HELPER_IN_ROOT_H_

// Paths inside the sandbox's root, resolved the way the contained process would see them:
// symlinks (absolute or relative) and ".." are resolved against the root directory, never the
// host's, so an image cannot redirect a mount target outside its root (the semantics of
// openat2's RESOLVE_IN_ROOT, done component by component so every kernel behaves the same).
// Part of the slipway-sandbox helper (single-threaded; plain C++, no abseil).

#include <string>
#include <vector>

namespace slipway::build::sandbox_helper {

// What to create for a missing last component (missing intermediate components are always
// created as directories).
enum class CreateAs { kNothing, kDirectory, kFile };

// Resolves `path` (absolute, inside the root open as `root_fd`) and returns an O_PATH fd of
// it (close it), or -1 with `error` set. Missing components are created (0755 directories,
// 0644 empty files; owned by the caller, i.e. root) when `create` is not kNothing, and their
// canonical paths relative to the root ("etc", "etc/hosts") appended to `created` in order.
// `canonical` (optional) receives the resolved path relative to the root ("" = the root).
int OpenInRoot(int root_fd, const std::string& path, CreateAs create,
               std::vector<std::string>* created, std::string* canonical, std::string* error);

// "/proc/self/fd/<fd>": a path the mount syscalls accept for an fd (used before pivot_root,
// while /proc is still the host's).
std::string FdPath(int fd);

}  // namespace slipway::build::sandbox_helper

#endif  // SLIPWAY_SERVER_BUILD_RUN_HELPER_IN_ROOT_H_
