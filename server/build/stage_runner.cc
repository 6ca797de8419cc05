// One stage of a build: FROM, then each instruction in order.

#include <chrono>
#include <functional>
#include <cstdlib>
#include <map>
#include <set>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "server/build/build_run.h"
#include "server/build/copy_planner.h"
#include "server/build/history_times.h"
#include "server/build/dockerfile/commands.h"
#include "server/build/run_step.h"
#include "storage/status_macros.h"

namespace slipway::build {
namespace {

using Clock = std::chrono::steady_clock;

int64_t MillisSince(Clock::time_point start) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start).count();
}

std::string Hex(const Digest& d) { return d.hex(); }

// Sends step events for one stage.
class StepReporter {
 public:
  StepReporter(BuildRun& run, int stage_index, std::string stage_name)
      : run_(run), stage_(std::move(stage_name)), step_(run.first_step[stage_index]) {}

  void Start(const std::string& instruction) {
    instruction_ = instruction;
    start_ = Clock::now();
    Send(v1::BuildEvent::STARTED, 0, "");
  }
  void Done(bool cached, int64_t bytes) {
    Send(cached ? v1::BuildEvent::CACHED : v1::BuildEvent::DONE, bytes, "");
    ++step_;
  }
  int step() const { return step_; }
  void Failed(const absl::Status& status) {
    Send(v1::BuildEvent::FAILED, 0, std::string(status.message()));
  }

 private:
  void Send(v1::BuildEvent::State state, int64_t bytes, const std::string& message) {
    v1::BuildEvent e;
    e.set_step(step_);
    e.set_total_steps(run_.total_steps);
    e.set_stage(stage_);
    e.set_instruction(instruction_);
    e.set_state(state);
    e.set_bytes(bytes);
    if (state != v1::BuildEvent::STARTED) e.set_duration_ms(MillisSince(start_));
    e.set_message(message);
    run_.observer->OnEvent(e);
  }

  BuildRun& run_;
  std::string stage_;
  int step_;
  std::string instruction_;
  Clock::time_point start_ = Clock::now();
};

// Prefixes an error with "<file>:<line>: " unless it already names the Dockerfile.
absl::Status AtLine(const BuildRun& run, int line, const absl::Status& s) {
  const std::string& file = run.dockerfile->file_name;
  if (absl::StartsWith(s.message(), file + ":")) return s;
  return absl::Status(s.code(), absl::StrCat(file, ":", line, ": ", s.message()));
}

bool IsNumericOwner(const std::string& chown) {
  if (chown.empty()) return true;
  for (char c : chown) {
    if (!absl::ascii_isdigit(static_cast<unsigned char>(c)) && c != ':') return false;
  }
  return true;
}

bool IsUrl(const std::string& s) {
  return absl::StartsWith(s, "http://") || absl::StartsWith(s, "https://");
}

// The inputs of a COPY/ADD that its cache key covers: every source entry's path, type, mode,
// owner, size, link target and content digest (never mtimes: a fresh checkout must still hit),
// and the identity of the tree they come from.
absl::StatusOr<std::string> SourcesFingerprint(const CopyCommand& copy, const SourceTree& tree,
                                               const std::string& tree_identity) {
  std::vector<std::string> parts{tree_identity};
  for (const std::string& source : copy.sources) {
    if (copy.is_add && IsUrl(source)) {
      parts.push_back(absl::StrCat("url|", source, "|", copy.checksum));
      continue;
    }
    auto matches = tree.Glob(source);
    if (!matches.ok()) return matches.status();
    for (const std::string& path : *matches) {
      SLIPWAY_RETURN_IF_ERROR(AppendTreeFingerprint(tree, path, &parts));
    }
  }
  for (const Heredoc& h : copy.heredocs) parts.push_back(absl::StrCat("heredoc|", h.name, "|", h.content));
  return CacheKey(parts);
}

class StageRunner {
 public:
  StageRunner(BuildRun& run, int index)
      : run_(run),
        index_(index),
        def_(run.plan->stages[index]),
        report_(run, index, def_.name.empty() ? absl::StrCat("stage-", index) : def_.name) {}

