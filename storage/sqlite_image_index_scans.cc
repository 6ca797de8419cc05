// Scan results: one row per (manifest, scanner), the latest result winning.

#include "absl/strings/str_cat.h"
#include "storage/sqlite_image_index.h"
#include "storage/status_macros.h"

namespace slipway {

absl::Status SqliteImageIndex::RecordScanResult(const ScanResultRecord& r) {
  if (r.scanner.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("scan result for ", r.manifest.ToString(), ": scanner must not be empty"));
  }
  const int64_t now = now_unix_();
  absl::MutexLock lock(&mu_);
  SLIPWAY_ASSIGN_OR_RETURN(auto tx, SqliteTransaction::Begin(*db_));
  SLIPWAY_ASSIGN_OR_RETURN(bool exists, ImageExistsLocked(r.manifest.ToString()));
  if (!exists) {
    return absl::NotFoundError(absl::StrCat("scan result: no image ", r.manifest.ToString(),
                                            " in the store"));
  }
  SLIPWAY_ASSIGN_OR_RETURN(auto q, db_->Prepare(
      "INSERT INTO scan_results (manifest_digest, scanner, scanner_version, passed, exit_code,"
      " critical, high, medium, low, unknown, summary_known, report_digest, report_media_type,"
      " report_size, message, source, duration_ms, recorded_unix)"
      " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
      " ON CONFLICT (manifest_digest, scanner) DO UPDATE SET"
      " scanner_version = excluded.scanner_version, passed = excluded.passed,"
      " exit_code = excluded.exit_code, critical = excluded.critical, high = excluded.high,"
      " medium = excluded.medium, low = excluded.low, unknown = excluded.unknown,"
      " summary_known = excluded.summary_known, report_digest = excluded.report_digest,"
      " report_media_type = excluded.report_media_type, report_size = excluded.report_size,"
      " message = excluded.message, source = excluded.source,"
      " duration_ms = excluded.duration_ms, recorded_unix = excluded.recorded_unix"));
  q.Bind(1, r.manifest.ToString())
      .Bind(2, r.scanner)
      .Bind(3, r.scanner_version)
      .Bind(4, int64_t{r.passed ? 1 : 0})
      .Bind(5, int64_t{r.exit_code})
      .Bind(6, r.critical)
      .Bind(7, r.high)
      .Bind(8, r.medium)
      .Bind(9, r.low)
      .Bind(10, r.unknown)
      .Bind(11, int64_t{r.summary_known ? 1 : 0});
  if (r.report) {
    q.Bind(12, r.report->digest.ToString()).Bind(13, r.report->media_type).Bind(14, r.report->size);
  } else {
    q.BindNull(12).Bind(13, "").Bind(14, int64_t{0});
  }
  q.Bind(15, r.message).Bind(16, r.source).Bind(17, r.duration_ms).Bind(18, now);
  SLIPWAY_RETURN_IF_ERROR(q.Run());
  return tx->Commit();
}

absl::StatusOr<std::vector<ScanResultRecord>> SqliteImageIndex::ScanResults(
    const Digest& manifest) const {
  absl::MutexLock lock(&mu_);
  SLIPWAY_ASSIGN_OR_RETURN(auto q, db_->Prepare(
      "SELECT scanner, scanner_version, passed, exit_code, critical, high, medium, low, unknown,"
      " summary_known, report_digest, report_media_type, report_size, message, source,"
      " duration_ms, recorded_unix FROM scan_results WHERE manifest_digest = ?"
      " ORDER BY scanner"));
  q.Bind(1, manifest.ToString());
  std::vector<ScanResultRecord> out;
  for (;;) {
    SLIPWAY_ASSIGN_OR_RETURN(bool row, q.Step());
    if (!row) break;
    ScanResultRecord r;
    r.manifest = manifest;
    r.scanner = q.ColumnText(0);
    r.scanner_version = q.ColumnText(1);
    r.passed = q.ColumnInt64(2) != 0;
    r.exit_code = static_cast<int>(q.ColumnInt64(3));
    r.critical = q.ColumnInt64(4);
    r.high = q.ColumnInt64(5);
    r.medium = q.ColumnInt64(6);
    r.low = q.ColumnInt64(7);
    r.unknown = q.ColumnInt64(8);
    r.summary_known = q.ColumnInt64(9) != 0;
    if (!q.ColumnIsNull(10)) {
      SLIPWAY_ASSIGN_OR_RETURN(Digest d, StoredDigest(q.ColumnText(10), "scan_results.report"));
      r.report = Descriptor{q.ColumnText(11), d, q.ColumnInt64(12), {}};
    }
    r.message = q.ColumnText(13);
    r.source = q.ColumnText(14);
    r.duration_ms = q.ColumnInt64(15);
    r.recorded_unix = q.ColumnInt64(16);
    out.push_back(std::move(r));
  }
  return out;
}

}  // namespace slipway
