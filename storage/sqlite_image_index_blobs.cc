// SqliteImageIndex, part 2: layer compression, leases, liveness and blob use times.

#include <openssl/rand.h>

#include <utility>

#include "absl/strings/str_cat.h"
#include "storage/sqlite_image_index.h"
#include "storage/status_macros.h"

namespace slipway {
namespace {

using Tx = SqliteTransaction;

absl::StatusOr<std::string> NewLeaseId() {
  unsigned char bytes[16];
  if (RAND_bytes(bytes, sizeof(bytes)) != 1) {
    return absl::InternalError("RAND_bytes failed while creating a lease id");
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string id = "lease-";
  for (unsigned char b : bytes) {
    id.push_back(kHex[b >> 4]);
    id.push_back(kHex[b & 0xf]);
  }
  return id;
}

}  // namespace

// ---- layer compression ----

absl::Status SqliteImageIndex::RecordLayerCompression(const LayerCompression& mapping) {
  const std::string compressed = mapping.compressed.digest.ToString();
  if (mapping.compressed.media_type.empty() || mapping.compressed.size < 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "layer compression for ", compressed, ": media type empty or size negative"));
  }
  absl::MutexLock lock(&mu_);
  SLIPWAY_ASSIGN_OR_RETURN(auto tx, Tx::Begin(*db_));
  // A compressed blob decompresses to exactly one tar; a second, different diff_id is a bug
  // somewhere upstream and must not silently replace the first.
  SLIPWAY_ASSIGN_OR_RETURN(auto q, db_->Prepare(
      "SELECT diff_id FROM layer_compression WHERE compressed_digest = ?"));
  q.Bind(1, compressed);
  SLIPWAY_ASSIGN_OR_RETURN(bool found, q.Step());
  if (found && q.ColumnText(0) != mapping.diff_id.ToString()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "layer ", compressed, " is recorded with diff_id ", q.ColumnText(0), ", not ",
        mapping.diff_id.ToString()));
  }
  SLIPWAY_ASSIGN_OR_RETURN(auto upsert, db_->Prepare(
      "INSERT INTO layer_compression (compressed_digest, diff_id, media_type, size,"
      " uncompressed_size, recorded_unix) VALUES (?, ?, ?, ?, ?, ?)"
      " ON CONFLICT (compressed_digest) DO UPDATE SET media_type = excluded.media_type,"
      " size = excluded.size, uncompressed_size = max(uncompressed_size,"
      " excluded.uncompressed_size), recorded_unix = excluded.recorded_unix"));
  SLIPWAY_RETURN_IF_ERROR(upsert.Bind(1, compressed).Bind(2, mapping.diff_id.ToString())
                              .Bind(3, mapping.compressed.media_type)
                              .Bind(4, mapping.compressed.size)
                              .Bind(5, mapping.uncompressed_size).Bind(6, now_unix_()).Run());
  return tx->Commit();
}

absl::StatusOr<LayerCompression> SqliteImageIndex::FindCompressionLocked(
    absl::string_view sql, const Digest& key) const {
  SLIPWAY_ASSIGN_OR_RETURN(auto q, db_->Prepare(sql));
  q.Bind(1, key.ToString());
  SLIPWAY_ASSIGN_OR_RETURN(bool found, q.Step());
  if (!found) {
    return absl::NotFoundError(absl::StrCat("no layer compression known for ", key.ToString()));
  }
  SLIPWAY_ASSIGN_OR_RETURN(Digest diff_id,
                           StoredDigest(q.ColumnText(0), "layer_compression.diff_id"));
  SLIPWAY_ASSIGN_OR_RETURN(Digest compressed,
                           StoredDigest(q.ColumnText(1), "layer_compression.compressed_digest"));
  return LayerCompression{diff_id, Descriptor{q.ColumnText(2), compressed, q.ColumnInt64(3), {}},
                          q.ColumnInt64(4)};
}