  absl::StatusOr<std::shared_ptr<const StageResult>> Run() {
    auto result = std::make_shared<StageResult>();
    result_ = result.get();
    report_.Start(absl::StrCat("FROM ", def_.base,
                               def_.name.empty() ? "" : absl::StrCat(" AS ", def_.name)));
    absl::Status from = From();
    if (!from.ok()) return Fail(AtLine(run_, def_.line, from));
    times_.emplace(run_.now_unix, run_.layer_options.source_date_epoch, base_unix_);
    scope_ = std::make_unique<StageScope>(*run_.plan, result_->config.Env());
    bool from_cached = true;
    int64_t from_bytes = 0;
    absl::Status triggers = RunOnBuildTriggers(&from_cached, &from_bytes);
    if (!triggers.ok()) return Fail(AtLine(run_, def_.line, triggers));
    report_.Done(from_cached, from_bytes);

    for (const Instruction& instruction : def_.instructions) {
      if (run_.Cancelled()) {
        return absl::CancelledError("the build was cancelled");
      }
      report_.Start(instruction.original);
      bool cached = false;
      int64_t bytes = 0;
      absl::Status s = Step(instruction, &cached, &bytes);
      if (!s.ok()) return Fail(AtLine(run_, instruction.line, s));
      report_.Done(cached, bytes);
    }
    result_->created_unix = times_->Settle(result_->config);
    return std::shared_ptr<const StageResult>(std::move(result));
  }

 private:
  absl::Status Fail(const absl::Status& s) {
    if (!absl::IsCancelled(s)) report_.Failed(s);
    run_.failed.store(true);
    return s;
  }

  // The base image's ONBUILD triggers run right after FROM, as part of it, in order; the new
  // image does not inherit them. Errors name the trigger.
  absl::Status RunOnBuildTriggers(bool* cached, int64_t* bytes) {
    std::vector<std::string> triggers = std::move(onbuild_triggers_);
    result_->config.ClearOnBuild();
    for (const std::string& trigger : triggers) {
      auto parsed = ParseDockerfile(absl::StrCat("FROM scratch\n", trigger, "\n"), "ONBUILD");
      if (!parsed.ok() || parsed->instructions.size() < 2) {
        return absl::InvalidArgumentError(absl::StrCat(
            "ONBUILD trigger \"", trigger, "\" of the base image: ",
            parsed.ok() ? "empty" : parsed.status().message()));
      }
      for (size_t i = 1; i < parsed->instructions.size(); ++i) {
        const Instruction& instruction = parsed->instructions[i];
        if (instruction.keyword == "FROM" || instruction.keyword == "ONBUILD" ||
            instruction.keyword == "MAINTAINER") {
          return absl::InvalidArgumentError(absl::StrCat(
              "ONBUILD trigger \"", trigger, "\": ", instruction.keyword, " is not allowed"));
        }
        v1::BuildLog log;
        log.set_step(report_.step());
        log.set_stream(v1::BuildLog::STDOUT);
        log.set_line(absl::StrCat("ONBUILD ", instruction.original));
        run_.observer->OnLog(log);
        bool step_cached = false;
        int64_t step_bytes = 0;
        absl::Status s = Step(instruction, &step_cached, &step_bytes);
        if (!s.ok()) {
          return absl::Status(s.code(), absl::StrCat("ONBUILD trigger \"", trigger, "\": ",
                                                     s.message()));
        }
        *cached = *cached && step_cached;
        *bytes += step_bytes;
      }
    }
    return absl::OkStatus();
  }

  // A stage reached through a stage-level ARG is not in the graph planned up front.
  absl::Status CheckPlanned(int dep, const std::string& name) const {
    if (run_.stages[dep].valid()) return absl::OkStatus();
    return absl::InvalidArgumentError(absl::StrCat(
        "stage \"", name, "\" is named through a variable the stage graph cannot see "
        "(only ARGs declared before the first FROM may name stages)"));
  }

