#ifndef SLIPWAY_SERVER_BUILD_RUN_HELPER_ROOT_SETUP_H_
#define SLIPWAY_SERVER_BUILD_RUN_HELPER_ROOT_SETUP_H_

// The sandbox's root filesystem: done by the sandbox's PID 1, after it entered its own mount,
// UTS, IPC (and network) namespaces. Part of the slipway-sandbox helper.

#include <string>
#include <vector>

#include "server/build/run/sandbox.h"

namespace slipway::build::sandbox_helper {

struct SetupError {
  std::string message;
  bool precondition = false;  // the host cannot do this at all (vs. this run's input is bad)
};

// Makes all mounts private, mounts a tmpfs on `scratch_dir` (a host directory, empty; the
// tmpfs only exists in this mount namespace), the overlay root of spec.lower_dirs/upper_dir/
// work_dir, /proc, /sys (read-only; with `mount_cgroup2`, a read-only cgroup2 at
// /sys/fs/cgroup — the caller must have entered a new cgroup namespace for it to show only the
// sandbox's own cgroup), /dev, /etc/hosts, /etc/resolv.conf and spec.mounts, then
// pivot_root()s into it and detaches the host's tree. Placeholders it created in the overlay
// (missing mount points), relative to the root, are appended to `created` as they are made (so
// they can be removed from upper_dir even if a later step fails). Returns false with `error`
// set on failure; the namespace is then unusable.
bool SetUpRoot(const SandboxSpec& spec, const std::string& scratch_dir, bool mount_cgroup2,
               std::vector<std::string>* created, SetupError* error);

// Whether the host's /sys/fs/cgroup is the cgroup2 (unified) hierarchy, as seen by the caller
// (call it before pivot_root).
bool HostHasCgroup2();

// Brings up the loopback interface of a new network namespace.
bool LoopbackUp(SetupError* error);

}  // namespace slipway::build::sandbox_helper

#endif  // SLIPWAY_SERVER_BUILD_RUN_HELPER_ROOT_SETUP_H_
