#include "server/build/native_builder.h"

#include <filesystem>
#include <map>
#include <set>
#include <thread>
#include <utility>

#include "absl/random/random.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "server/build/build_run.h"
#include "server/build/dockerfile/variable_expander.h"
#include "storage/image_name.h"
#include "storage/manifest.h"
#include "storage/media_types.h"
#include "storage/status_macros.h"

namespace slipway::build {
namespace {

PlatformSpec RequestedPlatform(const v1::BuildSpec& spec) {
  PlatformSpec p{"linux", "amd64", ""};
  if (!spec.platform().os().empty()) p.os = spec.platform().os();
  if (!spec.platform().architecture().empty()) p.architecture = spec.platform().architecture();
  p.variant = spec.platform().variant();
  return p;
}

// The stages a stage names: its FROM (when that is an earlier stage) and every COPY --from.
// --from values are expanded with the global ARGs only (as the stage graph must be known before
// any stage runs).
std::set<int> Dependencies(const BuildRun& run, int index) {
  std::set<int> deps;
  const StageDefinition& def = run.plan->stages[index];
  if (auto d = run.StageIndex(def.base, index)) deps.insert(*d);
  VariableLookup globals = [&run](absl::string_view name) -> std::optional<std::string> {
    auto it = run.plan->global_args.find(std::string(name));
    if (it == run.plan->global_args.end()) return std::nullopt;
    return it->second;
  };
  for (const Instruction& instruction : def.instructions) {
    for (const InstructionFlag& flag : instruction.flags) {
      if (flag.name != "from" || (instruction.keyword != "COPY" && instruction.keyword != "ADD")) {
        continue;
      }
      auto value = ExpandWord(flag.value, globals, {run.dockerfile->escape, nullptr});
      if (!value.ok()) continue;  // reported when the instruction runs
      if (auto d = run.StageIndex(*value, index)) deps.insert(*d);
    }
  }
  return deps;
}

std::string ToLayerMediaType(const Descriptor& layer, bool docker) {
  if (!docker) return layer.media_type;
  if (layer.media_type == media::kOciLayerGzip) return std::string(media::kDockerLayerGzip);
  if (layer.media_type == media::kOciLayer) return std::string(media::kDockerLayer);
  return layer.media_type;  // zstd has no Docker type; kept as is
}

void ToProtoImage(const ImageRecord& record, const std::vector<std::string>& tags,
                  v1::Image* out) {
  out->mutable_manifest()->set_media_type(record.manifest.media_type);
  out->mutable_manifest()->set_digest(record.manifest.digest.ToString());
  out->mutable_manifest()->set_size(record.manifest.size);
  if (record.config) out->set_config_digest(record.config->ToString());
  for (const Descriptor& l : record.layers) {
    auto* d = out->add_layers();
    d->set_media_type(l.media_type);
    d->set_digest(l.digest.ToString());
    d->set_size(l.size);
  }
  out->mutable_platform()->set_os(record.os);
  out->mutable_platform()->set_architecture(record.architecture);
  out->mutable_platform()->set_variant(record.variant);
  out->set_total_size(record.total_size);
  out->set_created_unix(record.created_unix);
  for (const auto& t : tags) out->add_tags(FamiliarTag(t));
}

// What the spec alone determines: the parsed Dockerfile, its stages and the target.
struct PlannedBuild {
  ParsedDockerfile dockerfile;
  StagePlan plan;
  int target = 0;
};

absl::StatusOr<PlannedBuild> PlanBuild(const v1::BuildSpec& spec) {
  if (!spec.compression().empty() && spec.compression() != "gzip" &&
      spec.compression() != "zstd") {
    return absl::InvalidArgumentError(absl::StrCat(
        "spec.compression: want \"gzip\" or \"zstd\", got \"", spec.compression(), "\""));
  }
  if (spec.compression() == "zstd" && spec.docker_media_types()) {
    return absl::InvalidArgumentError(
        "spec.compression: zstd layers need OCI media types (Docker's have no zstd layer type)");
  }
  const std::string file_name =
      spec.dockerfile_name().empty() ? "Dockerfile" : spec.dockerfile_name();
  PlannedBuild planned;
  SLIPWAY_ASSIGN_OR_RETURN(planned.dockerfile, ParseDockerfile(spec.dockerfile(), file_name));
  const std::map<std::string, std::string> build_args(spec.build_args().begin(),
                                                      spec.build_args().end());
  const PlatformSpec platform = RequestedPlatform(spec);
  PlatformArgs platform_args;
  platform_args.target_os = platform.os;
  platform_args.target_arch = platform.architecture;
  platform_args.target_variant = platform.variant;
  SLIPWAY_ASSIGN_OR_RETURN(planned.plan,
                           PlanStages(planned.dockerfile, build_args, platform_args));
  const int stage_count = static_cast<int>(planned.plan.stages.size());
  planned.target = stage_count - 1;
  if (!spec.target().empty()) {
    std::optional<int> t = FindStage(planned.plan, spec.target(), stage_count);
    if (!t.has_value()) {
      return absl::InvalidArgumentError(
          absl::StrCat("target: no stage named \"", spec.target(), "\" in ", file_name));
    }
    planned.target = *t;
  }
  return planned;
}

}  // namespace

NativeBuilder::NativeBuilder(const NativeBuilderOptions& options, BlobStore& store,
                             ImageIndex& index, UnpackedLayers& unpacked, BaseImagePuller puller)
    : options_(options),
      store_(store),
      index_(index),
      unpacked_(unpacked),
      puller_(std::move(puller)) {}

absl::Status NativeBuilder::Check(const v1::BuildSpec& spec) {
  return PlanBuild(spec).status();
}

absl::StatusOr<v1::Image> NativeBuilder::Build(const BuildRequest& request,
                                               BuildObserver& observer) {
  const v1::BuildSpec& spec = request.spec;
  if (request.context == nullptr) return absl::InvalidArgumentError("build context: missing");
  SLIPWAY_ASSIGN_OR_RETURN(PlannedBuild planned, PlanBuild(spec));
  const ParsedDockerfile& dockerfile = planned.dockerfile;
  const StagePlan& plan = planned.plan;
  if (!options_.run_support.ok()) {
    // Said first, so a build that will fail at its first RUN does not surprise anyone.
    for (const Instruction& instruction : dockerfile.instructions) {
      if (instruction.keyword != "RUN") continue;
      v1::BuildLog log;
      log.set_stream(v1::BuildLog::STDERR);
      log.set_line(absl::StrCat("warning: RUN cannot run on this host (",
                                options_.run_support.message(), "); RUN steps will fail"));
      observer.OnLog(log);
      break;
    }
  }
  for (const std::string& notice : dockerfile.notices) {
    v1::BuildLog log;
    log.set_stream(v1::BuildLog::STDERR);
    log.set_line(notice);
    observer.OnLog(log);
  }
  const PlatformSpec platform = RequestedPlatform(spec);

  // Tags are checked before any work, so a bad one costs nothing.
  std::vector<std::string> tags;
  for (const std::string& t : spec.tags()) {
    auto tag = NormalizeTag(t);
    if (!tag.ok()) return absl::InvalidArgumentError(absl::StrCat("tags: ", tag.status().message()));
    tags.push_back(*std::move(tag));
  }

  BuildRun run;
  run.request = &request;
  run.observer = &observer;
  run.dockerfile = &dockerfile;
  run.plan = &plan;
  run.store = &store_;
  run.index = &index_;
  run.unpacked = &unpacked_;
  run.puller = &puller_;
  run.sandbox = &options_.sandbox;
  run.run_support = &options_.run_support;
  run.cache_mounts = options_.cache_mounts;
  run.platform = platform;
  run.no_cache = spec.no_cache();
  run.layer_options.compression = options_.compression;
  run.layer_options.level = options_.compression_level;
  if (spec.compression() == "zstd") {
    run.layer_options.compression = LayerCompressionKind::kZstd;
    run.layer_options.level = 3;  // zstd's own default: fast, and smaller than gzip
  } else if (spec.compression() == "gzip") {
    run.layer_options.compression = LayerCompressionKind::kGzip;
    run.layer_options.level = options_.compression_level;
  }
  run.now_unix = absl::ToUnixSeconds(absl::Now());
  if (spec.source_date_epoch() > 0) {
    run.layer_options.source_date_epoch = spec.source_date_epoch();
  }

  // The stages the target needs.
  const int stage_count = static_cast<int>(plan.stages.size());
  const int target = planned.target;
  std::vector<std::set<int>> deps(stage_count);
  std::vector<bool> needed(stage_count, false);
  std::vector<int> todo{target};
  while (!todo.empty()) {
    int s = todo.back();
    todo.pop_back();
    if (needed[s]) continue;
    needed[s] = true;
    deps[s] = Dependencies(run, s);
    for (int d : deps[s]) todo.push_back(d);
  }
  run.first_step.assign(stage_count, 0);
  int step = 1;
  for (int s = 0; s < stage_count; ++s) {
    if (!needed[s]) continue;
    run.first_step[s] = step;
    step += 1 + static_cast<int>(plan.stages[s].instructions.size());
  }
  run.total_steps = step - 1;

  // Per-build scratch space.
  absl::BitGen bits;
  run.staging_dir = absl::StrCat(options_.staging_root, "/",
                                 absl::StrFormat("%016x", absl::Uniform<uint64_t>(bits)));
  std::error_code ec;
  std::filesystem::create_directories(run.staging_dir, ec);
  if (ec) {
    return absl::InternalError(absl::StrCat("build staging dir ", run.staging_dir, ": ",
                                            ec.message()));
  }

  // One thread per needed stage; each waits only for the stages it names (a shared_future).
  std::vector<std::promise<absl::StatusOr<std::shared_ptr<const StageResult>>>> promises(
      stage_count);
  run.stages.resize(stage_count);
  for (int s = 0; s < stage_count; ++s) {
    if (needed[s]) run.stages[s] = promises[s].get_future().share();
  }
  std::vector<std::thread> threads;
  for (int s = 0; s < stage_count; ++s) {
    if (!needed[s]) continue;
    threads.emplace_back([&run, &promises, s] { promises[s].set_value(RunStage(run, s)); });
  }
  for (auto& t : threads) t.join();
  std::filesystem::remove_all(run.staging_dir, ec);

  // The first real failure wins over the cancellations it caused.
  absl::Status failure;
  for (int s = 0; s < stage_count; ++s) {
    if (!needed[s]) continue;
    const auto& r = run.stages[s].get();
    if (!r.ok() && (failure.ok() || absl::IsCancelled(failure))) failure = r.status();
  }
  if (!failure.ok()) return failure;
  if (request.cancelled != nullptr && request.cancelled->load()) {
    return absl::CancelledError("the build was cancelled");
  }
  std::shared_ptr<const StageResult> result = *run.stages[target].get();

  // The image: config, then manifest, then the index rows and tags.
  ImageConfig config = result->config;
  for (const auto& [k, v] : spec.labels()) config.SetLabel(k, v);
  const bool docker = spec.docker_media_types();
  const std::string config_json = config.Serialize(Rfc3339(result->created_unix));
  SLIPWAY_ASSIGN_OR_RETURN(BlobInfo config_blob, store_.PutSmall(config_json));
  ImageManifest manifest{
      std::string(docker ? media::kDockerManifest : media::kOciManifest),
      Descriptor{std::string(docker ? media::kDockerConfig : media::kOciConfig),
                 config_blob.digest, config_blob.size, {}},
      {},
      std::nullopt};
  int64_t total = config_blob.size;
  std::set<Digest> seen;
  for (const auto& layer : result->fs->layers()) {
    Descriptor d = layer.blob;
    d.media_type = ToLayerMediaType(d, docker);
    manifest.layers.push_back(d);
    if (seen.insert(d.digest).second) total += d.size;
  }
  const std::string manifest_json = SerializeManifest(manifest);
  SLIPWAY_ASSIGN_OR_RETURN(BlobInfo manifest_blob, store_.PutSmall(manifest_json));
  total += manifest_blob.size;
  (void)index_.AddToLease(request.lease_id, {config_blob.digest, manifest_blob.digest});

  ImageRecord record{Descriptor{manifest.media_type, manifest_blob.digest, manifest_blob.size, {}},
                     std::nullopt, {}, "", "", "", 0, 0, {}};
  record.config = config_blob.digest;
  record.layers = manifest.layers;
  const PlatformSpec image_platform = config.Platform();
  record.os = image_platform.os;
  record.architecture = image_platform.architecture;
  record.variant = image_platform.variant;
  record.total_size = total;
  record.created_unix = result->created_unix;
  std::vector<Descriptor> blobs{record.manifest, manifest.config};
  for (const Descriptor& d : manifest.layers) blobs.push_back(d);
  SLIPWAY_RETURN_IF_ERROR(index_.PutImage(record, blobs));
  for (const std::string& tag : tags) {
    SLIPWAY_RETURN_IF_ERROR(index_.Tag(tag, record.manifest.digest));
  }
  v1::Image image;
  ToProtoImage(record, tags, &image);
  return image;
}

}  // namespace slipway::build
