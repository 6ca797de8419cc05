#ifndef SLIPWAY_SERVER_BUILD_BASE_IMAGE_H_
#define SLIPWAY_SERVER_BUILD_BASE_IMAGE_H_

#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "slipway/v1/slipway.pb.h"
#include "storage/blob_store.h"
#include "storage/descriptor.h"
#include "storage/image_index.h"
#include "storage/manifest.h"

namespace slipway::build {

// An image a stage starts FROM (or COPY --from takes files from), resolved to one platform.
struct BaseImage {
  Digest manifest;              // the single-platform manifest's digest
  std::string config_json;
  std::vector<Descriptor> layers;
  std::vector<Digest> diff_ids; // from the config, one per layer
};

// Pulls an image the store lacks (through the registry client, with the build's base-image
// credentials) and returns the recorded image. Provided by the service, which owns registry
// settings and credential handling.
using BaseImagePuller = std::function<absl::StatusOr<ImageRecord>(
    const std::string& ref, const PlatformSpec& platform, const v1::BuildSpec& spec)>;

// Finds `ref` (a tag in any form NormalizeTag accepts, or "sha256:...") in the store; for an
// index, the child for `platform`. NOT_FOUND when the store lacks it (or lacks a blob of it);
// INVALID_ARGUMENT for a malformed reference or a config whose diff_ids do not match the
// layers; NOT_FOUND naming the platforms available when the index has none for `platform`.
absl::StatusOr<BaseImage> ResolveStoredImage(const std::string& ref, const PlatformSpec& platform,
                                             const BlobStore& store, const ImageIndex& index);

// The store first, then `puller` (when set) for references the store lacks.
absl::StatusOr<BaseImage> ResolveBaseImage(const std::string& ref, const PlatformSpec& platform,
                                           const v1::BuildSpec& spec, const BlobStore& store,
                                           const ImageIndex& index,
                                           const BaseImagePuller& puller);

}  // namespace slipway::build

#endif  // SLIPWAY_SERVER_BUILD_BASE_IMAGE_H_
