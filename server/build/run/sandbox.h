#ifndef SLIPWAY_SERVER_BUILD_RUN_SANDBOX_H_
#define SLIPWAY_SERVER_BUILD_RUN_SANDBOX_H_

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace slipway::build {

// A filesystem mounted into the sandbox's root for one RUN (RUN --mount, and the files the
// runtime provides). Targets are absolute paths inside the container; the sandbox resolves
// them inside the new root (a symlink in the image cannot redirect a target outside it:
// symlinks and ".." resolve against the root, as in a chroot). Missing mount points are
// created in the overlay and removed from upper_dir again after the run when they are still
// the empty placeholders the sandbox made (see SandboxSpec.upper_dir).
struct SandboxMount {
  enum class Kind {
    kBind,        // `source` (a host directory or file) bind-mounted at `target`
    kTmpfs,       // an empty tmpfs at `target` (size_bytes, 0 = kernel default)
    kSecretFile,  // `content` as a read-only file at `target`, on a tmpfs private to the run
    kOverlayRo,   // read-only overlay of `lower_dirs` (top first) at `target` (a stage's fs)
  };
  Kind kind = Kind::kBind;
  std::string target;
  std::string source;
  std::vector<std::string> lower_dirs;
  std::string content;       // kSecretFile only; never logged, never written to disk
  bool read_only = true;
  uint32_t mode = 0;         // kSecretFile/kTmpfs: file/dir mode (0 = 0400 / 01777)
  uint32_t uid = 0, gid = 0; // kSecretFile owner
  int64_t size_bytes = 0;    // kTmpfs
};

// One process to run in an isolated root filesystem.
struct SandboxSpec {
  // The image's unpacked layer directories, TOP FIRST (overlay lowerdir order), in overlay
  // whiteout form as UnpackedLayers writes them. May be empty (FROM scratch).
  std::vector<std::string> lower_dirs;
  // Empty directories on the same filesystem, created by the caller. After the run, upper_dir
  // holds exactly the changes the process made to the root filesystem (overlay form) and
  // nothing the runtime added: mount points the sandbox needed, /etc/hosts, /etc/resolv.conf,
  // /proc, /dev and RUN --mount targets never appear in it unless the image lacked the parent
  // directories AND the process itself wrote there.
  std::string upper_dir;
  std::string work_dir;

  std::vector<std::string> argv;          // argv[0] looked up in PATH from `env` when relative
  std::vector<std::string> env;           // "K=V", exactly the process's environment
  std::string cwd = "/";                  // created (0755, uid:gid) when missing, as BuildKit does
  uint32_t uid = 0, gid = 0;
  std::vector<uint32_t> supplementary_gids;
  std::string hostname = "slipway";
  bool network_none = false;              // new empty network namespace (loopback up)
  std::string hosts_file_content;         // mounted at /etc/hosts (empty: a default)
  std::string resolv_conf_path;           // bind-mounted at /etc/resolv.conf (empty: host's)
  std::vector<SandboxMount> mounts;

  std::chrono::milliseconds timeout{0};   // 0 = none; the whole process tree is killed
  const std::atomic<bool>* cancelled = nullptr;  // polled; set → the tree is killed (CANCELLED)
};

// What a run produced.
struct SandboxResult {
  int exit_code = 0;          // the process's exit status, or 128+signal
  std::vector<std::string> last_lines;  // up to 20 last lines of combined output
};

// Receives output line by line as the process writes it (a final unterminated line is
// delivered at exit). `is_stderr` tells the stream. Called from the thread that called
// RunInSandbox.
using SandboxOutput = std::function<void(bool is_stderr, const std::string& line)>;

struct SandboxOptions {
  // The `slipway-sandbox` helper executable (built from sandbox_main.cc), which does the
  // namespace and mount work in a fresh process so slipwayd's threads never fork-and-mount.
  std::string helper_path;
};

// Runs `spec.argv` in new mount, PID, UTS and IPC namespaces (plus network with
// network_none, and cgroup on a cgroup2 host), pivot_root'ed into an overlay of lower_dirs +
// upper_dir, with /proc, /sys (a read-only sysfs, as Docker mounts it; on a cgroup2 host a
// read-only cgroup2 of the sandbox's own cgroup at /sys/fs/cgroup), a minimal /dev (null,
// zero, full, random, urandom, tty, ptmx + devpts, shm), /etc/hosts and /etc/resolv.conf
// provided and kept out of upper_dir. All mounts die with the namespace: a crash of slipwayd
// leaves none behind (its helper's empty scratch directory in /tmp is swept by a later run).
// Returns the result for any exit code (a non-zero exit is not an error here).
//
// Errors: CANCELLED (cancelled flag, the tree was killed), DEADLINE_EXCEEDED (timeout, the tree
// was killed), FAILED_PRECONDITION (namespaces or overlayfs unavailable; message says which),
// INVALID_ARGUMENT (a mount target that is relative or contains ".."; argv empty),
// INTERNAL (the helper failed to set up; its message is passed on, e.g. "cwd /x: not a
// directory", "exec \"foo\": not found"). Thread-safe: concurrent runs are independent.
absl::StatusOr<SandboxResult> RunInSandbox(const SandboxOptions& options,
                                           const SandboxSpec& spec, const SandboxOutput& output);

// Whether RUN can work here: the helper exists, and namespaces and an overlay mount work
// (checked once by a trial run in `scratch_dir`). OK, or FAILED_PRECONDITION saying what is
// missing (e.g. "overlayfs mount failed: Operation not permitted (unprivileged pod?)").
absl::Status ProbeSandbox(const SandboxOptions& options, const std::string& scratch_dir);

}  // namespace slipway::build

#endif  // SLIPWAY_SERVER_BUILD_RUN_SANDBOX_H_
