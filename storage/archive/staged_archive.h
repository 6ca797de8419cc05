#ifndef SLIPWAY_STORAGE_ARCHIVE_STAGED_ARCHIVE_H_
#define SLIPWAY_STORAGE_ARCHIVE_STAGED_ARCHIVE_H_

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "storage/archive/byte_stream.h"
#include "storage/archive/decompressor.h"
#include "storage/blob_store.h"
#include "storage/digest.h"

namespace slipway {

// Per-document cap for entries kept in memory (manifests, configs, index.json).
inline constexpr int64_t kMaxArchiveDocBytes = 4 << 20;
// Cap on all in-memory entries of one archive together, so a tar of many small files cannot
// exhaust memory.
inline constexpr int64_t kMaxArchiveMemoryBytes = 64 << 20;

// One regular file of an import archive after it has streamed past.
//
// How an entry is held is decided from its first bytes, not its name:
//  - an uncompressed tar ("ustar" at 257) is gzip-compressed on the fly into `writer`; the
//    uncompressed bytes are only hashed (digest == diff_id) and never stored;
//  - gzip or zstd data is stored as-is in `writer`, and decompressed on the fly to learn and so
//    verify its diff_id (a second core-cheap pass over data already in cache; it lets the index
//    record a verified diff_id → blob mapping, which later builds and legacy exports trust);
//  - anything else up to kMaxArchiveDocBytes is kept in `bytes` (JSON documents, empty tars);
//  - anything else larger is stored as-is in `writer` without a diff_id.
// Writers are finished (hashed, fsynced) but never published here.
struct StagedEntry {
  enum class Holding { kMemory, kStoredAsIs, kCompressedByUs };
  std::string name;
  Holding holding = Holding::kMemory;
  StreamKind content = StreamKind::kUnknown;  // sniffed from the first bytes
  Digest digest = Sha256Of("");                 // of the entry's bytes as in the archive
  int64_t size = 0;
  std::string bytes;                           // kMemory only
  std::unique_ptr<BlobWriter> writer;          // kStoredAsIs / kCompressedByUs
  std::optional<BlobInfo> stored;              // what `writer` holds
  std::optional<Digest> diff_id;               // uncompressed tar digest when known
  int64_t uncompressed_size = -1;
  absl::Status diff_id_error;                  // why diff_id is unknown (corrupt gzip, ...)
};

// All regular files and links of an archive, by normalized name.
struct StagedArchive {
  std::map<std::string, StagedEntry> entries;
  std::map<std::string, std::string> links;  // normalized name → normalized target
  int64_t bytes_received = 0;

  // Follows links (at most 16 hops). NOT_FOUND naming `name` when absent.
  absl::StatusOr<StagedEntry*> Find(const std::string& name);
  bool Has(const std::string& name) const {
    return entries.count(name) > 0 || links.count(name) > 0;
  }
};

// Reads a plain (uncompressed) tar from `source` with libarchive, staging every regular file
// into `blobs` writers or memory as described above. Directories are skipped; symlinks and hard
// links are recorded (symlink targets resolved lexically; escaping targets rejected); devices,
// FIFOs, sparse files and duplicate names are refused. Errors: INVALID_ARGUMENT for malformed or
// truncated tars and bad names (naming the entry), RESOURCE_EXHAUSTED for oversized documents,
// the blob store's errors.
absl::StatusOr<std::unique_ptr<StagedArchive>> StageArchive(ByteSource& source, BlobStore& blobs,
                                                            int gzip_level);

// Turns a kMemory entry into a layer: gzip-compresses its bytes into a new writer
// (kCompressedByUs), e.g. an empty layer.tar of zero blocks that carried no ustar magic.
absl::Status CompressMemoryEntry(StagedEntry& entry, BlobStore& blobs, int gzip_level);

// Stores a kMemory entry's bytes as-is in a new (unpublished) writer.
absl::Status StageMemoryEntryAsBlob(StagedEntry& entry, BlobStore& blobs);

}  // namespace slipway

#endif  // SLIPWAY_STORAGE_ARCHIVE_STAGED_ARCHIVE_H_