  absl::Status From() {
    const std::string& base = def_.base;
    PlatformSpec platform = run_.platform;
    if (!def_.platform.empty()) {
      std::vector<std::string> parts = absl::StrSplit(def_.platform, '/');
      if (parts.size() < 2) {
        return absl::InvalidArgumentError(absl::StrCat("FROM --platform=", def_.platform,
                                                       ": expected os/arch[/variant]"));
      }
      platform = PlatformSpec{parts[0], parts[1], parts.size() > 2 ? parts[2] : ""};
    }
    if (absl::AsciiStrToLower(base) == "scratch") {
      result_->config = ImageConfig::Scratch(platform);
      result_->fs = std::make_shared<StageFilesystem>(*run_.unpacked);
      result_->cache_key = CacheKey({"scratch", platform.os, platform.architecture,
                                     platform.variant});
      return absl::OkStatus();
    }
    if (auto dep = run_.StageIndex(base, index_); dep.has_value()) {
      SLIPWAY_RETURN_IF_ERROR(CheckPlanned(*dep, base));
      SLIPWAY_ASSIGN_OR_RETURN(auto parent, run_.stages[*dep].get());
      result_->config = parent->config;
      base_unix_ = parent->created_unix;
      result_->fs = std::make_shared<StageFilesystem>(*run_.unpacked);
      for (auto& layer : parent->fs->layers()) result_->fs->Append(layer);
      result_->cache_key = parent->cache_key;
      return absl::OkStatus();
    }
    SLIPWAY_ASSIGN_OR_RETURN(BaseImage image, ResolveImage(base, platform));
    SLIPWAY_ASSIGN_OR_RETURN(result_->config,
                             ImageConfig::FromJson(image.config_json, "base image config"));
    result_->fs = std::make_shared<StageFilesystem>(*run_.unpacked);
    for (size_t i = 0; i < image.layers.size(); ++i) {
      result_->fs->Append({image.layers[i], image.diff_ids[i], nullptr});
    }
    result_->cache_key = CacheKey({"image", image.manifest.ToString()});
    onbuild_triggers_ = result_->config.OnBuild();
    base_unix_ = result_->config.CreatedUnix();
    return absl::OkStatus();
  }

  absl::StatusOr<BaseImage> ResolveImage(const std::string& ref, const PlatformSpec& platform) {
    auto image = ResolveBaseImage(ref, platform, run_.request->spec, *run_.store, *run_.index,
                                  *run_.puller);
    if (!image.ok()) {
      if (absl::IsNotFound(image.status())) {
        return absl::NotFoundError(absl::StrCat("base image \"", ref,
                                                "\" is neither in the store nor in a registry: ",
                                                image.status().message()));
      }
      return image.status();
    }
    // Keep the base's blobs through GC for as long as the build runs.
    std::vector<Digest> digests{image->manifest};
    for (const auto& l : image->layers) digests.push_back(l.digest);
    (void)run_.index->AddToLease(run_.request->lease_id, digests);
    return image;
  }

  absl::Status Step(const Instruction& instruction, bool* cached, int64_t* bytes) {
    SLIPWAY_ASSIGN_OR_RETURN(Command command,
                             ToCommand(instruction, run_.dockerfile->file_name, scope_->Lookup(),
                                       run_.dockerfile->escape));
    ImageConfig& config = result_->config;
    std::vector<std::string> key_parts{result_->cache_key, command.text};
    for (const auto& [name, value] : scope_->ArgsInScope()) {
      key_parts.push_back(absl::StrCat(name, "=", value));
    }
    if (const auto* arg = std::get_if<ArgCommand>(&command.body)) {
      for (const auto& a : arg->args) scope_->DeclareArg(a.name, a.default_value);
      *cached = true;
      result_->cache_key = CacheKey(key_parts);
      return absl::OkStatus();
    }
    if (const auto* env = std::get_if<EnvCommand>(&command.body)) {
      for (const auto& [name, value] : env->vars) scope_->SetEnv(name, value);
      config.SetEnv(scope_->Env());
      times_->Metadata(config.AddHistory(command.text, /*empty_layer=*/true));
      *cached = true;
      result_->cache_key = CacheKey(key_parts);
      return absl::OkStatus();
    }
    if (const auto* run = std::get_if<RunCommand>(&command.body)) {
      return Run(command, *run, std::move(key_parts), cached, bytes);
    }
    if (const auto* copy = std::get_if<CopyCommand>(&command.body)) {
      return Copy(command, *copy, std::move(key_parts), cached, bytes);
    }
    if (const auto* workdir = std::get_if<WorkdirCommand>(&command.body)) {
      // Relative WORKDIRs build on the previous one.
      Command resolved = command;
      std::string path = workdir->path;
      if (!absl::StartsWith(path, "/")) {
        std::string base = config.WorkingDir();
        path = absl::StrCat(base, absl::EndsWith(base, "/") ? "" : "/", path);
      }
      resolved.body = WorkdirCommand{path};
      SLIPWAY_RETURN_IF_ERROR(config.Apply(resolved));
      pending_workdir_ = path;
    } else {
      SLIPWAY_RETURN_IF_ERROR(config.Apply(command));
    }
    times_->Metadata(config.AddHistory(command.text, /*empty_layer=*/true));
    *cached = true;
    result_->cache_key = CacheKey(key_parts);
    return absl::OkStatus();
  }

