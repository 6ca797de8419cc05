// The three CI step workflows (build-and-push, build-only, push-only) over the shared client
// flows; outputs in every mode.
#include "client/step/step_runner.h"

#include <chrono>
#include <cstdlib>
#include <optional>
#include <filesystem>
#include <system_error>
#include <thread>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "client/archive_upload.h"
#include "client/build_flow.h"
#include "client/commands.h"
#include "client/docker_engine.h"
#include "client/image_transfer.h"
#include "client/push_flow.h"
#include "client/rpc_status.h"
#include "client/scan_flow.h"
#include "client/step/dockerfile_path.h"
#include "client/step/step_outputs.h"
#include "client/step/step_progress.h"
#include "client/step/step_targets.h"
#include "storage/status_macros.h"

namespace slipway::client::step {
namespace {

constexpr int kShortCallSeconds = 120;

const char* ModeName(StepSettings::Mode mode) {
  switch (mode) {
    case StepSettings::Mode::kBuildOnly: return "build-only";
    case StepSettings::Mode::kPushOnly: return "push-only";
    default: return "build-and-push";
  }
}

absl::Status Prefixed(const std::string& prefix, const absl::Status& s) {
  if (s.ok()) return s;
  return absl::Status(s.code(), absl::StrCat(prefix, ": ", s.message()));
}

template <typename T>
absl::StatusOr<T> Prefixed(const std::string& prefix, absl::StatusOr<T> v) {
  if (v.ok()) return v;
  return Prefixed(prefix, v.status());
}

// Runs one step; every failure comes back as a status whose message is the one-line cause.
class StepRun {
 public:
  StepRun(Connection& conn, const StepSettings& settings, StepProgress& progress)
      : conn_(conn), settings_(settings), progress_(progress) {}

  absl::Status Run() {
    const auto start = std::chrono::steady_clock::now();
    StepResult result;
    switch (settings_.mode) {
      case StepSettings::Mode::kBuildOnly:
        SLIPWAY_RETURN_IF_ERROR(BuildOnly(&result));
        break;
      case StepSettings::Mode::kPushOnly:
        SLIPWAY_RETURN_IF_ERROR(PushOnly(&result));
        break;
      default:
        SLIPWAY_RETURN_IF_ERROR(BuildAndPush(&result));
    }
    SLIPWAY_RETURN_IF_ERROR(Prefixed("outputs", WriteStepOutputs(settings_, result)));
    ReportOutputs();
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    progress_.Result(ModeName(settings_.mode), result.digest, result.images, seconds);
    return absl::OkStatus();
  }

 private:
  absl::Status BuildAndPush(StepResult* result) {
    SLIPWAY_ASSIGN_OR_RETURN(auto targets, Prefixed("build-and-push", PushTargets(settings_)));
    SLIPWAY_ASSIGN_OR_RETURN(v1::Image image, Build());
    SLIPWAY_RETURN_IF_ERROR(MaybeScan(image.manifest().digest()));
    return Push(image.manifest().digest(), targets, result);
  }

