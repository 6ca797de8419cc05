#ifndef SLIPWAY_SERVER_BUILD_LAYER_LAYER_COMPRESSOR_H_
#define SLIPWAY_SERVER_BUILD_LAYER_LAYER_COMPRESSOR_H_

#include <memory>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "server/build/layer/layer_writer.h"
#include "storage/archive/gzip_compressor.h"  // OutputFn

namespace slipway::build {

// Streaming compression of a layer tar, gzip (ISA-L, GzipCompressor) or zstd (libzstd, one
// frame with a content checksum). Reproducible: the output depends only on the input bytes, the
// kind and the level, never on how Write() calls chunk the input (zstd is fed in fixed blocks as
// GzipCompressor is). INVALID_ARGUMENT for a level the codec does not have. Not thread-safe.
class LayerCompressor {
 public:
  static absl::StatusOr<std::unique_ptr<LayerCompressor>> Create(LayerCompressionKind kind,
                                                                 int level, OutputFn output);
  virtual ~LayerCompressor() = default;
  virtual absl::Status Write(absl::string_view data) = 0;
  // Flushes everything and ends the stream; the compressor cannot be used afterwards.
  virtual absl::Status Finish() = 0;
};

}  // namespace slipway::build

#endif  // SLIPWAY_SERVER_BUILD_LAYER_LAYER_COMPRESSOR_H_
