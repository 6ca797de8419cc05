#ifndef SLIPWAY_STORAGE_MANIFEST_H_
#define SLIPWAY_STORAGE_MANIFEST_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "storage/descriptor.h"

namespace slipway {

// Manifests and configs larger than this are refused before parsing (as registries do).
inline constexpr int64_t kMaxManifestBytes = 4 << 20;

struct PlatformSpec {
  std::string os, architecture, variant;
};

// A single-image manifest (OCI or Docker v2 schema 2).
struct ImageManifest {
  std::string media_type;               // as declared (or inferred, see ParseManifest)
  Descriptor config;
  std::vector<Descriptor> layers;
  std::optional<Descriptor> subject;
};

// An OCI image index or Docker manifest list.
struct ImageIndexDocument {
  struct Entry {
    Descriptor descriptor;
    std::optional<PlatformSpec> platform;
  };
  std::string media_type;
  std::vector<Entry> manifests;
};

// A parsed manifest-ish document: exactly one of the two is set.
struct ManifestDocument {
  std::optional<ImageManifest> manifest;
  std::optional<ImageIndexDocument> index;
};

// Parses and validates a manifest or index. `content_type` is the type the document was served
// or referenced with ("" when unknown). Rejects, with INVALID_ARGUMENT naming the problem:
// invalid JSON, documents over kMaxManifestBytes (RESOURCE_EXHAUSTED), a document with both
// "layers"/"config" and "manifests", a mediaType field contradicting `content_type`, missing or
// malformed descriptors (bad digest, negative size), schemaVersion other than 2.
absl::StatusOr<ManifestDocument> ParseManifestDocument(absl::string_view bytes,
                                                       absl::string_view content_type);

// The parts of an image config the store uses.
struct ImageConfigSummary {
  PlatformSpec platform;
  std::vector<Digest> diff_ids;
  std::string created;  // RFC 3339 as written, may be empty
};
// Validates that the config is a JSON object with rootfs.type == "layers" and valid diff_ids.
absl::StatusOr<ImageConfigSummary> ParseImageConfig(absl::string_view bytes);

// Serializes a manifest canonically (stable key order, no whitespace), for manifests we write.
std::string SerializeManifest(const ImageManifest& manifest);
std::string SerializeIndex(const ImageIndexDocument& index);

}  // namespace slipway

#endif  // SLIPWAY_STORAGE_MANIFEST_H_