  absl::Status BuildOnly(StepResult* result) {
    SLIPWAY_ASSIGN_OR_RETURN(v1::Image image, Build());
    const std::string& digest = image.manifest().digest();
    SLIPWAY_RETURN_IF_ERROR(MaybeScan(digest));
    result->digest = digest;
    result->images = StoreTags(settings_);
    if (!settings_.tar_path.empty()) {
      progress_.Phase("export", absl::StrCat("docker archive → ", settings_.tar_path));
      v1::ExportImageRequest request;
      request.set_ref(digest);
      request.set_format(v1::DOCKER_COMBINED);
      for (const auto& t : StoreTags(settings_)) request.add_repo_tags(t);
      SLIPWAY_ASSIGN_OR_RETURN(int64_t bytes,
                               Prefixed("TAR_PATH", ExportImageTo(conn_, request,
                                                                  settings_.tar_path)));
      progress_.Wrote("docker archive", settings_.tar_path, bytes);
      result->tar_path = settings_.tar_path;
    }
    if (!settings_.oci_layout_path.empty()) {
      progress_.Phase("export", absl::StrCat("OCI layout → ", settings_.oci_layout_path));
      SLIPWAY_ASSIGN_OR_RETURN(
          int64_t bytes, Prefixed("OCI_LAYOUT_PATH",
                                  ExportOciLayoutTo(conn_, digest, StoreTags(settings_),
                                                    settings_.oci_layout_path)));
      progress_.Wrote("OCI layout", settings_.oci_layout_path, bytes);
    }
    if (settings_.buildx_load && !settings_.docker_host.empty()) {
      // Also into the Docker Engine API the step names (DOCKER_HOST or the default socket).
      auto env = [](const std::string& name) -> std::optional<std::string> {
        const char* v = std::getenv(name.c_str());
        return v == nullptr ? std::nullopt : std::optional<std::string>(v);
      };
      std::string loaded;
      SLIPWAY_RETURN_IF_ERROR(LoadStoredImage(conn_, digest, StoreTags(settings_),
                                              settings_.docker_host, &loaded,
                                              DockerTlsFromEnvironment(env)));
      progress_.Note(absl::StrCat("BUILDX_LOAD: loaded into the Docker Engine at ",
                                  settings_.docker_host,
                                  loaded.empty() ? "" : absl::StrCat(" (", loaded, ")")));
    } else if (settings_.buildx_load) {
      // BUILDX_LOAD without an engine: the Slipway store is where a later step finds it.
      progress_.Note(absl::StrCat(
          "BUILDX_LOAD: kept in the Slipway store as ",
          result->images.empty() ? digest : absl::StrJoin(result->images, ", "),
          " (no Docker Engine API: DOCKER_HOST is unset and /var/run/docker.sock is absent)"));
    } else if (!result->images.empty()) {
      progress_.Note(absl::StrCat("stored as ", absl::StrJoin(result->images, ", ")));
    }
    return absl::OkStatus();
  }

  absl::Status PushOnly(StepResult* result) {
    SLIPWAY_ASSIGN_OR_RETURN(auto targets, Prefixed("push-only", PushTargets(settings_)));
    const std::vector<std::string> store_tags = StoreTags(settings_);
    std::string digest;
    if (!settings_.source_tar_path.empty()) {
      progress_.Phase("import", settings_.source_tar_path);
      v1::ImportOptions options;
      for (const auto& t : store_tags) options.add_tags(t);
      // The archive's own names may belong to another registry; the step's tags are the truth.
      options.set_ignore_archive_tags(true);
      // A tarball file sends only the entries the store lacks; a layout directory is streamed.
      std::error_code ec;
      const bool is_file = std::filesystem::is_regular_file(settings_.source_tar_path, ec);
      SLIPWAY_ASSIGN_OR_RETURN(
          v1::ImportImageResponse imported,
          Prefixed("push-only: PLUGIN_SOURCE_TAR_PATH",
                   is_file ? UploadArchive(conn_, settings_.source_tar_path, options)
                           : ImportImageFrom(conn_, settings_.source_tar_path, options)));
      digest = imported.image().manifest().digest();
      progress_.Note(absl::StrCat("imported ", digest, " (", HumanSize(imported.bytes_received()),
                                  " received, ", imported.blobs_stored(), " new blobs, ",
                                  imported.blobs_present(), " already stored)"));
    } else if (!settings_.source_image.empty()) {
      progress_.Phase("retag", absl::StrCat(settings_.source_image, " → ",
                                            absl::StrJoin(store_tags, ", ")));
      absl::StatusOr<v1::Image> source = GetImage(settings_.source_image);
      if (!source.ok()) {
        if (absl::IsNotFound(source.status())) {
          return absl::NotFoundError(absl::StrCat("push-only: PLUGIN_SOURCE_IMAGE \"",
                                                  settings_.source_image,
                                                  "\" is not in the store"));
        }
        return Prefixed("push-only: PLUGIN_SOURCE_IMAGE", source.status());
      }
      digest = source->manifest().digest();
      for (const auto& tag : store_tags) {
        v1::TagImageRequest request;
        request.set_ref(digest);
        request.set_tag(tag);
        v1::Image tagged;
        auto ctx = conn_.NewContext(kShortCallSeconds);
        grpc::Status s = conn_.stub().TagImage(ctx.get(), request, &tagged);
        if (!s.ok()) return Prefixed("push-only", FromRpc(s, "TagImage: "));
      }
    } else {
      progress_.Phase("resolve", absl::StrJoin(store_tags, ", "));
      for (const auto& tag : store_tags) {
        absl::StatusOr<v1::Image> found = GetImage(tag);
        if (found.ok()) {
          digest = found->manifest().digest();
          break;
        }
        if (!absl::IsNotFound(found.status())) return Prefixed("push-only", found.status());
      }
      if (digest.empty()) {
        std::vector<std::string> quoted;
        for (const auto& t : store_tags) quoted.push_back(absl::StrCat("\"", t, "\""));
        return absl::NotFoundError(absl::StrCat(
            "push-only: no image to push: PLUGIN_SOURCE_TAR_PATH and PLUGIN_SOURCE_IMAGE are "
            "unset and ",
            absl::StrJoin(quoted, ", "), quoted.size() == 1 ? " is" : " are", " not in the store"));
      }
      progress_.Note(absl::StrCat("found ", digest));
    }
    SLIPWAY_RETURN_IF_ERROR(MaybeScan(digest));
    return Push(digest, targets, result);
  }

