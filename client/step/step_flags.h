#ifndef SLIPWAY_CLIENT_STEP_STEP_FLAGS_H_
#define SLIPWAY_CLIENT_STEP_STEP_FLAGS_H_

#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace slipway::client::step {

// The command-line equivalents of the step variables (docs/STEP.md has the full table).
// Each takes a value (--repo VALUE or --repo=VALUE) except the switches, which stand alone or
// take =true/=false. Repeating a list flag appends (joined with ',' or, for --build-args-new,
// ';'). Aliases: --tag = --tags, --build-arg = --build-args, --label = --labels,
// --dry-run = --no-push, --destination-tar-path = --tar-path, --mirror = --registry-mirrors.
//
//   naming     --repo --registry --expand-repo* --tags --auto-tag* --auto-tag-suffix
//              --expand-tag* --commit-ref --default-branch
//   build      --dockerfile --context --build-args --build-args-new --build-args-from-env
//              --target --labels --label-schema --auto-label* --platform --no-cache*
//              --reproducible* --source-date-epoch
//   push auth  --username --password --docker-config --base-image-registry
//              --base-image-username --base-image-password
//              ECR: --region --access-key --secret-key --session-token --assume-role
//                   --external-id --create-repository*
//              GAR: --json-key --location   ACR: --client-id --client-secret --tenant-id
//   transport  --insecure* --skip-tls-verify* --registry-certificate --registry-mirrors
//              --push-retry --destinations
//   modes      --no-push* --push-only* --tar-path --source-tar-path --source-image
//              --oci-layout-path --buildx-load* --daemon-off* --docker-host
//   scan       --scan* --scanners --scan-require --max-severity
//   outputs    --drone-output --artifact-file --digest-file --image-name-with-digest-file
//              --image-name-tag-with-digest-file --json*
//   other      --env-file
// (* = switch). `--help` and `--print-settings` are handled by PrepareStep (step_main.h).
//
// Returns canonical flag name (no "--") -> value ("true"/"false" for switches).
// Errors (INVALID_ARGUMENT): unknown flag, missing value, a positional argument, a switch
// given a value other than true/false/1/0/yes/no.
absl::StatusOr<std::map<std::string, std::string>> ParseStepFlags(
    const std::vector<std::string>& args);

// One line per flag group, for `slipway step --help`.
std::string StepFlagsUsage();

}  // namespace slipway::client::step

#endif  // SLIPWAY_CLIENT_STEP_STEP_FLAGS_H_
