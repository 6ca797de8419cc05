#include "server/registry/reference.h"

#include <arpa/inet.h>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "storage/image_name.h"
#include "storage/status_macros.h"

namespace slipway::registry {
namespace {

constexpr absl::string_view kDockerHubDomain = "docker.io";
constexpr absl::string_view kDockerHubApiHost = "registry-1.docker.io";

// Splits a normalized "domain/path:tag" (NormalizeTag's output) into its parts.
ImageReference SplitNormalized(absl::string_view normalized) {
  ImageReference ref;
  size_t slash = normalized.find('/');
  size_t colon = normalized.rfind(':');
  ref.domain = std::string(normalized.substr(0, slash));
  ref.repository = std::string(normalized.substr(slash + 1, colon - slash - 1));
  ref.tag = std::string(normalized.substr(colon + 1));
  return ref;
}

// True when `name` (no digest part) carries an explicit ":tag" after its last '/'.
bool HasExplicitTag(absl::string_view name) {
  size_t colon = name.rfind(':');
  if (colon == absl::string_view::npos) return false;
  size_t slash = name.rfind('/');
  return slash == absl::string_view::npos || colon > slash;
}

}  // namespace

std::string ImageReference::ApiHost() const { return RegistryApiHost(domain); }

std::string ImageReference::ManifestReference() const {
  return digest.has_value() ? digest->ToString() : tag;
}

std::string ImageReference::ToString() const {
  std::string out = absl::StrCat(domain, "/", repository);
  if (!tag.empty()) absl::StrAppend(&out, ":", tag);
  if (digest.has_value()) absl::StrAppend(&out, "@", digest->ToString());
  return out;
}

absl::StatusOr<ImageReference> ParseImageReference(absl::string_view text) {
  absl::string_view name = text;
  std::optional<Digest> digest;
  if (size_t at = text.find('@'); at != absl::string_view::npos) {
    name = text.substr(0, at);
    auto parsed = Digest::Parse(text.substr(at + 1));
    if (!parsed.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("invalid image reference: digest part: ", parsed.status().message()));
    }
    digest = *parsed;
  }
  SLIPWAY_ASSIGN_OR_RETURN(std::string normalized, NormalizeTag(name));
  ImageReference ref = SplitNormalized(normalized);
  if (digest.has_value() && !HasExplicitTag(name)) ref.tag.clear();
  ref.digest = std::move(digest);
  return ref;
}

absl::StatusOr<ImageReference> MakeImageReference(absl::string_view registry,
                                                  absl::string_view repository,
                                                  absl::string_view tag) {
  if (registry.empty() || repository.empty()) {
    return absl::InvalidArgumentError("registry and repository must both be set");
  }
  std::string domain(registry);
  // NormalizeTag only recognizes a first component with '.' or ':' (or "localhost") as a host;
  // a bare host name given explicitly as a registry must stay a host.
  if (!absl::StrContains(domain, '.') && !absl::StrContains(domain, ':') &&
      domain != "localhost") {
    return absl::InvalidArgumentError(absl::StrCat(
        "registry \"", domain.substr(0, 100), "\" must contain '.' or ':' or be localhost"));
  }
  std::string text = absl::StrCat(domain, "/", repository);
  if (!tag.empty()) absl::StrAppend(&text, ":", tag);
  SLIPWAY_ASSIGN_OR_RETURN(ImageReference ref, ParseImageReference(text));
  if (tag.empty()) ref.tag.clear();
  return ref;
}

absl::Status ValidateRepository(absl::string_view repository) {
  // With an explicit (reserved) domain NormalizeTag adds nothing, so the path must come back
  // unchanged.
  constexpr absl::string_view kProbeDomain = "registry.invalid/";
  auto normalized = NormalizeTag(absl::StrCat(kProbeDomain, repository, ":t"));
  if (!normalized.ok() || *normalized != absl::StrCat(kProbeDomain, repository, ":t")) {
    return absl::InvalidArgumentError(absl::StrCat(
        "invalid repository name \"", repository.substr(0, 100), "\"",
        normalized.ok() ? "" : absl::StrCat(": ", normalized.status().message())));
  }
  return absl::OkStatus();
}

absl::Status ValidateManifestReference(absl::string_view reference) {
  if (absl::StartsWith(reference, "sha256:")) return Digest::Parse(reference).status();
  auto normalized = NormalizeTag(absl::StrCat("registry.invalid/a:", reference));
  if (!normalized.ok() || reference.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("invalid tag \"", reference.substr(0, 130), "\""));
  }
  return absl::OkStatus();
}

std::string RegistryApiHost(absl::string_view domain) {
  if (domain == kDockerHubDomain || domain == "index.docker.io") {
    return std::string(kDockerHubApiHost);
  }
  return std::string(domain);
}

std::string DockerConfigKey(absl::string_view domain) {
  if (domain == kDockerHubDomain || domain == "index.docker.io" || domain == kDockerHubApiHost) {
    return "https://index.docker.io/v1/";
  }
  return std::string(domain);
}

std::string HostWithoutPort(absl::string_view host_and_port) {
  absl::string_view h = host_and_port;
  if (absl::StartsWith(h, "[")) {
    size_t close = h.find(']');
    if (close != absl::string_view::npos) return std::string(h.substr(1, close - 1));
    return std::string(h);
  }
  // More than one ':' without brackets: a bare IPv6 literal, no port.
  size_t colon = h.find(':');
  if (colon != absl::string_view::npos && h.find(':', colon + 1) == absl::string_view::npos) {
    h = h.substr(0, colon);
  }
  return std::string(h);
}

bool IsLoopbackHost(absl::string_view host_and_port) {
  std::string host = absl::AsciiStrToLower(HostWithoutPort(host_and_port));
  if (host == "localhost") return true;
  in_addr v4;
  if (inet_pton(AF_INET, host.c_str(), &v4) == 1) {
    return (ntohl(v4.s_addr) >> 24) == 127;
  }
  in6_addr v6;
  if (inet_pton(AF_INET6, host.c_str(), &v6) == 1) {
    return IN6_IS_ADDR_LOOPBACK(&v6);
  }
  return false;
}

}  // namespace slipway::registry
