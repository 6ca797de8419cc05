#include "storage/media_types.h"

#include "absl/strings/match.h"

namespace slipway::media {

LayerCompressionKind CompressionOfLayerType(absl::string_view media_type) {
  if (media_type == kOciLayer || media_type == kDockerLayer ||
      media_type == "application/vnd.oci.image.layer.nondistributable.v1.tar") {
    return LayerCompressionKind::kNone;
  }
  if (media_type == kOciLayerGzip || media_type == kDockerLayerGzip ||
      media_type == kDockerForeignLayerGzip ||
      media_type == "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip") {
    return LayerCompressionKind::kGzip;
  }
  if (media_type == kOciLayerZstd ||
      media_type == "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd") {
    return LayerCompressionKind::kZstd;
  }
  return LayerCompressionKind::kUnknown;
}

bool IsManifestType(absl::string_view media_type) {
  return media_type == kOciManifest || media_type == kDockerManifest;
}

bool IsIndexType(absl::string_view media_type) {
  return media_type == kOciIndex || media_type == kDockerManifestList;
}

bool IsDockerType(absl::string_view media_type) {
  return absl::StartsWith(media_type, "application/vnd.docker.");
}

}  // namespace slipway::media
