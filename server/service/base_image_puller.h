#ifndef SLIPWAY_SERVER_SERVICE_BASE_IMAGE_PULLER_H_
#define SLIPWAY_SERVER_SERVICE_BASE_IMAGE_PULLER_H_

#include "server/build/base_image.h"
#include "server/registry/docker_config.h"
#include "server/registry/retry.h"
#include "storage/blob_store.h"
#include "storage/image_index.h"

namespace slipway {

// The builder's way to fetch a FROM / COPY --from image the store lacks: pulls it through the
// registry client into the store (the platform chosen from an index). Credentials: the build
// request's base_credentials entry for the reference's registry (basic or token), else the
// operator's auth file when configured, else anonymous. Credentials live only for the pull.
// Everything passed in must outlive the returned function.
build::BaseImagePuller MakeBaseImagePuller(BlobStore& store, ImageIndex& index,
                                           registry::Clock& clock,
                                           const registry::DockerConfig* auth_file);

}  // namespace slipway

#endif  // SLIPWAY_SERVER_SERVICE_BASE_IMAGE_PULLER_H_