  absl::StatusOr<v1::Image> GetImage(const std::string& ref) {
    v1::GetImageRequest request;
    request.set_ref(ref);
    v1::Image image;
    auto ctx = conn_.NewContext(kShortCallSeconds);
    grpc::Status s = conn_.stub().GetImage(ctx.get(), request, &image);
    if (!s.ok()) return FromRpc(s, "GetImage: ");
    return image;
  }

  absl::StatusOr<v1::Image> Build() {
    BuildInput input;
    input.context = settings_.context.empty() ? "." : settings_.context;
    std::error_code cwd_error;
    std::string working_dir = std::filesystem::current_path(cwd_error).string();
    if (cwd_error) working_dir = ".";
    absl::StatusOr<std::string> dockerfile =
        ResolveStepDockerfile(settings_.dockerfile, input.context, working_dir);
    if (!dockerfile.ok()) return Prefixed("build", dockerfile.status());
    input.dockerfile = *std::move(dockerfile);
    v1::BuildSpec& spec = input.spec;
    for (const auto& t : StoreTags(settings_)) spec.add_tags(t);
    for (const auto& [k, v] : settings_.build_args) (*spec.mutable_build_args())[k] = v;
    for (const auto& [k, v] : settings_.labels) (*spec.mutable_labels())[k] = v;
    spec.set_target(settings_.target);
    spec.set_no_cache(settings_.no_cache);
    if (settings_.source_date_epoch) spec.set_source_date_epoch(*settings_.source_date_epoch);
    for (const auto& c : settings_.base_credentials) *spec.add_base_credentials() = c;
    if (!settings_.platform.empty()) {
      std::vector<std::string> parts = absl::StrSplit(settings_.platform, '/');
      if (parts.size() < 2 || parts.size() > 3 || parts[0].empty() || parts[1].empty()) {
        return absl::InvalidArgumentError(absl::StrCat(
            "build: PLUGIN_PLATFORM: want OS/ARCH[/VARIANT], got \"", settings_.platform, "\""));
      }
      spec.mutable_platform()->set_os(parts[0]);
      spec.mutable_platform()->set_architecture(parts[1]);
      if (parts.size() == 3) spec.mutable_platform()->set_variant(parts[2]);
    }
    progress_.Phase("build", absl::StrCat("context ", input.context, " (", input.dockerfile, ")"));
    absl::StatusOr<v1::Image> image = BuildImage(conn_, input, &progress_);
    if (!image.ok()) return Prefixed("build", image.status());
    progress_.Note(absl::StrCat("built ", image->manifest().digest()));
    return image;
  }

  absl::Status MaybeScan(const std::string& digest) {
    if (!settings_.scan) return absl::OkStatus();
    progress_.Phase("scan", settings_.scanners.empty() ? std::string("all configured scanners")
                                                       : absl::StrJoin(settings_.scanners, ", "));
    SLIPWAY_ASSIGN_OR_RETURN(v1::ScanResponse response,
                             Prefixed("scan", ScanImage(conn_, digest, settings_.scanners)));
    progress_.Scan(response);
    if (response.passed()) return absl::OkStatus();
    std::vector<std::string> failed;
    for (const auto& r : response.results()) {
      if (!r.passed()) {
        failed.push_back(absl::StrCat(r.scanner(), " (", SeveritySummaryText(r.summary()), ")"));
      }
    }
    return absl::FailedPreconditionError(
        absl::StrCat("scan: ", digest, " failed ", absl::StrJoin(failed, ", "),
                     "; nothing pushed"));
  }

