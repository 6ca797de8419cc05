#ifndef SLIPWAY_CLIENT_STEP_REGISTRY_FLAVOURS_H_
#define SLIPWAY_CLIENT_STEP_REGISTRY_FLAVOURS_H_

#include <string>

#include "absl/status/status.h"
#include "client/step/setting_source.h"
#include "client/step/step_settings.h"

namespace slipway::client::step {

// "https://index.docker.io/v1/" -> "docker.io", "http://reg:5000/" -> "reg:5000": the host[:port]
// of a registry setting (scheme, path and trailing slash dropped; Docker Hub's aliases
// index.docker.io, registry-1.docker.io and registry.hub.docker.com become "docker.io").
std::string NormalizeRegistryHost(const std::string& registry);

// The registry host of an image name: its first component when that has a '.', a ':' or is
// "localhost"; else "docker.io".
std::string RepoHost(const std::string& repo);

// Picks the push credential flavour from the variables present and fills settings->flavour,
// ->credential (registry = settings->registry), ->base_credentials, and for the cloud flavours
// prefixes settings->repo with the registry when it has no host (as the ECR/GAR/ACR plugins do).
// Expects settings->repo and ->registry to be set (registry normalized, possibly empty).
//   ECR: PLUGIN_REGION, ACCESS_KEY, SECRET_KEY, SESSION_TOKEN, ASSUME_ROLE, EXTERNAL_ID,
//        CREATE_REPOSITORY        GAR: PLUGIN_JSON_KEY (raw or base64), LOCATION
//   ACR: PLUGIN_CLIENT_ID, CLIENT_SECRET, TENANT_ID     else USERNAME/PASSWORD (Docker Hub or
//   any registry). With a cloud flavour, USERNAME/PASSWORD are base-image credentials (the
//   kaniko ECR plugin's reading). PLUGIN_CONFIG (a docker config.json) adds credentials for
//   every host it lists that has none yet.
// Errors (INVALID_ARGUMENT): variables of two flavours at once, a username without a password
// (or the reverse), a partial base-image credential, an unreadable PLUGIN_CONFIG, ACR client
// certificates (unsupported).
absl::Status ResolveRegistryCredentials(SettingSource& src, StepSettings* settings);

}  // namespace slipway::client::step

#endif  // SLIPWAY_CLIENT_STEP_REGISTRY_FLAVOURS_H_
