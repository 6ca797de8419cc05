#ifndef SLIPWAY_STORAGE_IMAGE_NAME_H_
#define SLIPWAY_STORAGE_IMAGE_NAME_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace slipway {

// Store tags are kept in Docker's fully normalized form, so "alpine", "alpine:latest" and
// "docker.io/library/alpine:latest" are one tag:
//   "alpine"                      → "docker.io/library/alpine:latest"
//   "team/app:1.2"                → "docker.io/team/app:1.2"
//   "localhost:5000/app"          → "localhost:5000/app:latest"
//   "registry.example.com/a/b:v1" → "registry.example.com/a/b:v1"
// A first component is a registry host when it contains '.' or ':' or is "localhost".
// INVALID_ARGUMENT (naming the text and the rule broken) for upper-case repository names,
// empty components, a digest ("@sha256:...": not a tag), tags over 128 characters or with
// characters outside [A-Za-z0-9_.-], names over 255 characters.
absl::StatusOr<std::string> NormalizeTag(absl::string_view name);

// The short form Docker shows: "docker.io/library/alpine:latest" → "alpine:latest",
// "docker.io/team/app:1" → "team/app:1"; other registries are unchanged.
std::string FamiliarTag(absl::string_view normalized_tag);

}  // namespace slipway

#endif  // SLIPWAY_STORAGE_IMAGE_NAME_H_
