#ifndef SLIPWAY_SERVER_BUILD_LAYER_GZIP_CHECKED_SOURCE_H_
#define SLIPWAY_SERVER_BUILD_LAYER_GZIP_CHECKED_SOURCE_H_

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "storage/archive/byte_stream.h"
#include "storage/archive/decompressor.h"

namespace slipway::build {

// Internal to server/build/layer/. Passes a stream through unchanged unless it starts with the
// gzip magic, in which case it yields the decompressed bytes, inflated by ISA-L with every
// member's CRC-32 and length checked. libarchive's gzip filter ignores the trailer, so a
// corrupt stored block would otherwise extract silently. Output per Next() is bounded by what
// one small input piece inflates to. Errors from decompression carry `corrupt_code` and name
// `what`. Not thread-safe.
class GzipCheckedSource : public ByteSource {
 public:
  GzipCheckedSource(ByteSource& in, std::string what, absl::StatusCode corrupt_code);
  ~GzipCheckedSource() override;
  absl::StatusOr<absl::string_view> Next() override;

 private:
  absl::StatusOr<absl::string_view> NextGzip();

  ByteSource& in_;
  std::string what_;
  absl::StatusCode corrupt_code_;
  bool started_ = false;
  bool gzip_ = false;
  bool finished_ = false;
  absl::string_view rest_;  // compressed input not yet inflated (valid until in_.Next())
  std::string first_;       // the sniffed first chunk, replayed
  std::unique_ptr<Decompressor> decompressor_;
  std::string pending_, out_;
};

}  // namespace slipway::build

#endif  // SLIPWAY_SERVER_BUILD_LAYER_GZIP_CHECKED_SOURCE_H_
