#ifndef SLIPWAY_STORAGE_IMAGE_INDEX_H_
#define SLIPWAY_STORAGE_IMAGE_INDEX_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "storage/descriptor.h"
#include "storage/digest.h"

namespace slipway {

// One stored image: a top-level manifest (or index) and everything it reaches.
struct ImageRecord {
  Descriptor manifest;                 // top-level manifest or index
  std::optional<Digest> config;        // absent for an index
  std::vector<Descriptor> layers;      // in manifest order (empty for an index)
  std::string os, architecture, variant;
  int64_t total_size = 0;              // sum of all distinct blobs below, as stored
  int64_t created_unix = 0;            // when first recorded
  std::vector<std::string> tags;       // filled by reads; ignored by PutImage
};

// Where a blob's uncompressed form maps to: recorded whenever we compress a layer, so no layer
// is ever compressed twice and exports can restore the uncompressed form.
struct LayerCompression {
  Digest diff_id;                      // sha256 of the uncompressed tar
  Descriptor compressed;               // media type, digest and size of the stored blob
  int64_t uncompressed_size = -1;      // -1 when unknown
};

// A lease keeps blobs alive through garbage collection while work is in flight (an import that
// has published blobs but not yet recorded its image, a build, a push). Leases expire, so a
// crashed holder cannot pin blobs forever.
struct Lease {
  std::string id;
  int64_t expires_unix = 0;
};

// A build cache entry: the layer one build instruction produced, found again by the
// instruction's cache key (the parent's key + the instruction after expansion + its inputs).
struct BuildCacheEntry {
  std::string key;               // hex sha256 computed by the builder
  Descriptor layer{"", Sha256Of(""), 0, {}};  // the stored (compressed) layer blob
  Digest diff_id = Sha256Of("");
  int64_t uncompressed_size = 0;
  int64_t built_unix = 0;       // when the layer was built (its history time); 0 = unknown
};

// The outcome of one scanner on one stored manifest: run by slipwayd's hooks (Scan) or recorded
// by a separate scanner step (RecordScan). One row per (manifest, scanner): a newer result
// replaces the older one.
struct ScanResultRecord {
  Digest manifest = Sha256Of("");   // the stored top-level manifest the scan was of
  std::string scanner;              // the configured hook's (or the recording caller's) name
  std::string scanner_version;      // "" when unknown
  bool passed = false;
  int exit_code = -1;               // -1 when the scanner did not exit by itself
  // Findings per severity, from the report; all zero when unknown.
  int64_t critical = 0, high = 0, medium = 0, low = 0, unknown = 0;
  bool summary_known = false;       // a report was parsed into the counts above
  std::optional<Descriptor> report; // the report, stored as a blob (kept alive through GC)
  std::string message;              // why it failed, or notes (report refused, ...)
  std::string source;               // "hook" or "recorded"
  int64_t duration_ms = 0;
  int64_t recorded_unix = 0;        // filled by the index on write
};

// Image metadata in SQLite (WAL). Blobs are always published to the BlobStore before any row
// refers to them. Thread-safe: every method is one transaction.
class ImageIndex {
 public:
  virtual ~ImageIndex() = default;

  // Records `image` (idempotent for the same manifest digest) with `blobs`: every blob the
  // image references (manifest, config, layers, child manifests). INVALID_ARGUMENT for an
  // inconsistent record.
  virtual absl::Status PutImage(const ImageRecord& image,
                                const std::vector<Descriptor>& blobs) = 0;

  // Resolves a tag or a "sha256:..." digest (of a stored top-level manifest). NOT_FOUND.
  virtual absl::StatusOr<ImageRecord> Resolve(absl::string_view ref) const = 0;
  virtual absl::StatusOr<std::vector<ImageRecord>> List() const = 0;  // newest first

  // Points `tag` at the stored image `manifest` (moving it). NOT_FOUND for an unknown image.
  virtual absl::Status Tag(absl::string_view tag, const Digest& manifest) = 0;
  // Removes a tag. NOT_FOUND if absent.
  virtual absl::Status Untag(absl::string_view tag) = 0;
  // Removes an image record and all tags pointing at it; returns the removed tags. NOT_FOUND.
  virtual absl::StatusOr<std::vector<std::string>> DeleteImage(const Digest& manifest) = 0;

  virtual absl::Status RecordLayerCompression(const LayerCompression& mapping) = 0;
  virtual absl::StatusOr<LayerCompression> FindByDiffId(const Digest& diff_id) const = 0;
  virtual absl::StatusOr<LayerCompression> FindByCompressed(const Digest& compressed) const = 0;