absl::StatusOr<LayerCompression> SqliteImageIndex::FindByDiffId(const Digest& diff_id) const {
  absl::MutexLock lock(&mu_);
  // Several compressed forms may exist (gzip and zstd); the most recently recorded wins.
  return FindCompressionLocked(
      "SELECT diff_id, compressed_digest, media_type, size, uncompressed_size"
      " FROM layer_compression WHERE diff_id = ? ORDER BY recorded_unix DESC, rowid DESC LIMIT 1",
      diff_id);
}

absl::StatusOr<LayerCompression> SqliteImageIndex::FindByCompressed(
    const Digest& compressed) const {
  absl::MutexLock lock(&mu_);
  return FindCompressionLocked(
      "SELECT diff_id, compressed_digest, media_type, size, uncompressed_size"
      " FROM layer_compression WHERE compressed_digest = ?",
      compressed);
}

// ---- leases ----

absl::StatusOr<Lease> SqliteImageIndex::CreateLease(int64_t ttl_seconds) {
  if (ttl_seconds <= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("lease ttl_seconds must be positive, got ", ttl_seconds));
  }
  SLIPWAY_ASSIGN_OR_RETURN(std::string id, NewLeaseId());
  const int64_t now = now_unix_();
  Lease lease{id, now + ttl_seconds};
  absl::MutexLock lock(&mu_);
  SLIPWAY_ASSIGN_OR_RETURN(auto tx, Tx::Begin(*db_));
  // Expired leases protect nothing; dropping them here keeps the tables small without a timer.
  SLIPWAY_ASSIGN_OR_RETURN(auto purge, db_->Prepare("DELETE FROM leases WHERE expires_unix <= ?"));
  SLIPWAY_RETURN_IF_ERROR(purge.Bind(1, now).Run());
  SLIPWAY_ASSIGN_OR_RETURN(auto insert, db_->Prepare(
      "INSERT INTO leases (id, created_unix, expires_unix) VALUES (?, ?, ?)"));
  SLIPWAY_RETURN_IF_ERROR(insert.Bind(1, lease.id).Bind(2, now).Bind(3, lease.expires_unix).Run());
  SLIPWAY_RETURN_IF_ERROR(tx->Commit());
  return lease;
}

absl::Status SqliteImageIndex::AddToLease(absl::string_view lease_id,
                                          const std::vector<Digest>& digests) {
  const int64_t now = now_unix_();
  absl::MutexLock lock(&mu_);
  SLIPWAY_ASSIGN_OR_RETURN(auto tx, Tx::Begin(*db_));
  SLIPWAY_ASSIGN_OR_RETURN(auto q, db_->Prepare("SELECT expires_unix FROM leases WHERE id = ?"));
  q.Bind(1, lease_id);
  SLIPWAY_ASSIGN_OR_RETURN(bool found, q.Step());
  if (!found) return absl::NotFoundError(absl::StrCat("no lease ", lease_id));
  if (q.ColumnInt64(0) <= now) {
    return absl::FailedPreconditionError(absl::StrCat("lease ", lease_id, " expired at ",
                                                      q.ColumnInt64(0),
                                                      "; its blobs may have been collected"));
  }
  SLIPWAY_ASSIGN_OR_RETURN(auto insert, db_->Prepare(
      "INSERT OR IGNORE INTO lease_blobs (lease_id, digest) VALUES (?, ?)"));
  for (const Digest& d : digests) {
    insert.Reset();
    SLIPWAY_RETURN_IF_ERROR(insert.Bind(1, lease_id).Bind(2, d.ToString()).Run());
  }
  return tx->Commit();
}

absl::Status SqliteImageIndex::ReleaseLease(absl::string_view lease_id) {
  absl::MutexLock lock(&mu_);
  SLIPWAY_ASSIGN_OR_RETURN(auto tx, Tx::Begin(*db_));
  SLIPWAY_ASSIGN_OR_RETURN(auto q, db_->Prepare("DELETE FROM leases WHERE id = ?"));
  SLIPWAY_RETURN_IF_ERROR(q.Bind(1, lease_id).Run());
  if (db_->Changes() == 0) return absl::NotFoundError(absl::StrCat("no lease ", lease_id));
  return tx->Commit();
}

// ---- liveness and use ----