  // The tree COPY takes files from, and what identifies its content for the cache key.
  absl::StatusOr<std::shared_ptr<const SourceTree>> SourceFor(const std::string& from,
                                                              std::string* identity) {
    if (from.empty()) {
      *identity = "context";
      // The context outlives the build; a non-owning shared_ptr.
      return std::shared_ptr<const SourceTree>(std::shared_ptr<const SourceTree>(),
                                               run_.request->context);
    }
    if (auto dep = run_.StageIndex(from, index_); dep.has_value()) {
      SLIPWAY_RETURN_IF_ERROR(CheckPlanned(*dep, from));
      SLIPWAY_ASSIGN_OR_RETURN(auto stage, run_.stages[*dep].get());
      *identity = absl::StrCat("stage|", stage->cache_key);
      return stage->fs->View();
    }
    SLIPWAY_ASSIGN_OR_RETURN(BaseImage image, ResolveImage(from, run_.platform));
    *identity = absl::StrCat("image|", image.manifest.ToString());
    StageFilesystem fs(*run_.unpacked);
    for (size_t i = 0; i < image.layers.size(); ++i) {
      fs.Append({image.layers[i], image.diff_ids[i], nullptr});
    }
    return fs.View();
  }

  // A step that makes a layer: looked up in the cache by `key`, else `produce`d, recorded in
  // the cache and appended. `entries` (optional) are the new layer's entries by path, kept in
  // memory so later COPYs can look at them without unpacking.
  using Produced = std::pair<WrittenLayer, std::shared_ptr<std::map<std::string, LayerEntry>>>;
  absl::Status LayerStep(const std::string& key, const std::string& created_by,
                         const std::function<absl::StatusOr<Produced>()>& produce, bool* cached,
                         int64_t* bytes) {
    ImageConfig& config = result_->config;
    // The state after this step is named by what it produced (the parent state + the layer's
    // diff_id), not by its inputs: a step that missed but produced the same layer lets the
    // steps after it hit again.
    const std::string parent_state = result_->cache_key;
    auto state_after = [&parent_state](const Digest& diff_id) {
      return CacheKey({parent_state, "layer", diff_id.ToString()});
    };
    if (!run_.no_cache) {
      auto hit = run_.index->FindBuildCache(key);
      if (hit.ok()) {
        // Lease first, then check the blob: GC cannot remove it in between.
        (void)run_.index->AddToLease(run_.request->lease_id, {hit->layer.digest});
        if (run_.store->Stat(hit->layer.digest).ok()) {
          result_->fs->Append({hit->layer, hit->diff_id, nullptr});
          config.AddLayer(hit->diff_id);
          times_->Layer(config.AddHistory(created_by, /*empty_layer=*/false), hit->built_unix);
          result_->cache_key = state_after(hit->diff_id);
          *cached = true;
          *bytes = hit->layer.size;
          return absl::OkStatus();
        }
      }
    }
    SLIPWAY_ASSIGN_OR_RETURN(Produced produced, produce());
    const WrittenLayer& layer = produced.first;
    (void)run_.index->AddToLease(run_.request->lease_id, {layer.blob.digest});
    BuildCacheEntry entry;
    entry.key = key;
    entry.layer = layer.blob;
    entry.diff_id = layer.diff_id;
    entry.uncompressed_size = layer.uncompressed_size;
    entry.built_unix = run_.now_unix;
    SLIPWAY_RETURN_IF_ERROR(run_.index->PutBuildCache(entry));

    result_->fs->Append({layer.blob, layer.diff_id, std::move(produced.second)});
    config.AddLayer(layer.diff_id);
    times_->Layer(config.AddHistory(created_by, /*empty_layer=*/false), run_.now_unix);
    result_->cache_key = state_after(layer.diff_id);
    *bytes = layer.blob.size;
    return absl::OkStatus();
  }

