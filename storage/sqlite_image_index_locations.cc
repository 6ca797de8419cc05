// Remote blob locations: where a blob is known to live, for cross-repository mounts.

#include "absl/strings/str_cat.h"
#include "storage/sqlite_image_index.h"
#include "storage/status_macros.h"

namespace slipway {

absl::Status SqliteImageIndex::RecordBlobLocation(absl::string_view registry,
                                                  absl::string_view repository,
                                                  const Digest& digest) {
  if (registry.empty() || repository.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "blob location of ", digest.ToString(), ": registry and repository must not be empty"));
  }
  const int64_t now = now_unix_();
  absl::MutexLock lock(&mu_);
  SLIPWAY_ASSIGN_OR_RETURN(auto q, db_->Prepare(
      "INSERT INTO blob_locations (registry, repository, digest, recorded_unix)"
      " VALUES (?, ?, ?, ?) ON CONFLICT (registry, digest, repository)"
      " DO UPDATE SET recorded_unix = max(recorded_unix, excluded.recorded_unix)"));
  return q.Bind(1, registry).Bind(2, repository).Bind(3, digest.ToString()).Bind(4, now).Run();
}

absl::StatusOr<std::vector<std::string>> SqliteImageIndex::FindBlobLocations(
    absl::string_view registry, const Digest& digest) const {
  absl::MutexLock lock(&mu_);
  SLIPWAY_ASSIGN_OR_RETURN(auto q, db_->Prepare(
      "SELECT repository FROM blob_locations WHERE registry = ? AND digest = ?"
      " ORDER BY recorded_unix DESC, repository"));
  q.Bind(1, registry).Bind(2, digest.ToString());
  std::vector<std::string> out;
  for (;;) {
    SLIPWAY_ASSIGN_OR_RETURN(bool row, q.Step());
    if (!row) break;
    out.emplace_back(q.ColumnText(0));
  }
  return out;
}

}  // namespace slipway
