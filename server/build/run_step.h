#ifndef SLIPWAY_SERVER_BUILD_RUN_STEP_H_
#define SLIPWAY_SERVER_BUILD_RUN_STEP_H_

#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "server/build/build_run.h"
#include "server/build/dockerfile/commands.h"
#include "server/build/image_config.h"
#include "server/build/layer/layer_writer.h"
#include "server/build/run/run_mounts.h"
#include "server/build/run/sandbox.h"
#include "server/build/stage_filesystem.h"

namespace slipway::build {

// A tree a RUN --mount=type=bind can take files from, and what identifies its content.
struct MountSource {
  std::shared_ptr<const SourceTree> tree;
  std::string identity;
};
// Resolves `from=` ("" = the build context; else a stage name/index or an image).
using MountSourceResolver = std::function<absl::StatusOr<MountSource>(const std::string& from)>;

// What one RUN instruction needs from the stage running it.
struct RunStepInput {
  BuildRun* run = nullptr;
  int stage_index = 0;
  int step = 0;                    // for log lines
  const Command* command = nullptr;
  const RunCommand* body = nullptr;
  const ImageConfig* config = nullptr;
  std::vector<std::pair<std::string, std::string>> args_in_scope;  // in the RUN's env only
  StageFilesystem* fs = nullptr;
  MountSourceResolver resolve_source;
};

// One RUN, prepared: its mounts parsed and its inputs named, ready to be looked up in the
// cache and, on a miss, executed.
class RunStep {
 public:
  // Parses mounts and works out everything the cache key covers. INVALID_ARGUMENT for a bad
  // --mount, --network or --security value; NOT_FOUND for a required secret the build lacks
  // or a bind source that does not exist.
  static absl::StatusOr<std::unique_ptr<RunStep>> Prepare(RunStepInput input);

  // What the cache key adds for this RUN: the argv after shell wrapping, the environment, the
  // user, the working directory, the network, and each mount's identity (a bind's content
  // fingerprint, a cache id, a secret id — never a secret's value).
  const std::vector<std::string>& key_parts() const { return key_parts_; }

  // Runs the command in the sandbox and writes the layer its changes make. FAILED_PRECONDITION
  // when RUN cannot work on this host (the reason from the startup probe) or the command exits
  // non-zero (with the command, the exit code and the last lines of output); CANCELLED.
  absl::StatusOr<WrittenLayer> Execute();

  // The history line ("RUN /bin/sh -c make").
  const std::string& created_by() const { return created_by_; }

 private:
  explicit RunStep(RunStepInput input) : in_(std::move(input)) {}
  absl::Status Plan();

  RunStepInput in_;
  std::vector<std::string> argv_;
  std::vector<std::string> env_;
  std::string cwd_;
  bool network_none_ = false;
  std::vector<RunMountSpec> mounts_;
  std::vector<MountSource> mount_sources_;  // per mount (binds only)
  std::vector<std::string> key_parts_;
  std::string created_by_;
  std::string script_;  // a heredoc script with a shebang, run from a private file
};

}  // namespace slipway::build

#endif  // SLIPWAY_SERVER_BUILD_RUN_STEP_H_
