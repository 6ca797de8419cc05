#ifndef SLIPWAY_SERVER_BUILD_RUN_HELPER_SCRATCH_DIRS_H_
#define SLIPWAY_SERVER_BUILD_RUN_HELPER_SCRATCH_DIRS_H_

// The helper's scratch directory on the host, and the ones killed helpers left behind. Part of
// the slipway-sandbox helper (single-threaded; plain C++, no abseil).
//
// The scratch directory is "<parent>/slipway-sandbox.<pid>@<pidns>.XXXXXX": <pid> is the
// helper's pid and <pidns> the inode of its PID namespace (/proc/self/ns/pid), so that a sweep
// only ever judges directories of helpers whose liveness it can check — a helper in another
// PID namespace sharing the same /tmp has pids this one cannot see. On the host it stays an
// empty directory (the sandbox mounts its tmpfs there in its own mount namespace only), which
// the helper removes when it ends; a SIGKILLed helper cannot.

#include <string>

namespace slipway::build::sandbox_helper {

// Creates this helper's scratch directory below `parent` (mode 0700). Returns its path, or ""
// with `error` set.
std::string MakeScratchDir(const std::string& parent, std::string* error);

// Removes from `parent` the scratch directories of dead helpers: named as above with this
// helper's PID namespace, a pid for which kill(pid, 0) fails with ESRCH, owned by this
// process's euid, on the same filesystem as `parent` and no mount point, and holding nothing
// but what the sandbox puts there (empty directories "root"/"empty", directories of symlinks
// "root-layers"/"mount-layers-<n>", symlinks, and the files "hosts", "resolv.conf",
// "secret-<n>"). Never follows a symlink; a directory with anything else in it is left as it
// is. A live pid's directory is never touched (a reused pid keeps a leftover: the safe way to
// be wrong). Bounded: looks at most at 65536 entries of `parent` and removes at most 32
// directories per call. Returns how many directories it removed. Errors are not reported:
// a leftover that cannot be removed stays for a later sweep.
int SweepLeftoverScratchDirs(const std::string& parent);

}  // namespace slipway::build::sandbox_helper

#endif  // SLIPWAY_SERVER_BUILD_RUN_HELPER_SCRATCH_DIRS_H_
