#ifndef SLIPWAY_STORAGE_SQLITE_DB_H_
#define SLIPWAY_STORAGE_SQLITE_DB_H_

// A thin RAII layer over the sqlite3 C API: owns the connection and prepared statements, turns
// result codes into absl::Status (naming the SQL and the database file). No policy lives here;
// schema and pragmas belong to the callers.

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

struct sqlite3;
struct sqlite3_stmt;

namespace slipway {

class SqliteDb;

// One prepared statement. Bind indexes are 1-based (SQLite's convention), column indexes 0-based.
// Not thread-safe; it belongs to the thread that holds its connection.
class SqliteStatement {
 public:
  SqliteStatement(SqliteStatement&& other) noexcept;
  SqliteStatement& operator=(SqliteStatement&& other) noexcept;
  SqliteStatement(const SqliteStatement&) = delete;
  SqliteStatement& operator=(const SqliteStatement&) = delete;
  ~SqliteStatement();

  // Binding errors are kept and returned by the next Step(), so call sites stay linear.
  SqliteStatement& Bind(int index, absl::string_view text);
  SqliteStatement& Bind(int index, int64_t value);
  SqliteStatement& BindNull(int index);

  // true: a row is available; false: done. Errors name the SQL.
  absl::StatusOr<bool> Step();
  // Step() for statements that return no rows.
  absl::Status Run();
  // Makes the statement reusable with new bindings.
  void Reset();

  std::string ColumnText(int index) const;
  int64_t ColumnInt64(int index) const;
  bool ColumnIsNull(int index) const;

 private:
  friend class SqliteDb;
  SqliteStatement(const SqliteDb* db, sqlite3_stmt* stmt, std::string sql);
  const SqliteDb* db_ = nullptr;
  sqlite3_stmt* stmt_ = nullptr;
  std::string sql_;
  absl::Status bind_status_;
};

// One connection. Not thread-safe: callers serialize access (SqliteImageIndex holds a mutex).
class SqliteDb {
 public:
  // Opens (creating if needed) the database file at `path`.
  static absl::StatusOr<std::unique_ptr<SqliteDb>> Open(const std::string& path);
  ~SqliteDb();
  SqliteDb(const SqliteDb&) = delete;
  SqliteDb& operator=(const SqliteDb&) = delete;

  // Runs one or more statements that return no rows we need.
  absl::Status Exec(absl::string_view sql);
  absl::StatusOr<SqliteStatement> Prepare(absl::string_view sql) const;
  // Runs a statement that yields one integer (e.g. "PRAGMA user_version").
  absl::StatusOr<int64_t> QueryInt(absl::string_view sql) const;
  // Runs a statement that yields one text value (e.g. "PRAGMA journal_mode=WAL").
  absl::StatusOr<std::string> QueryText(absl::string_view sql) const;

  // Rows inserted, updated or deleted by the most recent statement.
  int64_t Changes() const;
  const std::string& path() const { return path_; }
  sqlite3* raw() const { return db_; }
  // Status for SQLite result `rc` while running `what`; includes sqlite3_errmsg.
  absl::Status Error(int rc, absl::string_view what) const;

 private:
  SqliteDb(sqlite3* db, std::string path) : db_(db), path_(std::move(path)) {}
  sqlite3* db_;
  std::string path_;
};

// BEGIN IMMEDIATE ... COMMIT for writers: IMMEDIATE takes the write lock up front, so two
// connections never deadlock upgrading read locks (SQLite would answer SQLITE_BUSY at once
// instead of waiting out busy_timeout). Readers use a deferred BEGIN: one consistent snapshot
// across several SELECTs. Rolls back when destroyed without Commit().
class SqliteTransaction {
 public:
  enum class Kind { kRead, kWrite };
  static absl::StatusOr<std::unique_ptr<SqliteTransaction>> Begin(SqliteDb& db,
                                                                  Kind kind = Kind::kWrite);
  ~SqliteTransaction();
  absl::Status Commit();

 private:
  explicit SqliteTransaction(SqliteDb& db) : db_(db) {}
  SqliteDb& db_;
  bool done_ = false;
};

}  // namespace slipway

#endif  // SLIPWAY_STORAGE_SQLITE_DB_H_
