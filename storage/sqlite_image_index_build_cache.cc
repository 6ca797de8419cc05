// The build cache: instruction cache keys → the layer they produced.

#include "absl/strings/str_cat.h"
#include "storage/sqlite_image_index.h"
#include "storage/status_macros.h"

namespace slipway {

absl::Status SqliteImageIndex::PutBuildCache(const BuildCacheEntry& entry) {
  if (entry.key.empty() || entry.layer.media_type.empty() || entry.layer.size < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("build cache entry for ", entry.layer.digest.ToString(),
                     ": key, media type and size are required"));
  }
  const int64_t now = now_unix_();
  absl::MutexLock lock(&mu_);
  SLIPWAY_ASSIGN_OR_RETURN(auto q, db_->Prepare(
      "INSERT OR REPLACE INTO build_cache (cache_key, media_type, digest, size, diff_id,"
      " uncompressed_size, recorded_unix, built_unix) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"));
  return q.Bind(1, entry.key)
      .Bind(2, entry.layer.media_type)
      .Bind(3, entry.layer.digest.ToString())
      .Bind(4, entry.layer.size)
      .Bind(5, entry.diff_id.ToString())
      .Bind(6, entry.uncompressed_size)
      .Bind(7, now)
      .Bind(8, entry.built_unix)
      .Run();
}

absl::StatusOr<BuildCacheEntry> SqliteImageIndex::FindBuildCache(absl::string_view key) const {
  absl::MutexLock lock(&mu_);
  SLIPWAY_ASSIGN_OR_RETURN(auto q, db_->Prepare(
      "SELECT media_type, digest, size, diff_id, uncompressed_size, built_unix FROM build_cache"
      " WHERE cache_key = ?"));
  q.Bind(1, key);
  SLIPWAY_ASSIGN_OR_RETURN(bool row, q.Step());
  if (!row) return absl::NotFoundError(absl::StrCat("build cache key ", key));
  BuildCacheEntry entry;
  entry.key = std::string(key);
  entry.layer.media_type = q.ColumnText(0);
  SLIPWAY_ASSIGN_OR_RETURN(entry.layer.digest, Digest::Parse(q.ColumnText(1)));
  entry.layer.size = q.ColumnInt64(2);
  SLIPWAY_ASSIGN_OR_RETURN(entry.diff_id, Digest::Parse(q.ColumnText(3)));
  entry.uncompressed_size = q.ColumnInt64(4);
  entry.built_unix = q.ColumnInt64(5);
  return entry;
}

}  // namespace slipway