  // The same files compressed another way are another layer.
  std::string CompressionKeyPart() const {
    return absl::StrCat("compression=", static_cast<int>(run_.layer_options.compression), "/",
                        run_.layer_options.level);
  }

  absl::Status Copy(const Command& command, const CopyCommand& copy,
                    std::vector<std::string> key_parts, bool* cached, int64_t* bytes) {
    ImageConfig& config = result_->config;
    std::string identity;
    SLIPWAY_ASSIGN_OR_RETURN(auto source, SourceFor(copy.from, &identity));
    SLIPWAY_ASSIGN_OR_RETURN(std::string fingerprint,
                             SourcesFingerprint(copy, *source, identity));
    key_parts.push_back(fingerprint);
    key_parts.push_back(absl::StrCat("workdir=", config.WorkingDir()));
    key_parts.push_back(CompressionKeyPart());
    key_parts.push_back(absl::StrCat("pending=", copy.link ? "" : pending_workdir_));
    // COPY --link does not look at the filesystem below it, so its layer does not depend on
    // the steps before it: its key leaves the parent out, and it hits even after they changed.
    if (copy.link) key_parts[0] = "link";

    auto produce = [&]() -> absl::StatusOr<Produced> {
      std::shared_ptr<const SourceTree> rootfs;
      if (!copy.link || !IsNumericOwner(copy.chown)) {
        SLIPWAY_ASSIGN_OR_RETURN(rootfs, result_->fs->View());
      }
      SLIPWAY_ASSIGN_OR_RETURN(Ownership owner, ResolveChown(copy.chown, rootfs.get()));
      CopyPlanRequest plan;
      plan.command = &copy;
      plan.source = source.get();
      plan.rootfs = copy.link ? nullptr : rootfs.get();
      plan.workdir = config.WorkingDir();
      plan.owner = owner;
      plan.source_date_epoch = run_.layer_options.source_date_epoch;
      const std::string staging = absl::StrCat(run_.staging_dir, "/", index_, "-", command.line);
      SLIPWAY_ASSIGN_OR_RETURN(std::vector<LayerEntry> entries, PlanCopy(plan, staging));
      if (!copy.link) AddPendingWorkdir(*rootfs, &entries);
      auto by_path = std::make_shared<std::map<std::string, LayerEntry>>();
      for (const LayerEntry& e : entries) (*by_path)[e.path] = e;
      SLIPWAY_ASSIGN_OR_RETURN(WrittenLayer layer,
                               WriteLayer(std::move(entries), run_.layer_options, *run_.store,
                                          run_.index));
      return Produced{layer, std::move(by_path)};
    };
    SLIPWAY_RETURN_IF_ERROR(LayerStep(CacheKey(key_parts), command.text, produce, cached, bytes));
    if (!copy.link) pending_workdir_.clear();
    return absl::OkStatus();
  }

  absl::Status Run(const Command& command, const RunCommand& body,
                   std::vector<std::string> key_parts, bool* cached, int64_t* bytes) {
    RunStepInput input;
    input.run = &run_;
    input.stage_index = index_;
    input.step = report_.step();
    input.command = &command;
    input.body = &body;
    input.config = &result_->config;
    input.args_in_scope = scope_->ArgsInScope();
    input.fs = result_->fs.get();
    input.resolve_source = [this](const std::string& from) -> absl::StatusOr<MountSource> {
      MountSource source;
      SLIPWAY_ASSIGN_OR_RETURN(source.tree, SourceFor(from, &source.identity));
      return source;
    };
    SLIPWAY_ASSIGN_OR_RETURN(std::unique_ptr<RunStep> step, RunStep::Prepare(std::move(input)));
    for (const std::string& part : step->key_parts()) key_parts.push_back(part);
    key_parts.push_back(CompressionKeyPart());
    auto produce = [&]() -> absl::StatusOr<Produced> {
      SLIPWAY_ASSIGN_OR_RETURN(WrittenLayer layer, step->Execute());
      return Produced{layer, nullptr};
    };
    SLIPWAY_RETURN_IF_ERROR(LayerStep(CacheKey(key_parts), step->created_by(), produce, cached,
                                      bytes));
    // The sandbox created the working directory in the layer when it was missing.
    pending_workdir_.clear();
    return absl::OkStatus();
  }