  absl::Status Push(const std::string& digest, const std::vector<v1::PushTarget>& targets,
                    StepResult* result) {
    std::vector<std::string> names;
    for (const auto& t : targets) names.push_back(TargetName(t.registry(), t.repository()));
    progress_.SetTargetNames(names);
    const bool many = targets.size() > 1;
    progress_.Phase(many ? "push-many" : "push", absl::StrJoin(TargetImages(targets, settings_),
                                                               ", "));
    PushOutcome outcome;
    // PUSH_RETRY: whole-push retries for transient failures (the engine retries requests too).
    for (int attempt = 0; attempt <= std::max(0, settings_.push_retry); ++attempt) {
      if (attempt > 0) {
        progress_.Note(absl::StrCat("retrying the push (", attempt, "/", settings_.push_retry, ")"));
        std::this_thread::sleep_for(std::chrono::seconds(std::min(attempt, 5)));
      }
      if (many) {
        v1::PushManyRequest request;
        request.set_ref(digest);
        *request.mutable_gate() = settings_.gate;
        for (const auto& t : targets) *request.add_targets() = t;
        outcome = PushImageMany(conn_, request, &progress_);
      } else {
        v1::PushRequest request;
        request.set_ref(digest);
        *request.mutable_gate() = settings_.gate;
        *request.mutable_target() = targets[0];
        outcome = PushImage(conn_, request, &progress_);
      }
      if (outcome.ok() || !Transient(outcome)) break;
    }
    progress_.PushTable(outcome.results);
    if (!outcome.ok()) {
      std::vector<std::string> causes;
      for (const auto& r : outcome.results) {
        if (r.code() != 0) {
          causes.push_back(absl::StrCat(TargetName(r.registry(), r.repository()), ": ",
                                        RpcCodeName(r.code()), ": ", r.message()));
        }
      }
      if (causes.empty()) return Prefixed("push", outcome.rpc);
      return absl::UnavailableError(absl::StrCat(
          "push: ", outcome.failed_targets(), " of ", targets.size(), " targets failed: ",
          absl::StrJoin(causes, "; ")));
    }
    result->digest = digest;
    for (const auto& r : outcome.results) {
      if (!r.manifest_digest().empty()) result->digest = r.manifest_digest();
    }
    result->images = TargetImages(targets, settings_);
    return absl::OkStatus();
  }

  static bool Transient(const PushOutcome& outcome) {
    auto transient = [](int code) {
      return code == static_cast<int>(absl::StatusCode::kUnavailable) ||
             code == static_cast<int>(absl::StatusCode::kDeadlineExceeded);
    };
    if (!outcome.rpc.ok() && outcome.results.empty()) {
      return transient(static_cast<int>(outcome.rpc.code()));
    }
    for (const auto& r : outcome.results) {
      if (r.code() != 0 && !transient(r.code())) return false;
    }
    return true;
  }

  void ReportOutputs() {
    const std::pair<const char*, const std::string*> outputs[] = {
        {"DRONE_OUTPUT", &settings_.drone_output},
        {"PLUGIN_ARTIFACT_FILE", &settings_.artifact_file},
        {"PLUGIN_DIGEST_FILE", &settings_.digest_file},
        {"PLUGIN_IMAGE_NAME_WITH_DIGEST_FILE", &settings_.image_name_with_digest_file},
        {"PLUGIN_IMAGE_NAME_TAG_WITH_DIGEST_FILE", &settings_.image_name_tag_with_digest_file}};
    for (const auto& [variable, path] : outputs) {
      if (!path->empty()) progress_.Output(variable, *path);
    }
  }

  Connection& conn_;
  const StepSettings& settings_;
  StepProgress& progress_;
};

}  // namespace

int RunStep(Connection& conn, const StepSettings& settings, std::ostream& out,
            std::ostream& err) {
  StepProgress progress(out, settings.json);
  StepRun run(conn, settings, progress);
  absl::Status status = run.Run();
  if (status.ok()) return kExitOk;
  progress.Error(std::string(status.message()));
  err << "slipway: " << status.message() << "\n" << std::flush;
  return kExitFailed;
}

}  // namespace slipway::client::step
