#ifndef SLIPWAY_STORAGE_ARCHIVE_IMPORTER_H_
#define SLIPWAY_STORAGE_ARCHIVE_IMPORTER_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "storage/archive/byte_stream.h"
#include "storage/archive/present_entries.h"
#include "storage/blob_store.h"
#include "storage/image_index.h"

namespace slipway {

struct ImportOptions {
  std::vector<std::string> tags;   // extra tags (any form NormalizeTag accepts)
  std::string select_tag;          // which image when the archive holds several
  bool ignore_archive_tags = false;
  int gzip_level = 1;              // for layers that arrive uncompressed
  // Entries the client left out of the stream because the store holds them (see
  // AddPresentEntries); they take part in the import exactly like streamed entries.
  std::vector<PresentEntryClaim> present;
};

struct ImportResult {
  ImageRecord image;               // with tags as now stored
  int64_t bytes_received = 0;
  int blobs_stored = 0;            // blobs newly published
  int blobs_present = 0;           // blobs the store already had
  int layers_compressed = 0;
  int entries_from_store = 0;      // options.present entries used
  int64_t bytes_from_store = 0;    // their sizes as tar entries
};

// Imports one image from a tar stream in any supported format (legacy docker-archive, the
// go-containerregistry/kaniko style, Docker 25+ combined, OCI archive, a tarred OCI layout),
// detected from content, not from names. The tar is parsed as it streams: every blob is hashed
// and staged as it arrives; uncompressed layers are compressed on the fly (diff_id and digest in
// one pass) and the mapping recorded in the index. Only when the whole archive validated are the
// staged blobs published and the image recorded, so a failed import leaves nothing visible.
//
// Errors: INVALID_ARGUMENT (malformed tar, path escapes, missing/invalid manifest.json or
// index.json, ambiguous image selection — the message names the entry), NOT_FOUND (select_tag
// absent), DATA_LOSS (bytes vs digest), RESOURCE_EXHAUSTED (disk full, oversized JSON),
// FAILED_PRECONDITION (an options.present entry is not, or no longer, in the store: checked
// again under the import's lease before anything is published).
// Thread-safe with respect to other imports (each call has its own state).
absl::StatusOr<ImportResult> ImportArchive(ByteSource& source, const ImportOptions& options,
                                           BlobStore& blobs, ImageIndex& index);

}  // namespace slipway

#endif  // SLIPWAY_STORAGE_ARCHIVE_IMPORTER_H_