  // WORKDIR creates its directory (as Docker and buildah do) when it does not exist yet. There
  // is no layer for WORKDIR itself (history says empty_layer), so the directory travels in the
  // next COPY/ADD layer; parents too, 0755 root-owned.
  void AddPendingWorkdir(const SourceTree& rootfs, std::vector<LayerEntry>* entries) const {
    if (pending_workdir_.empty()) return;
    std::set<std::string> present;
    for (const LayerEntry& e : *entries) present.insert(e.path);
    std::string path;
    for (absl::string_view part : absl::StrSplit(pending_workdir_, '/', absl::SkipEmpty())) {
      if (part == "." || part == "..") return;  // not worth resolving: leave it to the runtime
      path = path.empty() ? std::string(part) : absl::StrCat(path, "/", part);
      if (present.count(path) > 0 || rootfs.Stat(path, /*follow=*/true).ok()) continue;
      LayerEntry dir;
      dir.path = path;
      dir.type = EntryType::kDirectory;
      dir.mode = 0755;
      dir.mtime_unix_nanos = run_.layer_options.source_date_epoch.value_or(
                                 absl::ToUnixSeconds(absl::Now())) * 1'000'000'000;
      entries->push_back(dir);
      present.insert(path);
    }
  }

  BuildRun& run_;
  int index_;
  std::string pending_workdir_;
  std::vector<std::string> onbuild_triggers_;  // of the base image, run right after FROM
  const StageDefinition& def_;
  StepReporter report_;
  StageResult* result_ = nullptr;
  std::optional<int64_t> base_unix_;      // the base image's time; none for scratch
  std::optional<HistoryTimes> times_;     // from right after FROM
  std::unique_ptr<StageScope> scope_;
};

}  // namespace

absl::Status AppendTreeFingerprint(const SourceTree& tree, const std::string& path,
                                   std::vector<std::string>* parts) {
  auto fingerprint = [](const LayerEntry& e) {
    return absl::StrCat(e.path, "|", static_cast<int>(e.type), "|", e.mode, "|", e.uid, ":",
                        e.gid, "|", e.size, "|", e.link_target, "|", e.content_digest);
  };
  SLIPWAY_ASSIGN_OR_RETURN(LayerEntry entry, tree.Stat(path, /*follow=*/true));
  parts->push_back(fingerprint(entry));
  if (entry.type != EntryType::kDirectory) return absl::OkStatus();
  SLIPWAY_ASSIGN_OR_RETURN(std::vector<LayerEntry> below,
                           tree.Walk(entry.path.empty() ? path : entry.path));
  for (const LayerEntry& e : below) parts->push_back(fingerprint(e));
  return absl::OkStatus();
}

std::string CacheKey(const std::vector<std::string>& parts) {
  Sha256Hasher hasher;
  for (const std::string& part : parts) {
    const std::string length = absl::StrCat(part.size(), ":");
    hasher.Update(length);
    hasher.Update(part);
  }
  return hasher.Finish().hex();
}

std::optional<int> FindStage(const StagePlan& plan, const std::string& name_or_index,
                             int before) {
  const std::string lower = absl::AsciiStrToLower(name_or_index);
  for (int i = 0; i < before; ++i) {
    if (!plan.stages[i].name.empty() && plan.stages[i].name == lower) return i;
  }
  int n = 0;
  if (absl::SimpleAtoi(name_or_index, &n) && n >= 0 && n < before) return n;
  return std::nullopt;
}

std::optional<int> BuildRun::StageIndex(const std::string& name_or_index, int from_stage) const {
  return FindStage(*plan, name_or_index, from_stage);
}

absl::StatusOr<std::shared_ptr<const StageResult>> RunStage(BuildRun& run, int index) {
  return StageRunner(run, index).Run();
}

}  // namespace slipway::build