  // Leases. CreateLease: INVALID_ARGUMENT for ttl_seconds <= 0. AddToLease: NOT_FOUND for an
  // unknown lease, FAILED_PRECONDITION for an expired one (GC may already have swept its blobs).
  // ReleaseLease: NOT_FOUND for an unknown lease.
  virtual absl::StatusOr<Lease> CreateLease(int64_t ttl_seconds) = 0;
  virtual absl::Status AddToLease(absl::string_view lease_id,
                                  const std::vector<Digest>& digests) = 0;
  virtual absl::Status ReleaseLease(absl::string_view lease_id) = 0;

  // Every blob reachable from a recorded image or an unexpired lease (the GC mark set).
  virtual absl::StatusOr<std::vector<Digest>> LiveBlobs(int64_t now_unix) const = 0;
  // Records that a blob was used now (read for export/push, or referenced again); GC evicts
  // least recently used unreferenced blobs first when over quota.
  virtual absl::Status TouchBlobs(const std::vector<Digest>& digests, int64_t now_unix) = 0;
  virtual absl::StatusOr<int64_t> LastUsed(const Digest& digest) const = 0;  // NOT_FOUND
  // Forgets everything the index knows of a blob that no longer exists (used by GC and fsck):
  // its use time, lease entries and compression mappings. Image rows are left alone: an image
  // that lost a blob is removed explicitly with DeleteImage (fsck --repair does).
  virtual absl::Status ForgetBlob(const Digest& digest) = 0;

  // Every blob digest any image row references (for fsck: referenced but missing on disk).
  virtual absl::StatusOr<std::vector<Digest>> ReferencedBlobs() const = 0;
  // Every blob recorded for the stored image `manifest` (the `blobs` given to PutImage, child
  // manifests of an index included), sorted by digest. NOT_FOUND for an unknown image. The
  // default derives manifest + config + layers from Resolve() (misses an index's children).
  virtual absl::StatusOr<std::vector<Descriptor>> ImageBlobs(const Digest& manifest) const;
  virtual int schema_version() const = 0;

  // Remote locations: that `digest` is known to exist in `repository` of `registry` (host[:port],
  // as the push target names it) — pushed there, found there, mounted there or pulled from
  // there. Idempotent; a repeat refreshes the record's time. Used for cross-repository mounts.
  // The defaults record nothing (an index without location support never offers a mount).
  virtual absl::Status RecordBlobLocation(absl::string_view registry,
                                          absl::string_view repository, const Digest& digest);
  // The repositories of `registry` known to hold `digest`, most recently recorded first
  // (empty when none).
  virtual absl::StatusOr<std::vector<std::string>> FindBlobLocations(
      absl::string_view registry, const Digest& digest) const;

  // Build cache. Put is idempotent (a repeat replaces the entry). Find: NOT_FOUND when the key
  // is unknown. Entries never keep blobs alive: a builder must check the layer still exists
  // (ForgetBlob drops the entries of a removed blob). The defaults store nothing.
  virtual absl::Status PutBuildCache(const BuildCacheEntry& entry);
  virtual absl::StatusOr<BuildCacheEntry> FindBuildCache(absl::string_view key) const;
  // Scan results. RecordScanResult stores `result` (replacing an earlier result of the same
  // scanner for the same manifest); NOT_FOUND when the manifest is not a stored image,
  // INVALID_ARGUMENT for an empty scanner name. A result's report blob is live for GC for as
  // long as the result exists; results go with their image (DeleteImage). ScanResults returns
  // the results for `manifest` sorted by scanner name (empty when none). The defaults answer
  // UNIMPLEMENTED (an index without scan support).
  virtual absl::Status RecordScanResult(const ScanResultRecord& result);
  virtual absl::StatusOr<std::vector<ScanResultRecord>> ScanResults(const Digest& manifest) const;
};

struct SqliteImageIndexOptions {
  std::string path;  // the SQLite file, e.g. <data-dir>/index.db
  // Clock for created_unix, lease expiry and blob use times; the wall clock when empty.
  std::function<int64_t()> now_unix;
};

class SqliteImageIndex;
// Opens (creating and migrating as needed) the index at options.path.
absl::StatusOr<std::unique_ptr<ImageIndex>> OpenSqliteImageIndex(
    const SqliteImageIndexOptions& options);

}  // namespace slipway

#endif  // SLIPWAY_STORAGE_IMAGE_INDEX_H_
