#ifndef SLIPWAY_STORAGE_ARCHIVE_PRESENT_ENTRIES_H_
#define SLIPWAY_STORAGE_ARCHIVE_PRESENT_ENTRIES_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "storage/archive/staged_archive.h"
#include "storage/blob_store.h"
#include "storage/digest.h"
#include "storage/image_index.h"

namespace slipway {

// An entry of the client's tarball that the client did not stream because the store already
// holds its bytes (deduplicated import). `digest` is the sha256 of the entry's bytes as they are
// in the tarball: a stored blob, or for an uncompressed layer tar its diff_id.
struct PresentEntryClaim {
  std::string name;  // as in the tarball (normalized here like a streamed entry's name)
  Digest digest;
};

// What AddPresentEntries took from the store.
struct PresentEntriesStats {
  int entries = 0;
  int64_t bytes = 0;  // the entries' sizes as they would have been in the tarball
};

// Adds the claimed entries to `archive` as if they had streamed past, without copying stored
// bytes: a stored compressed layer is used in place (holding kStoredAsIs, no writer; its
// diff_id from the index's compression records, else by decompressing the stored blob); a
// stored document up to kMaxArchiveDocBytes is read into memory (kMemory) so the importer can
// parse it; a diff_id that the index maps to a stored compressed layer becomes that layer
// (holding kCompressedByUs, no writer: the importer describes it like a layer it compressed).
// Everything the importer checks afterwards (blob names, diff_ids, sizes) applies unchanged.
//
// Errors: INVALID_ARGUMENT for a bad name (naming `present[i]`) or a name the stream also
// carried; FAILED_PRECONDITION naming the entry when the store does not hold the claimed bytes
// (never did, or garbage collection removed them) or holds them only as an uncompressed tar;
// RESOURCE_EXHAUSTED when in-memory documents exceed kMaxArchiveMemoryBytes; DATA_LOSS when a
// stored layer does not decompress. Reads the store only; never publishes anything.
absl::StatusOr<PresentEntriesStats> AddPresentEntries(const std::vector<PresentEntryClaim>& claims,
                                                      const BlobStore& blobs,
                                                      const ImageIndex& index,
                                                      StagedArchive& archive);

}  // namespace slipway

#endif  // SLIPWAY_STORAGE_ARCHIVE_PRESENT_ENTRIES_H_
