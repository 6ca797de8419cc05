#include "storage/sqlite_index_schema.h"

#include "absl/strings/str_cat.h"
#include "storage/status_macros.h"

namespace slipway {
namespace {

struct Migration {
  int version;
  const char* name;
  const char* sql;
};

// Append only: never edit a migration that has shipped; add a new one. Digests are stored as
// "sha256:<hex>" text. Foreign keys cascade so deleting an image removes its layers, blob
// references and tags in the same statement.
constexpr Migration kMigrations[] = {
    {1, "images, layers, blob references and tags", R"sql(
CREATE TABLE schema_migrations (
  version      INTEGER PRIMARY KEY,
  name         TEXT    NOT NULL,
  applied_unix INTEGER NOT NULL
);
CREATE TABLE images (
  manifest_digest TEXT    PRIMARY KEY,
  media_type      TEXT    NOT NULL,
  size            INTEGER NOT NULL CHECK (size >= 0),
  annotations     TEXT    NOT NULL DEFAULT '{}',
  config_digest   TEXT,
  os              TEXT    NOT NULL DEFAULT '',
  architecture    TEXT    NOT NULL DEFAULT '',
  variant         TEXT    NOT NULL DEFAULT '',
  total_size      INTEGER NOT NULL CHECK (total_size >= 0),
  created_unix    INTEGER NOT NULL
);
CREATE INDEX images_by_created ON images (created_unix);
CREATE TABLE image_layers (
  manifest_digest TEXT    NOT NULL REFERENCES images (manifest_digest) ON DELETE CASCADE,
  position        INTEGER NOT NULL,
  digest          TEXT    NOT NULL,
  media_type      TEXT    NOT NULL,
  size            INTEGER NOT NULL,
  annotations     TEXT    NOT NULL DEFAULT '{}',
  PRIMARY KEY (manifest_digest, position)
);
CREATE TABLE image_blobs (
  manifest_digest TEXT    NOT NULL REFERENCES images (manifest_digest) ON DELETE CASCADE,
  blob_digest     TEXT    NOT NULL,
  media_type      TEXT    NOT NULL,
  size            INTEGER NOT NULL,
  PRIMARY KEY (manifest_digest, blob_digest)
);
CREATE INDEX image_blobs_by_blob ON image_blobs (blob_digest);
CREATE TABLE tags (
  tag             TEXT PRIMARY KEY,
  manifest_digest TEXT NOT NULL REFERENCES images (manifest_digest) ON DELETE CASCADE
);
CREATE INDEX tags_by_manifest ON tags (manifest_digest);
)sql"},
    {2, "layer compression mappings", R"sql(
CREATE TABLE layer_compression (
  compressed_digest TEXT    PRIMARY KEY,
  diff_id           TEXT    NOT NULL,
  media_type        TEXT    NOT NULL,
  size              INTEGER NOT NULL CHECK (size >= 0),
  uncompressed_size INTEGER NOT NULL DEFAULT -1,
  recorded_unix     INTEGER NOT NULL
);
CREATE INDEX layer_compression_by_diff_id ON layer_compression (diff_id);
)sql"},
    {3, "leases and blob use times", R"sql(
CREATE TABLE leases (
  id           TEXT    PRIMARY KEY,
  created_unix INTEGER NOT NULL,
  expires_unix INTEGER NOT NULL
);
CREATE INDEX leases_by_expiry ON leases (expires_unix);
CREATE TABLE lease_blobs (
  lease_id TEXT NOT NULL REFERENCES leases (id) ON DELETE CASCADE,
  digest   TEXT NOT NULL,
  PRIMARY KEY (lease_id, digest)
);
CREATE INDEX lease_blobs_by_digest ON lease_blobs (digest);
CREATE TABLE blob_usage (
  digest         TEXT    PRIMARY KEY,
  last_used_unix INTEGER NOT NULL
);
)sql"},
    {4, "remote blob locations (cross-repository mounts)", R"sql(
CREATE TABLE blob_locations (
  registry      TEXT    NOT NULL,
  repository    TEXT    NOT NULL,
  digest        TEXT    NOT NULL,
  recorded_unix INTEGER NOT NULL,
  PRIMARY KEY (registry, digest, repository)
);
)sql"},
    {5, "build cache (instruction key -> layer)", R"sql(
CREATE TABLE build_cache (
  cache_key         TEXT    PRIMARY KEY,
  media_type        TEXT    NOT NULL,
  digest            TEXT    NOT NULL,
  size              INTEGER NOT NULL,
  diff_id           TEXT    NOT NULL,
  uncompressed_size INTEGER NOT NULL,
  recorded_unix     INTEGER NOT NULL
);
CREATE INDEX build_cache_by_digest ON build_cache (digest);
)sql"},
    // Scan results: depends on no migration but the first (`images`).
    {6, "scan results per manifest and scanner", R"sql(
CREATE TABLE scan_results (
  manifest_digest   TEXT    NOT NULL REFERENCES images (manifest_digest) ON DELETE CASCADE,
  scanner           TEXT    NOT NULL,
  scanner_version   TEXT    NOT NULL DEFAULT '',
  passed            INTEGER NOT NULL,
  exit_code         INTEGER NOT NULL,
  critical          INTEGER NOT NULL DEFAULT 0,
  high              INTEGER NOT NULL DEFAULT 0,
  medium            INTEGER NOT NULL DEFAULT 0,
  low               INTEGER NOT NULL DEFAULT 0,
  unknown           INTEGER NOT NULL DEFAULT 0,
  summary_known     INTEGER NOT NULL DEFAULT 0,
  report_digest     TEXT,
  report_media_type TEXT    NOT NULL DEFAULT '',
  report_size       INTEGER NOT NULL DEFAULT 0,
  message           TEXT    NOT NULL DEFAULT '',
  source            TEXT    NOT NULL DEFAULT '',
  duration_ms       INTEGER NOT NULL DEFAULT 0,
  recorded_unix     INTEGER NOT NULL,
  PRIMARY KEY (manifest_digest, scanner)
);
CREATE INDEX scan_results_by_report ON scan_results (report_digest);
)sql"},
    // The time a cached layer was built: a fully cached rebuild repeats it in the history, so
    // it makes the same image. 0 for entries from before (the rebuild's time is used).
    {7, "build cache: when each layer was built", R"sql(
ALTER TABLE build_cache ADD COLUMN built_unix INTEGER NOT NULL DEFAULT 0;
)sql"},
};

constexpr int kLatest = static_cast<int>(sizeof(kMigrations) / sizeof(kMigrations[0]));

absl::Status CheckNotFromTheFuture(const SqliteDb& db, int64_t version) {
  if (version > kLatest) {
    return absl::FailedPreconditionError(absl::StrCat(
        "index ", db.path(), " has schema version ", version,
        " but this slipwayd knows only up to ", kLatest,
        "; it was written by a newer release (upgrade, or use that release's data dir)"));
  }
  if (version < 0) {
    return absl::DataLossError(
        absl::StrCat("index ", db.path(), " has a negative schema version ", version));
  }
  return absl::OkStatus();
}

}  // namespace

int LatestIndexSchemaVersion() { return kLatest; }

absl::Status CheckIndexSchemaReadable(const SqliteDb& db) {
  SLIPWAY_ASSIGN_OR_RETURN(int64_t version, db.QueryInt("PRAGMA user_version"));
  return CheckNotFromTheFuture(db, version);
}

absl::StatusOr<int> MigrateIndexSchema(SqliteDb& db, int64_t now_unix) {
  SLIPWAY_ASSIGN_OR_RETURN(int64_t version, db.QueryInt("PRAGMA user_version"));
  SLIPWAY_RETURN_IF_ERROR(CheckNotFromTheFuture(db, version));
  for (const Migration& m : kMigrations) {
    if (m.version <= version) continue;
    SLIPWAY_ASSIGN_OR_RETURN(auto tx, SqliteTransaction::Begin(db));
    // Re-read under the write lock: another process may have migrated since we looked.
    SLIPWAY_ASSIGN_OR_RETURN(version, db.QueryInt("PRAGMA user_version"));
    SLIPWAY_RETURN_IF_ERROR(CheckNotFromTheFuture(db, version));
    if (m.version <= version) continue;  // the transaction rolls back having done nothing
    if (version != m.version - 1) {
      return absl::InternalError(absl::StrCat("index ", db.path(), ": migration ", m.version,
                                              " found schema version ", version));
    }
    SLIPWAY_RETURN_IF_ERROR(db.Exec(m.sql));
    SLIPWAY_ASSIGN_OR_RETURN(
        auto insert,
        db.Prepare("INSERT INTO schema_migrations (version, name, applied_unix) VALUES (?, ?, ?)"));
    SLIPWAY_RETURN_IF_ERROR(
        insert.Bind(1, int64_t{m.version}).Bind(2, m.name).Bind(3, now_unix).Run());
    // user_version is transactional: it commits (or rolls back) with the migration's tables.
    SLIPWAY_RETURN_IF_ERROR(db.Exec(absl::StrCat("PRAGMA user_version = ", m.version)));
    SLIPWAY_RETURN_IF_ERROR(tx->Commit());
    version = m.version;
  }
  return static_cast<int>(version);
}

}  // namespace slipway
