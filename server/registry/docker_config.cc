#include "server/registry/docker_config.h"

#include <fstream>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "nlohmann/json.hpp"
#include "server/registry/reference.h"
#include "storage/status_macros.h"

namespace slipway::registry {
namespace {

// "https://index.docker.io/v1/" → "index.docker.io", "http://h:5000/x" → "h:5000".
std::string KeyHost(absl::string_view key) {
  absl::string_view k = key;
  if (!absl::ConsumePrefix(&k, "https://")) absl::ConsumePrefix(&k, "http://");
  k = k.substr(0, k.find('/'));
  return absl::AsciiStrToLower(k);
}

bool IsDockerHub(absl::string_view host) {
  return host == "docker.io" || host == "index.docker.io" || host == "registry-1.docker.io";
}

bool SameRegistry(absl::string_view key_host, absl::string_view domain) {
  std::string d = absl::AsciiStrToLower(domain);
  if (IsDockerHub(key_host) && IsDockerHub(d)) return true;
  return key_host == d;
}

// Helper names become part of a program name looked up on PATH: no '/' or other surprises.
bool IsSafeHelperName(absl::string_view name) {
  if (name.empty() || name.size() > 64) return false;
  for (char c : name) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_' && c != '.') {
      return false;
    }
  }
  return true;
}

std::string StringField(const nlohmann::json& obj, const char* name) {
  auto it = obj.find(name);
  return it != obj.end() && it->is_string() ? it->get<std::string>() : std::string();
}

absl::StatusOr<std::optional<Credentials>> RunHelper(const std::string& helper,
                                                     absl::string_view domain,
                                                     const CredentialHelperRunner& runner) {
  if (!IsSafeHelperName(helper)) {
    return absl::FailedPreconditionError(absl::StrCat(
        "docker config: credential helper name \"", helper.substr(0, 64), "\" is not allowed"));
  }
  const std::string program = "docker-credential-" + helper;
  const std::string server = DockerConfigKey(domain);
  absl::StatusOr<ProcessResult> result;
  if (runner) {
    result = runner({program, "get"}, server);
  } else {
    ProcessOptions options;
    options.stdin_data = server;
    options.timeout = absl::Seconds(30);
    options.max_output = 1 << 20;
    result = RunProcess({program, "get"}, options);
  }
  if (!result.ok()) return result.status();
  if (result->exit_code != 0) {
    std::string all = result->out + result->err;
    if (absl::StrContains(absl::AsciiStrToLower(all), "credentials not found")) {
      return std::optional<Credentials>();
    }
    // The helper's message is not echoed: some helpers print what they were given.
    return absl::FailedPreconditionError(absl::StrCat(
        program, " get failed for ", server, " (exit code ", result->exit_code, ")"));
  }
  nlohmann::json j = nlohmann::json::parse(result->out, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) {
    return absl::FailedPreconditionError(
        absl::StrCat(program, " get for ", server, " did not answer a JSON object"));
  }
  Credentials c;
  std::string user = StringField(j, "Username");
  std::string secret = StringField(j, "Secret");
  if (user == "<token>") {
    c.identity_token = secret;  // Docker's marker for an identity (refresh) token
  } else {
    c.username = user;
    c.password = secret;
  }
  if (c.empty()) return std::optional<Credentials>();
  return std::optional<Credentials>(std::move(c));
}

}  // namespace

absl::StatusOr<DockerConfig> DockerConfig::Parse(absl::string_view json,
                                                 absl::string_view source) {
  nlohmann::json j = nlohmann::json::parse(json, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) {
    return absl::InvalidArgumentError(absl::StrCat(source, ": not a JSON object"));
  }
  DockerConfig config;
  if (auto it = j.find("auths"); it != j.end()) {
    if (!it->is_object()) return absl::InvalidArgumentError(absl::StrCat(source, ": \"auths\" is not an object"));
    for (const auto& [key, entry] : it->items()) {
      if (!entry.is_object()) {
        return absl::InvalidArgumentError(
            absl::StrCat(source, ": auths entry \"", key, "\" is not an object"));
      }
      Credentials c;
      std::string auth = StringField(entry, "auth");
      if (!auth.empty()) {
        std::string decoded;
        size_t colon;
        if (!absl::Base64Unescape(auth, &decoded) ||
            (colon = decoded.find(':')) == std::string::npos) {
          return absl::InvalidArgumentError(absl::StrCat(
              source, ": auths entry \"", key, "\": \"auth\" is not base64 of user:password"));
        }
        c.username = decoded.substr(0, colon);
        c.password = decoded.substr(colon + 1);
      } else {
        c.username = StringField(entry, "username");
        c.password = StringField(entry, "password");
      }
      c.identity_token = StringField(entry, "identitytoken");
      c.registry_token = StringField(entry, "registrytoken");
      config.auths_[KeyHost(key)] = std::move(c);
    }
  }
  if (auto it = j.find("credHelpers"); it != j.end()) {
    if (!it->is_object()) {
      return absl::InvalidArgumentError(absl::StrCat(source, ": \"credHelpers\" is not an object"));
    }
    for (const auto& [key, helper] : it->items()) {
      if (!helper.is_string()) {
        return absl::InvalidArgumentError(
            absl::StrCat(source, ": credHelpers entry \"", key, "\" is not a string"));
      }
      config.cred_helpers_[KeyHost(key)] = helper.get<std::string>();
    }
  }
  config.creds_store_ = StringField(j, "credsStore");
  return config;
}

absl::StatusOr<DockerConfig> DockerConfig::Load(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("docker config ", path, " cannot be read"));
  std::ostringstream ss;
  ss << in.rdbuf();
  return Parse(ss.str(), path);
}

absl::StatusOr<std::optional<Credentials>> DockerConfig::Lookup(
    absl::string_view domain, const CredentialHelperRunner& runner) const {
  std::string helper;
  for (const auto& [host, name] : cred_helpers_) {
    if (SameRegistry(host, domain)) helper = name;
  }
  if (helper.empty()) helper = creds_store_;
  if (!helper.empty()) {
    SLIPWAY_ASSIGN_OR_RETURN(std::optional<Credentials> found, RunHelper(helper, domain, runner));
    if (found.has_value()) return found;
  }
  for (const auto& [host, creds] : auths_) {
    if (SameRegistry(host, domain) && !creds.empty()) return std::optional<Credentials>(creds);
  }
  return std::optional<Credentials>();
}

}  // namespace slipway::registry
