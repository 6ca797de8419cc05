#include "client/step/step_targets.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "storage/image_name.h"

namespace slipway::client::step {

absl::StatusOr<ImageName> ParseImageName(absl::string_view name) {
  if (absl::StrContains(name, '@')) {
    return absl::InvalidArgumentError(
        absl::StrCat("image name \"", name, "\": a digest cannot be pushed to; give a tag"));
  }
  // A tag is a ':' after the last '/' (a ':' before it is a registry port).
  const size_t slash = name.rfind('/');
  const size_t colon = name.rfind(':');
  const bool has_tag = colon != absl::string_view::npos &&
                       (slash == absl::string_view::npos || colon > slash);
  absl::StatusOr<std::string> normalized = NormalizeTag(name);
  if (!normalized.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("image name \"", name, "\": ", normalized.status().message()));
  }
  const std::string& n = *normalized;
  ImageName out;
  const size_t first_slash = n.find('/');
  const size_t tag_colon = n.rfind(':');
  out.registry = n.substr(0, first_slash);
  out.repository = n.substr(first_slash + 1, tag_colon - first_slash - 1);
  if (has_tag) out.tag = n.substr(tag_colon + 1);
  return out;
}

std::vector<std::string> EffectiveTags(const StepSettings& settings) {
  if (settings.tags.empty()) return {"latest"};
  return settings.tags;
}

std::vector<std::string> StoreTags(const StepSettings& settings) {
  std::vector<std::string> out;
  if (settings.repo.empty()) return out;
  for (const auto& tag : EffectiveTags(settings)) out.push_back(absl::StrCat(settings.repo, ":", tag));
  return out;
}

absl::StatusOr<std::vector<v1::PushTarget>> PushTargets(const StepSettings& settings) {
  std::vector<std::string> names = {settings.repo};
  names.insert(names.end(), settings.destinations.begin(), settings.destinations.end());
  const bool has_credential = settings.credential.kind_case() !=
                              v1::RegistryCredential::KIND_NOT_SET;
  const bool has_tls = settings.tls.insecure_http() || settings.tls.skip_verify() ||
                       !settings.tls.ca_pem().empty() || !settings.tls.client_cert_pem().empty();
  std::vector<v1::PushTarget> targets;
  for (size_t i = 0; i < names.size(); ++i) {
    if (names[i].empty()) return absl::InvalidArgumentError("PLUGIN_REPO is empty");
    absl::StatusOr<ImageName> name = ParseImageName(names[i]);
    if (!name.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(
          i == 0 ? "PLUGIN_REPO: " : "PLUGIN_DESTINATIONS: ", name.status().message()));
    }
    if (i == 0 && !name->tag.empty()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "PLUGIN_REPO \"", names[i], "\" carries a tag; give tags in PLUGIN_TAGS"));
    }
    v1::PushTarget t;
    t.set_registry(name->registry);
    t.set_repository(name->repository);
    if (!name->tag.empty()) {
      t.add_tags(name->tag);
    } else {
      for (const auto& tag : EffectiveTags(settings)) t.add_tags(tag);
    }
    // The main target always gets the step's credential (PLUGIN_REGISTRY may spell Docker Hub
    // differently); a destination only when it is on that registry.
    if (has_credential && (i == 0 || settings.credential.registry().empty() ||
                           settings.credential.registry() == t.registry())) {
      *t.mutable_credential() = settings.credential;
    } else if (i > 0) {
      // A destination on another registry: the credential PLUGIN_CONFIG (or the base-image
      // variables) gave for that host, as the plugins' single config.json would serve it.
      for (const auto& c : settings.base_credentials) {
        if (c.registry() == t.registry()) {
          *t.mutable_credential() = c;
          break;
        }
      }
    }
    if (has_tls) *t.mutable_tls() = settings.tls;
    targets.push_back(std::move(t));
  }
  return targets;
}

std::vector<std::string> TargetImages(const std::vector<v1::PushTarget>& targets,
                                      const StepSettings& settings) {
  std::vector<std::string> out;
  for (size_t i = 0; i < targets.size(); ++i) {
    // The main repository as the user wrote it; destinations as registry/repository.
    std::string base = i == 0 ? settings.repo
                              : absl::StrCat(targets[i].registry(), "/", targets[i].repository());
    for (const auto& tag : targets[i].tags()) out.push_back(absl::StrCat(base, ":", tag));
  }
  return out;
}

}  // namespace slipway::client::step
