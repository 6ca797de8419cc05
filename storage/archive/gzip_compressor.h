#ifndef SLIPWAY_STORAGE_ARCHIVE_GZIP_COMPRESSOR_H_
#define SLIPWAY_STORAGE_ARCHIVE_GZIP_COMPRESSOR_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace slipway {

// Receives compressed or decompressed output. An error stops the stream and is returned by the
// Write()/Finish() call that produced the output.
using OutputFn = std::function<absl::Status(absl::string_view)>;

// Streaming gzip compression on ISA-L igzip (a single gzip member, generic header: mtime 0,
// no name, so no timestamps leak into layers).
//
// Reproducible: ISA-L is fed from an internal buffer in fixed-size blocks, so the output depends
// only on the input bytes and the level, never on how the caller chunked its Write() calls. Two
// builds of the same layer therefore produce the same compressed digest.
//
// Levels: ISA-L has levels 0..3 (0 is still compressing, the fastest). Requests above 3 (e.g. a
// user asking for gzip's 6 or 9) are clamped to 3; negative levels are INVALID_ARGUMENT.
// Not thread-safe: one compressor per stream.
class GzipCompressor {
 public:
  // Size of the blocks handed to isal_deflate. Part of the output format: changing it changes
  // compressed digests.
  static constexpr size_t kBlockSize = 1 << 20;

  static absl::StatusOr<std::unique_ptr<GzipCompressor>> Create(int level, OutputFn output);
  ~GzipCompressor();

  absl::Status Write(absl::string_view data);
  // Compresses what is buffered and writes the gzip trailer. The compressor cannot be used
  // afterwards.
  absl::Status Finish();

  int64_t bytes_in() const { return bytes_in_; }
  int64_t bytes_out() const { return bytes_out_; }

 private:
  struct Impl;
  GzipCompressor(std::unique_ptr<Impl> impl, OutputFn output);
  absl::Status Deflate(bool end_of_stream);

  std::unique_ptr<Impl> impl_;
  OutputFn output_;
  std::string block_;   // pending input, flushed to ISA-L at kBlockSize
  std::string out_buf_;
  int64_t bytes_in_ = 0;
  int64_t bytes_out_ = 0;
  bool finished_ = false;
  absl::Status error_;  // sticky
};

// Compresses a whole buffer (tests, small blobs).
absl::StatusOr<std::string> GzipCompress(absl::string_view data, int level = 1);

}  // namespace slipway

#endif  // SLIPWAY_STORAGE_ARCHIVE_GZIP_COMPRESSOR_H_
