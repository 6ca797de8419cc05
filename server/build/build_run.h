#ifndef SLIPWAY_SERVER_BUILD_BUILD_RUN_H_
#define SLIPWAY_SERVER_BUILD_BUILD_RUN_H_

#include <atomic>
#include <future>
#include <map>
#include <memory>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "server/build/base_image.h"
#include "server/build/builder.h"
#include "server/build/dockerfile/parser.h"
#include "server/build/dockerfile/stages.h"
#include "server/build/image_config.h"
#include "server/build/layer/layer_writer.h"
#include "server/build/layer/unpacked_layers.h"
#include "server/build/run/run_mounts.h"
#include "server/build/run/sandbox.h"
#include "server/build/stage_filesystem.h"
#include "storage/blob_store.h"
#include "storage/image_index.h"

namespace slipway::build {

// What a finished stage hands to the stages that use it and to the final image.
struct StageResult {
  ImageConfig config;
  std::shared_ptr<StageFilesystem> fs;
  std::string cache_key;  // the key after the stage's last instruction
  int64_t created_unix = 0;  // the stage's image time (HistoryTimes::Settle)
};
using StageFuture = std::shared_future<absl::StatusOr<std::shared_ptr<const StageResult>>>;

// Everything one build shares between its stage threads. Immutable once the stages start,
// except the atomics.
struct BuildRun {
  const BuildRequest* request = nullptr;
  BuildObserver* observer = nullptr;
  const ParsedDockerfile* dockerfile = nullptr;
  const StagePlan* plan = nullptr;
  BlobStore* store = nullptr;
  ImageIndex* index = nullptr;
  UnpackedLayers* unpacked = nullptr;
  const BaseImagePuller* puller = nullptr;
  const SandboxOptions* sandbox = nullptr;   // RUN
  const absl::Status* run_support = nullptr; // OK when RUN works on this host (startup probe)
  CacheMountDirs* cache_mounts = nullptr;    // RUN --mount=type=cache
  PlatformSpec platform;
  LayerWriteOptions layer_options;
  std::string staging_dir;              // removed when the build ends
  int64_t now_unix = 0;                 // the build's start: the time of what it makes
  bool no_cache = false;
  int total_steps = 0;
  std::vector<int> first_step;          // per stage: the step number of its FROM
  std::vector<StageFuture> stages;      // per stage; invalid for stages the target skips
  std::atomic<bool> failed{false};      // set by the first failing stage: the others stop
  std::atomic<uint64_t> next_run_dir{0}; // names each RUN's scratch directory uniquely

  bool Cancelled() const {
    return failed.load() || (request->cancelled != nullptr && request->cancelled->load());
  }
  // A stage by "AS" name (case-insensitive) or index, usable from stage `from_stage`.
  std::optional<int> StageIndex(const std::string& name_or_index, int from_stage) const;
};

// The stage named `name_or_index` (an "AS" name, case-insensitive, or an index) among the
// first `before` stages of `plan`.
std::optional<int> FindStage(const StagePlan& plan, const std::string& name_or_index,
                             int before);

// Runs stage `index` of `run` (waiting for the stages it names).
absl::StatusOr<std::shared_ptr<const StageResult>> RunStage(BuildRun& run, int index);

// Appends to `parts` what a cache key covers of the entry at `path` in `tree` (symlinks
// followed) and, for a directory, of every entry below it: path, type, mode, owner, size, link
// target and content digest — never the mtime, so a fresh checkout still hits. Shared by COPY
// sources and RUN bind mounts. NOT_FOUND when `path` is absent.
absl::Status AppendTreeFingerprint(const SourceTree& tree, const std::string& path,
                                   std::vector<std::string>* parts);

// Hex sha256 of the parts, each length-prefixed (no ambiguity between "ab"+"c" and "a"+"bc").
std::string CacheKey(const std::vector<std::string>& parts);

}  // namespace slipway::build

#endif  // SLIPWAY_SERVER_BUILD_BUILD_RUN_H_
