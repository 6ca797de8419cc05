#ifndef SLIPWAY_SERVER_BUILD_COPY_PLANNER_H_
#define SLIPWAY_SERVER_BUILD_COPY_PLANNER_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "server/build/dockerfile/commands.h"
#include "server/build/layer/layer_entry.h"
#include "server/build/layer/source_tree.h"

namespace slipway::build {

struct Ownership {
  uint32_t uid = 0, gid = 0;
};

// Resolves `--chown=user[:group]` (names or numeric ids) against the stage's filesystem
// (/etc/passwd, /etc/group), as Docker does: "user" alone takes the user's primary group; a
// numeric id needs no file; an empty spec is 0:0. INVALID_ARGUMENT naming the user or group
// when it is not found (or when /etc/passwd is missing and a name was given).
absl::StatusOr<Ownership> ResolveChown(const std::string& chown, const SourceTree* rootfs);

struct CopyPlanRequest {
  const CopyCommand* command = nullptr;
  // Where sources come from: the build context, or the --from stage/image filesystem.
  const SourceTree* source = nullptr;
  // The stage's filesystem before this step (to learn whether the destination is an existing
  // directory and to give created parent directories the metadata they already have); null
  // for scratch or --link.
  const SourceTree* rootfs = nullptr;
  std::string workdir = "/";           // the stage's WORKDIR, for relative destinations
  Ownership owner;                      // from ResolveChown
  std::optional<int64_t> source_date_epoch;
};

// The layer entries one COPY (or ADD of local files and archives) produces, with Docker's rules:
// wildcards (no match = NOT_FOUND naming the pattern, as Docker reports it), `--exclude`
// patterns, a directory source copies its contents, a destination ending in "/" or several
// sources make a directory, relative destinations are under WORKDIR, missing parent
// directories are created, ownership from --chown (else 0:0 for context files, kept for --from
// files), --chmod, symlinks copied as symlinks except a source named directly is followed, hard
// links inside one source kept. ADD also unpacks local tar archives (by content) into the
// destination. Heredoc COPY makes one file per heredoc. Sources never leave their tree.
// `staging_dir` receives extracted archives and heredoc files (caller removes it after the
// layer is written). INVALID_ARGUMENT / NOT_FOUND messages name the source.
absl::StatusOr<std::vector<LayerEntry>> PlanCopy(const CopyPlanRequest& request,
                                                 const std::string& staging_dir);

}  // namespace slipway::build

#endif  // SLIPWAY_SERVER_BUILD_COPY_PLANNER_H_
