#ifndef SLIPWAY_SERVER_REGISTRY_DOCKER_CONFIG_H_
#define SLIPWAY_SERVER_REGISTRY_DOCKER_CONFIG_H_

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "server/registry/auth.h"
#include "server/registry/subprocess.h"

namespace slipway::registry {

// Runs a credential helper: argv is {"docker-credential-<name>", "get"}, stdin the server URL.
using CredentialHelperRunner = std::function<absl::StatusOr<ProcessResult>(
    const std::vector<std::string>& argv, const std::string& stdin_data)>;

// The credential parts of a docker config.json: "auths" (base64 "auth" = "user:password", or
// "username"/"password", "identitytoken", "registrytoken"), "credHelpers" (registry → helper)
// and "credsStore" (default helper). Immutable after parsing; thread-safe.
class DockerConfig {
 public:
  // INVALID_ARGUMENT naming `source` and the entry at fault (never its secret).
  static absl::StatusOr<DockerConfig> Parse(absl::string_view json, absl::string_view source);
  // NOT_FOUND when the file does not exist.
  static absl::StatusOr<DockerConfig> Load(const std::string& path);

  // Credentials for the registry `domain` as written in references ("docker.io",
  // "host:port"), looked up as Docker does: credHelpers[domain], else credsStore, else the
  // auths entry whose key names that host ("https://host/v1/", "http://host", "host").
  // nullopt: anonymous. A helper that reports "credentials not found" falls back to auths.
  // Errors: FAILED_PRECONDITION when a helper fails or answers malformed JSON,
  // DEADLINE_EXCEEDED when it hangs, NOT_FOUND when it is not on PATH.
  absl::StatusOr<std::optional<Credentials>> Lookup(
      absl::string_view domain, const CredentialHelperRunner& runner = nullptr) const;

 private:
  std::map<std::string, Credentials> auths_;  // key: host as DockerConfigKey spells it
  std::map<std::string, std::string> cred_helpers_;
  std::string creds_store_;
};

}  // namespace slipway::registry

#endif  // SLIPWAY_SERVER_REGISTRY_DOCKER_CONFIG_H_
