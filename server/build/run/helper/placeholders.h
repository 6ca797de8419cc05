#ifndef SLIPWAY_SERVER_BUILD_RUN_HELPER_PLACEHOLDERS_H_
#define SLIPWAY_SERVER_BUILD_RUN_HELPER_PLACEHOLDERS_H_

// Keeping the runtime's mount points out of the layer. Part of the slipway-sandbox helper.

#include <string>
#include <vector>

namespace slipway::build::sandbox_helper {

// After the sandbox's mount namespace is gone: removes from `upper_dir` the placeholders the
// sandbox created (paths relative to the root, in creation order) where they are still what
// the sandbox made — an empty directory, an empty regular file, or an overlay whiteout — and
// then the directories overlayfs copied up only to hold them (empty, not opaque, with the same
// mode and owner as in the topmost of `lower_dirs` that has them). Anything the process changed
// stays. Never follows a symlink in upper_dir (the process controlled its content). Returns a
// description of what could not be removed (empty when all is well).
std::string RemovePlaceholders(const std::string& upper_dir,
                               const std::vector<std::string>& lower_dirs,
                               const std::vector<std::string>& created);

}  // namespace slipway::build::sandbox_helper

#endif  // SLIPWAY_SERVER_BUILD_RUN_HELPER_PLACEHOLDERS_H_
