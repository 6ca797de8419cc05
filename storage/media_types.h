#ifndef SLIPWAY_STORAGE_MEDIA_TYPES_H_
#define SLIPWAY_STORAGE_MEDIA_TYPES_H_

#include "absl/strings/string_view.h"

namespace slipway::media {

// OCI image spec v1.1.
inline constexpr absl::string_view kOciManifest = "application/vnd.oci.image.manifest.v1+json";
inline constexpr absl::string_view kOciIndex = "application/vnd.oci.image.index.v1+json";
inline constexpr absl::string_view kOciConfig = "application/vnd.oci.image.config.v1+json";
inline constexpr absl::string_view kOciLayer = "application/vnd.oci.image.layer.v1.tar";
inline constexpr absl::string_view kOciLayerGzip = "application/vnd.oci.image.layer.v1.tar+gzip";
inline constexpr absl::string_view kOciLayerZstd = "application/vnd.oci.image.layer.v1.tar+zstd";
inline constexpr absl::string_view kOciEmpty = "application/vnd.oci.empty.v1+json";

// Docker image manifest v2 schema 2.
inline constexpr absl::string_view kDockerManifest =
    "application/vnd.docker.distribution.manifest.v2+json";
inline constexpr absl::string_view kDockerManifestList =
    "application/vnd.docker.distribution.manifest.list.v2+json";
inline constexpr absl::string_view kDockerConfig = "application/vnd.docker.container.image.v1+json";
inline constexpr absl::string_view kDockerLayer = "application/vnd.docker.image.rootfs.diff.tar";
inline constexpr absl::string_view kDockerLayerGzip =
    "application/vnd.docker.image.rootfs.diff.tar.gzip";
inline constexpr absl::string_view kDockerForeignLayerGzip =
    "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip";

enum class LayerCompressionKind { kNone, kGzip, kZstd, kUnknown };

// The compression a layer media type declares (kUnknown for non-layer types).
LayerCompressionKind CompressionOfLayerType(absl::string_view media_type);
bool IsManifestType(absl::string_view media_type);  // single-image manifests, OCI or Docker
bool IsIndexType(absl::string_view media_type);     // OCI index or Docker manifest list
bool IsDockerType(absl::string_view media_type);

}  // namespace slipway::media

#endif  // SLIPWAY_STORAGE_MEDIA_TYPES_H_
