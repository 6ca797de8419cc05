#ifndef SLIPWAY_SERVER_BUILD_LAYER_SAFE_EXTRACT_H_
#define SLIPWAY_SERVER_BUILD_LAYER_SAFE_EXTRACT_H_

#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "storage/archive/byte_stream.h"
#include "storage/digest.h"

namespace slipway::build {

// Internal to server/build/layer/: the one tar extraction engine behind UnpackedLayers and
// ExtractArchive.

struct SafeExtractOptions {
  // Names entries in errors: "layer sha256:...", "archive /path/x.tar.gz".
  std::string what;
  // Layers: an absolute name or any ".." is INVALID_ARGUMENT. Archives (Docker's ADD rules):
  // leading "/" are dropped, ".." is resolved lexically and INVALID_ARGUMENT only when it
  // climbs above the root.
  bool layer_names = true;
  // Converts OCI whiteouts to overlayfs form: `.wh.x` → 0:0 character device `x`,
  // `.wh..wh..opq` → xattr trusted.overlay.opaque=y on its directory.
  bool overlay_whiteouts = true;
  // Code for a stream that does not decompress or parse (DATA_LOSS for stored layers,
  // INVALID_ARGUMENT for user archives).
  absl::StatusCode corrupt_code = absl::StatusCode::kDataLoss;
};

// The metadata of the archive's own root entry ("./"), which is not extracted onto `dest`.
struct ArchiveRootEntry {
  uint32_t mode = 0755;  // permission bits
  uint32_t uid = 0, gid = 0;
  int64_t mtime_unix_nanos = 0;
};

struct SafeExtractResult {
  Digest tar_digest;        // sha256 of the whole uncompressed stream (the diff_id)
  int64_t tar_bytes = 0;
  std::optional<ArchiveRootEntry> root;  // set when the archive has a "./" entry
};

// Extracts the tar in `source` — plain or compressed with gzip (ISA-L, CRC-checked), bzip2, xz
// or zstd (libarchive's filters), detected by content — into `dest`, an existing directory given as a symlink-free absolute path. Keeps
// owners (when root), modes, mtimes, xattrs, hard links, symlinks and device nodes. No entry is
// written outside `dest`: names are checked (see SafeExtractOptions), no entry is written or
// hard-linked through a symlink (INVALID_ARGUMENT naming the entry), and libarchive's own
// ARCHIVE_EXTRACT_SECURE_SYMLINKS / SECURE_NODOTDOT checks run as a second line. On error `dest`
// holds a partial tree: the caller removes it.
absl::StatusOr<SafeExtractResult> SafeExtract(ByteSource& source, const std::string& dest,
                                              const SafeExtractOptions& options);

// The first up-to-`max` bytes of `source` after decompression (gzip, bzip2, xz, zstd or none).
// For content sniffing. An error when the stream does not decompress.
absl::StatusOr<std::string> PeekDecompressed(ByteSource& source, size_t max);

}  // namespace slipway::build

#endif  // SLIPWAY_SERVER_BUILD_LAYER_SAFE_EXTRACT_H_
