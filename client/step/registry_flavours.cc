#include "client/step/registry_flavours.h"

#include <optional>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "nlohmann/json.hpp"
#include "storage/status_macros.h"

namespace slipway::client::step {
namespace {

using Flavour = StepSettings::Flavour;

bool HasHost(const std::string& repo) {
  size_t slash = repo.find('/');
  if (slash == std::string::npos) return false;
  absl::string_view first(repo.data(), slash);
  return first == "localhost" || absl::StrContains(first, '.') || absl::StrContains(first, ':');
}

std::string Str(const std::optional<SettingSource::Value>& v) { return v ? v->value : ""; }

absl::StatusOr<bool> Bool(const std::optional<SettingSource::Value>& v) { return ParseBool(v); }

// "<account>.dkr.ecr.<region>.amazonaws.com" -> region; else "".
std::string EcrRegionOf(const std::string& host) {
  std::vector<std::string> parts = absl::StrSplit(host, '.');
  if (parts.size() >= 6 && parts[1] == "dkr" && parts[2] == "ecr") return parts[3];
  return "";
}

// A service-account key as JSON: given raw, or base64 of the JSON (Harness passes either).
absl::StatusOr<std::string> GarJsonKey(const SettingSource::Value& v) {
  std::string key(absl::StripAsciiWhitespace(v.value));
  if (absl::StartsWith(key, "{")) return key;
  std::string decoded;
  if (absl::Base64Unescape(key, &decoded) &&
      absl::StartsWith(absl::StripLeadingAsciiWhitespace(decoded), "{")) {
    return decoded;
  }
  return absl::InvalidArgumentError(
      absl::StrCat(v.origin, ": neither JSON nor base64-encoded JSON"));
}

// Both or neither of a pair (user/password, access/secret key); `secret` names the second
// half in the message ("password must be specified", as the plugins say).
absl::Status Pair(const std::optional<SettingSource::Value>& user,
                  const std::optional<SettingSource::Value>& pass, const std::string& user_name,
                  const std::string& pass_name, const std::string& first = "username",
                  const std::string& second = "password") {
  if (user && !pass) {
    return absl::InvalidArgumentError(absl::StrCat(user->origin, " is set but ", pass_name,
                                                   " is not: ", second, " must be specified"));
  }
  if (pass && !user) {
    return absl::InvalidArgumentError(absl::StrCat(pass->origin, " is set but ", user_name,
                                                   " is not: ", first, " must be specified"));
  }
  return absl::OkStatus();
}

v1::RegistryCredential Basic(const std::string& registry, const std::string& user,
                             const std::string& pass) {
  v1::RegistryCredential c;
  c.set_registry(registry);
  c.mutable_basic()->set_username(user);
  c.mutable_basic()->set_password(pass);
  return c;
}

bool HasCredentialFor(const StepSettings& s, const std::string& host) {
  if (s.credential.kind_case() != v1::RegistryCredential::KIND_NOT_SET &&
      s.credential.registry() == host) {
    return true;
  }
  for (const auto& c : s.base_credentials) {
    if (c.registry() == host) return true;
  }
  return false;
}

// PLUGIN_CONFIG: docker config.json content. Each "auths" entry with "auth" (base64 user:pass),
// "username"/"password" or "identitytoken" becomes a credential for its host, unless one exists.
absl::Status AddDockerConfig(const SettingSource::Value& v, StepSettings* s) {
  nlohmann::json j = nlohmann::json::parse(v.value, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) {
    return absl::InvalidArgumentError(absl::StrCat(v.origin, ": not a docker config.json"));
  }
  auto auths = j.find("auths");
  if (auths == j.end()) return absl::OkStatus();
  if (!auths->is_object()) {
    return absl::InvalidArgumentError(absl::StrCat(v.origin, ": \"auths\" is not an object"));
  }
  for (const auto& [raw_host, entry] : auths->items()) {
    std::string host = NormalizeRegistryHost(raw_host);
    if (!entry.is_object() || host.empty() || HasCredentialFor(*s, host)) continue;
    auto text = [&](const char* key) -> std::string {
      auto it = entry.find(key);
      return it != entry.end() && it->is_string() ? it->get<std::string>() : "";
    };
    v1::RegistryCredential c;
    c.set_registry(host);
    if (std::string auth = text("auth"); !auth.empty()) {
      std::string decoded;
      size_t colon;
      if (!absl::Base64Unescape(auth, &decoded) ||
          (colon = decoded.find(':')) == std::string::npos) {
        return absl::InvalidArgumentError(absl::StrCat(v.origin, ": auths[\"", raw_host,
                                                       "\"].auth is not base64 of user:password"));
      }
      c = Basic(host, decoded.substr(0, colon), decoded.substr(colon + 1));
    } else if (!text("username").empty()) {
      c = Basic(host, text("username"), text("password"));
    } else if (!text("identitytoken").empty()) {
      c.set_token(text("identitytoken"));
    } else {
      continue;
    }
    if (host == s->registry && s->credential.kind_case() == v1::RegistryCredential::KIND_NOT_SET &&
        (s->flavour == Flavour::kGeneric || s->flavour == Flavour::kDockerHub)) {
      s->credential = std::move(c);
    } else {
      s->base_credentials.push_back(std::move(c));
    }
  }
  return absl::OkStatus();
}

}  // namespace

std::string NormalizeRegistryHost(const std::string& registry) {
  absl::string_view r = absl::StripAsciiWhitespace(registry);
  if (!absl::ConsumePrefix(&r, "https://")) absl::ConsumePrefix(&r, "http://");
  r = r.substr(0, r.find('/'));
  std::string host = absl::AsciiStrToLower(r);
  if (host == "index.docker.io" || host == "registry-1.docker.io" ||
      host == "registry.hub.docker.com") {
    return "docker.io";
  }
  return host;
}

std::string RepoHost(const std::string& repo) {
  if (!HasHost(repo)) return "docker.io";
  return NormalizeRegistryHost(repo.substr(0, repo.find('/')));
}

absl::Status ResolveRegistryCredentials(SettingSource& src, StepSettings* s) {
  // Every flavour's variables are read (so none is reported as ignored) before choosing.
  auto region = src.Get({"PLUGIN_REGION"}, "region");
  auto access_key = src.Get({"PLUGIN_ACCESS_KEY"}, "access-key");
  auto secret_key = src.Get({"PLUGIN_SECRET_KEY"}, "secret-key");
  auto session_token = src.Get({"PLUGIN_SESSION_TOKEN"}, "session-token");
  auto assume_role = src.Get({"PLUGIN_ASSUME_ROLE"}, "assume-role");
  auto external_id = src.Get({"PLUGIN_EXTERNAL_ID"}, "external-id");
  auto create_repo_var = src.Get({"PLUGIN_CREATE_REPOSITORY"}, "create-repository");
  SLIPWAY_ASSIGN_OR_RETURN(bool create_repository, Bool(create_repo_var));
  auto json_key = src.Get({"PLUGIN_JSON_KEY", "GCR_JSON_KEY"}, "json-key");
  auto location = src.Get({"PLUGIN_LOCATION"}, "location");
  auto client_id = src.Get({"PLUGIN_CLIENT_ID"}, "client-id");
  auto client_secret = src.Get({"PLUGIN_CLIENT_SECRET"}, "client-secret");
  auto tenant_id = src.Get({"PLUGIN_TENANT_ID"}, "tenant-id");
  auto client_cert = src.Get({"PLUGIN_CLIENT_CERTIFICATE"}, "client-certificate");
  auto username = src.Get({"PLUGIN_USERNAME", "DOCKER_USERNAME"}, "username");
  auto password = src.Get({"PLUGIN_PASSWORD", "DOCKER_PASSWORD"}, "password");
  auto base_registry = src.Get(
      {"PLUGIN_BASE_IMAGE_REGISTRY", "PLUGIN_DOCKER_REGISTRY", "DOCKER_BASE_IMAGE_REGISTRY"},
      "base-image-registry");
  auto base_username = src.Get(
      {"PLUGIN_BASE_IMAGE_USERNAME", "PLUGIN_DOCKER_USERNAME", "DOCKER_BASE_IMAGE_USERNAME"},
      "base-image-username");
  auto base_password = src.Get(
      {"PLUGIN_BASE_IMAGE_PASSWORD", "PLUGIN_DOCKER_PASSWORD", "DOCKER_BASE_IMAGE_PASSWORD"},
      "base-image-password");
  auto docker_config = src.Get({"PLUGIN_CONFIG", "DOCKER_PLUGIN_CONFIG"}, "docker-config");

  // The first variable of each flavour present names it in a conflict message.
  struct Candidate {
    Flavour flavour;
    const char* label;
    std::optional<SettingSource::Value> first;
  };
  auto first_of = [](std::initializer_list<const std::optional<SettingSource::Value>*> vars) {
    for (const auto* v : vars) {
      if (*v) return **v;
    }
    return SettingSource::Value{};
  };
  std::vector<Candidate> present;
  if (region || access_key || secret_key || session_token || assume_role || external_id ||
      create_repository) {
    auto v = first_of({&region, &access_key, &secret_key, &session_token, &assume_role,
                       &external_id, &create_repo_var});
    present.push_back({Flavour::kEcr, "ECR", v});
  }
  if (json_key || location)
    present.push_back({Flavour::kGar, "GAR", first_of({&json_key, &location})});
  if (client_id || client_secret || tenant_id || client_cert) {
    present.push_back(
        {Flavour::kAcr, "ACR", first_of({&client_id, &client_secret, &tenant_id, &client_cert})});
  }
  if (present.size() > 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        present[0].first->origin, " (", present[0].label, ") and ", present[1].first->origin, " (",
        present[1].label, ") select different registry credential flavours; set only one"));
  }

  const bool cloud = !present.empty();
  s->flavour = cloud ? present[0].flavour : Flavour::kGeneric;
  if (cloud && s->flavour == Flavour::kGar && s->registry.empty() && location) {
    s->registry = absl::StrCat(absl::AsciiStrToLower(location->value), "-docker.pkg.dev");
  }
  // The cloud plugins push to <registry>/<repo>.
  if (cloud && !s->registry.empty() && !s->repo.empty() && !HasHost(s->repo)) {
    s->repo = absl::StrCat(s->registry, "/", s->repo);
  }
  if (s->registry.empty() && !s->repo.empty()) s->registry = RepoHost(s->repo);
  if (!cloud && s->registry == "docker.io") s->flavour = Flavour::kDockerHub;
  s->credential.Clear();
  s->credential.set_registry(s->registry);

  switch (s->flavour) {
    case Flavour::kEcr: {
      SLIPWAY_RETURN_IF_ERROR(Pair(access_key, secret_key, "PLUGIN_ACCESS_KEY", "PLUGIN_SECRET_KEY",
                                   "access key", "secret key"));
      if (s->registry.empty() || s->registry == "docker.io") {
        return absl::InvalidArgumentError(
            "PLUGIN_REGISTRY must name the ECR registry "
            "(<account>.dkr.ecr.<region>.amazonaws.com)");
      }
      auto* ecr = s->credential.mutable_ecr();
      std::string derived = EcrRegionOf(s->registry);
      ecr->set_region(region ? region->value : (derived.empty() ? "us-east-1" : derived));
      ecr->set_access_key(Str(access_key));
      ecr->set_secret_key(Str(secret_key));
      ecr->set_session_token(Str(session_token));
      ecr->set_assume_role(Str(assume_role));
      ecr->set_external_id(Str(external_id));
      ecr->set_create_repository(create_repository);
      break;
    }
    case Flavour::kGar: {
      if (!json_key) {
        return absl::InvalidArgumentError(
            "PLUGIN_JSON_KEY must be specified for Google Artifact Registry");
      }
      if (s->registry.empty() || s->registry == "docker.io") {
        return absl::InvalidArgumentError(
            "PLUGIN_REGISTRY or PLUGIN_LOCATION must name the Google Artifact Registry host");
      }
      SLIPWAY_ASSIGN_OR_RETURN(std::string key, GarJsonKey(*json_key));
      s->credential.mutable_gar()->set_json_key(key);
      s->credential.mutable_gar()->set_location(Str(location));
      break;
    }
    case Flavour::kAcr: {
      if (client_cert) {
        return absl::InvalidArgumentError(absl::StrCat(
            client_cert->origin,
            ": ACR client-certificate authentication is not supported; use PLUGIN_CLIENT_SECRET"));
      }
      for (const auto& [v, name] : {std::pair{&client_id, "PLUGIN_CLIENT_ID"},
                                    std::pair{&client_secret, "PLUGIN_CLIENT_SECRET"},
                                    std::pair{&tenant_id, "PLUGIN_TENANT_ID"}}) {
        if (!*v) {
          return absl::InvalidArgumentError(
              absl::StrCat(name, " must be specified for Azure Container Registry"));
        }
      }
      if (s->registry.empty() || s->registry == "docker.io") {
        return absl::InvalidArgumentError(
            "PLUGIN_REGISTRY must name the Azure Container Registry (<name>.azurecr.io)");
      }
      auto* acr = s->credential.mutable_acr();
      acr->set_client_id(client_id->value);
      acr->set_client_secret(client_secret->value);
      acr->set_tenant_id(tenant_id->value);
      break;
    }
    case Flavour::kGeneric:
    case Flavour::kDockerHub:
      SLIPWAY_RETURN_IF_ERROR(Pair(username, password, "PLUGIN_USERNAME", "PLUGIN_PASSWORD"));
      if (username) s->credential = Basic(s->registry, username->value, password->value);
      break;
  }

  // Base-image credentials; a cloud flavour reads USERNAME/PASSWORD as these.
  if (cloud && !base_username && !base_password) {
    base_username = username;
    base_password = password;
    SLIPWAY_RETURN_IF_ERROR(
        Pair(base_username, base_password, "PLUGIN_USERNAME", "PLUGIN_PASSWORD"));
  }
  SLIPWAY_RETURN_IF_ERROR(Pair(base_username, base_password, "PLUGIN_BASE_IMAGE_USERNAME",
                               "PLUGIN_BASE_IMAGE_PASSWORD"));
  if (base_username) {
    std::string host = base_registry ? NormalizeRegistryHost(base_registry->value) : "docker.io";
    s->base_credentials.push_back(Basic(host, base_username->value, base_password->value));
  }
  if (docker_config) SLIPWAY_RETURN_IF_ERROR(AddDockerConfig(*docker_config, s));
  return absl::OkStatus();
}

}  // namespace slipway::client::step
