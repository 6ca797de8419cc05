#ifndef SLIPWAY_STORAGE_ARCHIVE_DECOMPRESSOR_H_
#define SLIPWAY_STORAGE_ARCHIVE_DECOMPRESSOR_H_

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "storage/archive/gzip_compressor.h"  // OutputFn

namespace slipway {

enum class StreamKind {
  kGzip,     // 1f 8b
  kZstd,     // 28 b5 2f fd
  kTar,      // "ustar" at offset 257 (POSIX and GNU tar)
  kUnknown,  // anything else, or too few bytes to tell
};

// Sniffs the first bytes of a stream. Needs 4 bytes for gzip/zstd and 262 for tar.
StreamKind SniffStreamKind(absl::string_view prefix);
const char* StreamKindName(StreamKind kind);

// Streaming decompression of gzip (ISA-L isal_inflate; multi-member files such as pigz or
// concatenated output are followed to the end) and zstd (libzstd streaming; multiple frames).
// The format is chosen from the magic bytes of the first input.
//
// Errors (DATA_LOSS, naming `name` and the byte offset): input that is neither gzip nor zstd,
// corrupt data, a checksum mismatch, trailing garbage after a gzip member, and input that ends
// mid-stream (reported by Finish). Errors are sticky. Not thread-safe.
class Decompressor {
 public:
  // `name` identifies the stream in error messages (an entry name or a digest).
  static std::unique_ptr<Decompressor> Create(std::string name, OutputFn output);
  virtual ~Decompressor() = default;

  virtual absl::Status Write(absl::string_view data) = 0;
  virtual absl::Status Finish() = 0;
  // Uncompressed bytes produced so far.
  virtual int64_t bytes_out() const = 0;
  virtual StreamKind kind() const = 0;  // kUnknown until the first bytes arrived
};

// Decompresses a whole buffer (tests, small blobs).
absl::StatusOr<std::string> DecompressAll(absl::string_view data);

}  // namespace slipway

#endif  // SLIPWAY_STORAGE_ARCHIVE_DECOMPRESSOR_H_