absl::StatusOr<std::vector<Digest>> SqliteImageIndex::DigestColumnLocked(
    SqliteStatement& stmt, absl::string_view where) const {
  std::vector<Digest> out;
  for (;;) {
    SLIPWAY_ASSIGN_OR_RETURN(bool row, stmt.Step());
    if (!row) break;
    SLIPWAY_ASSIGN_OR_RETURN(Digest d, StoredDigest(stmt.ColumnText(0), where));
    out.push_back(std::move(d));
  }
  return out;
}

absl::StatusOr<std::vector<Digest>> SqliteImageIndex::LiveBlobs(int64_t now_unix) const {
  absl::MutexLock lock(&mu_);
  SLIPWAY_ASSIGN_OR_RETURN(auto tx, Tx::Begin(*db_, Tx::Kind::kRead));
  SLIPWAY_ASSIGN_OR_RETURN(auto q, db_->Prepare(
      "SELECT blob_digest FROM image_blobs"
      " UNION SELECT report_digest FROM scan_results WHERE report_digest IS NOT NULL"
      " UNION SELECT lb.digest FROM lease_blobs lb JOIN leases l ON l.id = lb.lease_id"
      " WHERE l.expires_unix > ? ORDER BY 1"));
  q.Bind(1, now_unix);
  return DigestColumnLocked(q, "live blob");
}

absl::StatusOr<std::vector<Digest>> SqliteImageIndex::ReferencedBlobs() const {
  absl::MutexLock lock(&mu_);
  SLIPWAY_ASSIGN_OR_RETURN(auto q, db_->Prepare(
      "SELECT DISTINCT blob_digest FROM image_blobs ORDER BY 1"));
  return DigestColumnLocked(q, "image_blobs.blob_digest");
}

absl::Status SqliteImageIndex::TouchLocked(const std::vector<Digest>& digests, int64_t now_unix) {
  SLIPWAY_ASSIGN_OR_RETURN(auto q, db_->Prepare(
      "INSERT INTO blob_usage (digest, last_used_unix) VALUES (?, ?) ON CONFLICT (digest)"
      " DO UPDATE SET last_used_unix = max(last_used_unix, excluded.last_used_unix)"));
  for (const Digest& d : digests) {
    q.Reset();
    SLIPWAY_RETURN_IF_ERROR(q.Bind(1, d.ToString()).Bind(2, now_unix).Run());
  }
  return absl::OkStatus();
}

absl::Status SqliteImageIndex::TouchBlobs(const std::vector<Digest>& digests, int64_t now_unix) {
  absl::MutexLock lock(&mu_);
  SLIPWAY_ASSIGN_OR_RETURN(auto tx, Tx::Begin(*db_));
  SLIPWAY_RETURN_IF_ERROR(TouchLocked(digests, now_unix));
  return tx->Commit();
}

absl::StatusOr<int64_t> SqliteImageIndex::LastUsed(const Digest& digest) const {
  absl::MutexLock lock(&mu_);
  SLIPWAY_ASSIGN_OR_RETURN(auto q, db_->Prepare(
      "SELECT last_used_unix FROM blob_usage WHERE digest = ?"));
  q.Bind(1, digest.ToString());
  SLIPWAY_ASSIGN_OR_RETURN(bool found, q.Step());
  if (!found) return absl::NotFoundError(absl::StrCat("no recorded use of ", digest.ToString()));
  return q.ColumnInt64(0);
}

absl::Status SqliteImageIndex::ForgetBlob(const Digest& digest) {
  absl::MutexLock lock(&mu_);
  SLIPWAY_ASSIGN_OR_RETURN(auto tx, Tx::Begin(*db_));
  for (const char* sql : {"DELETE FROM blob_usage WHERE digest = ?",
                          "DELETE FROM lease_blobs WHERE digest = ?",
                          "DELETE FROM layer_compression WHERE compressed_digest = ?",
                          "DELETE FROM build_cache WHERE digest = ?"}) {
    SLIPWAY_ASSIGN_OR_RETURN(auto q, db_->Prepare(sql));
    SLIPWAY_RETURN_IF_ERROR(q.Bind(1, digest.ToString()).Run());
  }
  return tx->Commit();
}

}  // namespace slipway
