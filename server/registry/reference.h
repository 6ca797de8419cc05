#ifndef SLIPWAY_SERVER_REGISTRY_REFERENCE_H_
#define SLIPWAY_SERVER_REGISTRY_REFERENCE_H_

#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "storage/digest.h"

namespace slipway::registry {

// A Docker image reference split for the distribution API. The name grammar is the store's
// (storage/image_name.h, NormalizeTag): this file only adds the digest part and the mapping
// from the reference's domain to the host the API is called on.
//   "alpine"                         → domain docker.io, repository library/alpine, tag latest
//   "localhost:5000/app@sha256:…"    → domain localhost:5000, repository app, digest, no tag
//   "ghcr.io/a/b:v1@sha256:…"        → tag v1 and digest (the digest wins for pulls)
struct ImageReference {
  std::string domain;      // as written after normalization: "docker.io", "localhost:5000"
  std::string repository;  // "library/alpine"
  std::string tag;         // empty when only a digest was given
  std::optional<Digest> digest;

  // Host[:port] to call the API on: "registry-1.docker.io" for docker.io, the domain otherwise.
  std::string ApiHost() const;
  // What to put after /manifests/: the digest when present, else the tag.
  std::string ManifestReference() const;
  // Fully qualified: "docker.io/library/alpine:latest", "h/r@sha256:…", "h/r:t@sha256:…".
  std::string ToString() const;
};

// Parses "name[:tag][@sha256:hex]". A reference without tag and digest gets tag "latest".
// INVALID_ARGUMENT naming the text and the rule broken (see NormalizeTag), or a bad digest.
absl::StatusOr<ImageReference> ParseImageReference(absl::string_view text);

// A push target given as separate registry and repository ("docker.io", "alpine") →
// normalized reference with `tag` (may be empty for a push by digest only).
absl::StatusOr<ImageReference> MakeImageReference(absl::string_view registry,
                                                  absl::string_view repository,
                                                  absl::string_view tag);

// Checks a repository path ("team/app") and a manifest reference (a tag or "sha256:<hex>") with
// the same grammar as references, before they become part of a URL. INVALID_ARGUMENT.
absl::Status ValidateRepository(absl::string_view repository);
absl::Status ValidateManifestReference(absl::string_view reference);

// "docker.io" and "index.docker.io" → "registry-1.docker.io"; anything else unchanged.
std::string RegistryApiHost(absl::string_view domain);

// The key Docker's config.json uses for a registry: "https://index.docker.io/v1/" for Docker Hub,
// the domain otherwise.
std::string DockerConfigKey(absl::string_view domain);

// True for "localhost", 127.0.0.0/8 and ::1, with or without a port. Docker lets such
// registries speak plain HTTP without an explicit opt-in.
bool IsLoopbackHost(absl::string_view host_and_port);

// Strips ":port" (and IPv6 brackets): "[::1]:5000" → "::1", "h:80" → "h".
std::string HostWithoutPort(absl::string_view host_and_port);

}  // namespace slipway::registry

#endif  // SLIPWAY_SERVER_REGISTRY_REFERENCE_H_
