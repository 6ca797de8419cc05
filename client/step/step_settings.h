#ifndef SLIPWAY_CLIENT_STEP_STEP_SETTINGS_H_
#define SLIPWAY_CLIENT_STEP_STEP_SETTINGS_H_

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "client/connection.h"
#include "slipway/v1/slipway.pb.h"

namespace slipway::client::step {

// What a CI step asked for, from PLUGIN_* variables (the Harness/Drone kaniko, buildx, docker
// and buildah plugins' names and aliases), a PLUGIN_ENV_FILE dotenv, and equivalent flags.
// Plain data: parsing and validation live in ParseStepSettings, execution in RunStep.
struct StepSettings {
  enum class Mode {
    kBuildAndPush,  // default
    kBuildOnly,     // NO_PUSH / DRY_RUN
    kPushOnly,      // PUSH_ONLY
  };
  Mode mode = Mode::kBuildAndPush;

  // Naming. `repo` is the full image name including the registry host
  // ("registry.example.com/team/app"; "team/app" means Docker Hub). `registry` is the host the
  // push credentials apply to (PLUGIN_REGISTRY; default: repo's host).
  std::string repo;
  std::string registry;
  std::vector<std::string> tags;  // TAGS / TAG (comma list) + AUTO_TAG results; default "latest"

  // Build (build-and-push and build-only).
  std::string dockerfile;         // DOCKERFILE, default "Dockerfile" (see dockerfile_path.h)
  std::string context;            // CONTEXT, default "."
  std::map<std::string, std::string> build_args;  // BUILD_ARGS (comma) + BUILD_ARGS_NEW (;)
  std::string target;
  std::map<std::string, std::string> labels;      // LABELS / CUSTOM_LABELS (+ auto labels)
  std::string platform;           // "linux/amd64"
  bool no_cache = false;
  bool reproducible = false;      // REPRODUCIBLE: SOURCE_DATE_EPOCH from the commit, or 0
  std::optional<int64_t> source_date_epoch;
  std::vector<v1::RegistryCredential> base_credentials;  // BASE_IMAGE_REGISTRY/USERNAME/PASSWORD

  // Push. One credential kind from the flavour the variables select: ECR (REGION,
  // ACCESS_KEY, ...), GAR (JSON_KEY, LOCATION), ACR (CLIENT_ID, ...), else USERNAME/PASSWORD.
  enum class Flavour { kGeneric, kDockerHub, kEcr, kGar, kAcr };
  Flavour flavour = Flavour::kGeneric;
  v1::RegistryCredential credential;  // registry field = `registry`; kind unset = anonymous
  v1::TlsOptions tls;                 // INSECURE, SKIP_TLS_VERIFY, REGISTRY_CERTIFICATE (PEM)
  std::vector<std::string> mirrors;   // REGISTRY_MIRRORS (for base image pulls)
  int push_retry = 0;                 // PUSH_RETRY
  // PLUGIN_DESTINATIONS: more full "host/repo[:tag]" names pushed in the same PushMany call.
  std::vector<std::string> destinations;

  // Archives and sources.
  std::string tar_path;           // TAR_PATH ≡ DESTINATION_TAR_PATH (build-only output)
  std::string oci_layout_path;    // OCI_LAYOUT_PATH (an OCI layout directory output)
  std::string source_tar_path;    // SOURCE_TAR_PATH (push-only input)
  std::string source_image;       // SOURCE_IMAGE (push-only: retag a stored image)
  bool buildx_load = false;       // BUILDX_LOAD: also load into a Docker Engine API, if any
  bool daemon_off = false;        // DAEMON_OFF (accepted: Slipway never starts a daemon)
  std::string docker_host;        // DOCKER_HOST, else unix:///var/run/docker.sock if present

  // Scan (PLUGIN_SCAN=true, SCANNERS comma list, SCAN_REQUIRE any|all, MAX_SEVERITY).
  bool scan = false;
  std::vector<std::string> scanners;
  v1::ScanGate gate;

  // Outputs.
  std::string drone_output;       // DRONE_OUTPUT: dotenv file receiving digest, IMAGE_TAR_PATH
  std::string artifact_file;      // ARTIFACT_FILE: docker/v1 artifact JSON
  std::string digest_file;                     // kaniko DIGEST_FILE
  std::string image_name_with_digest_file;     // IMAGE_NAME_WITH_DIGEST_FILE
  std::string image_name_tag_with_digest_file; // IMAGE_NAME_TAG_WITH_DIGEST_FILE
  bool json = false;              // PLUGIN_JSON / --json: events as JSON lines

  // PLUGIN_* variables that were set but mean nothing here (printed as "ignored", not fatal).
  std::vector<std::string> ignored;

  // Non-empty when AUTO_TAG found nothing to build (a branch other than the default one): the
  // plugins then print this and succeed without building or pushing.
  std::string skip_reason;
};

// Builds the settings from the process environment (`env` looks one variable up; `names` lists
// every variable name present, so unknown PLUGIN_* ones can be reported) and flags in `args`
// (--repo, --tags, --no-push, ... one per setting; a flag beats its variable, a variable beats
// PLUGIN_ENV_FILE). Plugin aliases: NO_PUSH ≡ DRY_RUN, TAR_PATH ≡ DESTINATION_TAR_PATH,
// TAGS ≡ TAG, LABELS ≡ CUSTOM_LABELS, and the buildah plugin's lowercase names (PLUGIN_dry_run,
// ...). Booleans accept true/false/1/0/yes/no (case-insensitive); anything else is an error
// naming the variable.
//
// Errors (INVALID_ARGUMENT, the message in the plugins' wording where they have one):
//   "inputs no-push and push-only cannot be used together"
//   push-only with tar_path, build-only with source_tar_path/source_image, repo missing when
//   something is to be pushed, a malformed BUILD_ARGS entry, an unreadable PLUGIN_ENV_FILE or
//   REGISTRY_CERTIFICATE (naming the file), several credential flavours at once.
absl::StatusOr<StepSettings> ParseStepSettings(const EnvLookup& env,
                                               const std::vector<std::string>& names,
                                               const std::vector<std::string>& args);

}  // namespace slipway::client::step

#endif  // SLIPWAY_CLIENT_STEP_STEP_SETTINGS_H_
