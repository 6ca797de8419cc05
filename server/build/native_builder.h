#ifndef SLIPWAY_SERVER_BUILD_NATIVE_BUILDER_H_
#define SLIPWAY_SERVER_BUILD_NATIVE_BUILDER_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "server/build/base_image.h"
#include "server/build/builder.h"
#include "server/build/layer/layer_writer.h"
#include "server/build/layer/unpacked_layers.h"
#include "server/build/run/run_mounts.h"
#include "server/build/run/sandbox.h"
#include "storage/blob_store.h"
#include "storage/image_index.h"

namespace slipway::build {

struct NativeBuilderOptions {
  // Per-build scratch space (extracted ADD archives, heredoc files): <data-dir>/build-tmp.
  std::string staging_root;
  LayerCompressionKind compression = LayerCompressionKind::kGzip;
  int compression_level = 1;
  // RUN: the sandbox helper, whether RUN works on this host (ProbeSandbox's verdict at
  // startup; when not OK every RUN fails with it and each build says so in its first event),
  // and the directories behind RUN --mount=type=cache (not owned).
  SandboxOptions sandbox;
  absl::Status run_support = absl::FailedPreconditionError("no RUN sandbox configured");
  CacheMountDirs* cache_mounts = nullptr;
};

// The embedded builder: no daemon, no external tool. Parses the Dockerfile, plans the stages
// the target needs, builds independent stages in parallel (one thread per stage; a stage waits
// only for the stages it names), makes COPY/ADD layers straight from context blobs, caches
// every layer step by key (parent key + instruction after expansion + build args in scope +
// sources' digests and metadata), runs RUN in a sandbox over overlayfs (run_step.h), and
// records the image and its tags. Thread-safe: concurrent builds share nothing but
// the store, the index and the unpacked-layer cache, all thread-safe.
class NativeBuilder : public Builder {
 public:
  NativeBuilder(const NativeBuilderOptions& options, BlobStore& store, ImageIndex& index,
                UnpackedLayers& unpacked, BaseImagePuller puller);

  absl::StatusOr<v1::Image> Build(const BuildRequest& request, BuildObserver& observer) override;
  absl::Status Check(const v1::BuildSpec& spec) override;

 private:
  NativeBuilderOptions options_;
  BlobStore& store_;
  ImageIndex& index_;
  UnpackedLayers& unpacked_;
  BaseImagePuller puller_;
};

}  // namespace slipway::build

#endif  // SLIPWAY_SERVER_BUILD_NATIVE_BUILDER_H_
