#ifndef SLIPWAY_STORAGE_SQLITE_INDEX_SCHEMA_H_
#define SLIPWAY_STORAGE_SQLITE_INDEX_SCHEMA_H_

// The image index's SQLite schema as an ordered list of migrations. The file's
// `PRAGMA user_version` is the number of the last migration applied; `schema_migrations` keeps
// one row per applied migration (version, name, when) for operators.

#include <cstdint>

#include "absl/status/statusor.h"
#include "storage/sqlite_db.h"

namespace slipway {

// The schema version this build writes and understands.
int LatestIndexSchemaVersion();

// FAILED_PRECONDITION (naming the file and both versions) when the file was written by a newer
// Slipway: we refuse rather than misread it.
absl::Status CheckIndexSchemaReadable(const SqliteDb& db);

// Applies every migration newer than the file's version, each once, each in its own IMMEDIATE
// transaction (so two processes opening one file cannot both apply it). Returns the version
// now in the file. FAILED_PRECONDITION as CheckIndexSchemaReadable.
absl::StatusOr<int> MigrateIndexSchema(SqliteDb& db, int64_t now_unix);

}  // namespace slipway

#endif  // SLIPWAY_STORAGE_SQLITE_INDEX_SCHEMA_H_
