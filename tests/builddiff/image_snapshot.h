#ifndef SLIPWAY_TESTS_BUILDDIFF_IMAGE_SNAPSHOT_H_
#define SLIPWAY_TESTS_BUILDDIFF_IMAGE_SNAPSHOT_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"
#include "tests/builddiff/rootfs_snapshot.h"

namespace slipway::testing {

// What one built image is compared on: its flattened root filesystem, the runtime-relevant
// config fields, and its layer/history counts.
struct ImageSnapshot {
  FsSnapshot fs;
  // Only the compared fields of the image config's "config" object (see NormalizeConfig).
  nlohmann::json config = nlohmann::json::object();
  int layers = 0;             // rootfs.diff_ids
  int non_empty_history = 0;  // history entries without empty_layer
};

// Keeps Env, Cmd, Entrypoint, WorkingDir, User, ExposedPorts, Volumes, Labels, StopSignal,
// Healthcheck, OnBuild of a config's "config" object. Normalised: buildah's own
// "io.buildah.version" label is dropped; null, absent, "" and empty arrays/objects are all
// "absent" (tools differ in which they write, the runtime treats them alike).
nlohmann::json NormalizeConfig(const nlohmann::json& config_object);

// Fills layers/non_empty_history/config from a whole image config JSON document.
absl::Status ReadImageConfig(const std::string& config_json, ImageSnapshot* out);

// Reads an OCI layout directory `layout` holding `tag`: the config through index.json and the
// manifest, and the root filesystem unpacked by umoci (as root, so owners are kept) into
// `scratch_dir`/bundle (scratch_dir must exist, bundle must not). Errors name the file or the
// failing command with its output.
absl::StatusOr<ImageSnapshot> LoadOciImage(const std::string& layout, const std::string& tag,
                                           const std::string& scratch_dir);

// Per-case allowances for known differences of the reference builder (documented at the case).
struct DiffOptions {
  bool compare_mtimes = true;  // non-directory mtimes, whole seconds
  // Files and directories under these path prefixes are compared without setuid/setgid
  // bits: buildah 1.28 loses them when it copies from the context (a file's setuid/setgid,
  // a directory's setgid; the sticky bit survives), which Docker does not.
  std::vector<std::string> ignore_setid_under;
  bool compare_history = true;
  // buildah's chroot isolation leaves the mount points it made for a RUN in the image (empty
  // /dev, /proc, /sys, /run, /etc/hostname, /etc/hosts, /etc/resolv.conf, and the parents of
  // RUN --mount targets); Docker (BuildKit) and Slipway keep them out. These paths are excused
  // when only the first image has them and they are empty.
  std::vector<std::string> reference_may_add_empty;
  // Paths whose hard-link grouping is not compared: buildah 1.28 writes a hard link made in a
  // RUN to a file of a lower layer as two separate files (the overlay upper directory, and so
  // Docker's layer, keeps the link).
  std::vector<std::string> ignore_hardlink_grouping_of;
};

// The whole snapshot as text, one line per entry (`ls -l`-like, sorted by path) followed by
// the config and counts: for BUILDDIFF_DUMP_DIR listings.
std::string FormatSnapshot(const ImageSnapshot& snap);

// Human-readable differences between `a` (named a_name) and `b`; empty when equal. At most
// `max_lines` lines (a final "... N more" line says what was left out).
std::vector<std::string> DiffImages(const ImageSnapshot& a, const std::string& a_name,
                                    const ImageSnapshot& b, const std::string& b_name,
                                    const DiffOptions& options, size_t max_lines = 200);

}  // namespace slipway::testing

#endif  // SLIPWAY_TESTS_BUILDDIFF_IMAGE_SNAPSHOT_H_
