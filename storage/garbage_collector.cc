#include "storage/garbage_collector.h"

#include <algorithm>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "storage/status_macros.h"

namespace slipway {
namespace {

// An unreferenced blob on disk and the last time anything wrote, published or used it.
struct Candidate {
  BlobStore::ListedBlob blob;
  int64_t last_activity = 0;
};

absl::StatusOr<absl::flat_hash_set<Digest>> MarkLive(const ImageIndex& index, int64_t now) {
  SLIPWAY_ASSIGN_OR_RETURN(std::vector<Digest> live, index.LiveBlobs(now));
  return absl::flat_hash_set<Digest>(live.begin(), live.end());
}

}  // namespace

GarbageCollector::GarbageCollector(BlobStore& blobs, ImageIndex& index,
                                   std::function<int64_t()> now_unix)
    : blobs_(blobs), index_(index), now_unix_(std::move(now_unix)) {}

absl::StatusOr<GcReport> GarbageCollector::Run(const GcOptions& options) {
  {
    absl::MutexLock lock(&running_mu_);
    if (running_) return absl::AbortedError("garbage collection is already running");
    running_ = true;
  }
  struct Done {
    GarbageCollector* gc;
    ~Done() {
      absl::MutexLock lock(&gc->running_mu_);
      gc->running_ = false;
    }
  } done{this};

  const int64_t now = now_unix_();
  GcReport report;

  // Mark.
  SLIPWAY_ASSIGN_OR_RETURN(absl::flat_hash_set<Digest> live, MarkLive(index_, now));

  // Everything on disk, split into live and unreferenced. A blob's age is measured from its
  // latest write/touch (mtime) or recorded use, whichever is later: a blob reused by a new
  // import (already present, so not rewritten) is young again through either.
  std::vector<BlobStore::ListedBlob> on_disk;
  SLIPWAY_RETURN_IF_ERROR(
      blobs_.List([&](const BlobStore::ListedBlob& b) { on_disk.push_back(b); }));
  std::vector<Candidate> unreferenced;
  for (const BlobStore::ListedBlob& b : on_disk) {
    if (live.contains(b.digest)) continue;
    Candidate c{b, b.mtime_unix};
    absl::StatusOr<int64_t> used = index_.LastUsed(b.digest);
    if (used.ok()) {
      c.last_activity = std::max(c.last_activity, *used);
    } else if (!absl::IsNotFound(used.status())) {
      return used.status();
    }
    unreferenced.push_back(c);
  }

  // Mark again just before sweeping: an image or lease recorded while we listed the disk
  // references blobs the first mark did not see. (Writers that publish blobs long before they
  // record them must hold a lease; fresh blobs are protected by the grace period.)
  SLIPWAY_ASSIGN_OR_RETURN(live, MarkLive(index_, now));
  unreferenced.erase(
      std::remove_if(unreferenced.begin(), unreferenced.end(),
                     [&](const Candidate& c) { return live.contains(c.blob.digest); }),
      unreferenced.end());
  int64_t remaining = 0;
  for (const BlobStore::ListedBlob& b : on_disk) {
    remaining += b.size;
    if (live.contains(b.digest)) report.blobs_live++;
  }

  auto remove = [&](const Candidate& c) -> absl::Status {
    remaining -= c.blob.size;
    if (options.dry_run) return absl::OkStatus();
    absl::Status deleted = blobs_.Delete(c.blob.digest);
    if (!deleted.ok()) {
      return absl::Status(deleted.code(), absl::StrCat("gc: deleting ", c.blob.digest.ToString(),
                                                       ": ", deleted.message()));
    }
    // Only after the bytes are gone: a failed Delete must leave the use time that protects it.
    return index_.ForgetBlob(c.blob.digest);
  };

  // Sweep: unreferenced and past the grace period.
  std::vector<Candidate> within_grace;
  for (const Candidate& c : unreferenced) {
    if (now - c.last_activity < options.grace_period_seconds) {
      within_grace.push_back(c);
      continue;
    }
    SLIPWAY_RETURN_IF_ERROR(remove(c));
    report.blobs_removed++;
    report.bytes_removed += c.blob.size;
  }

  // Quota: evict unreferenced blobs still within grace, least recently active first. Live
  // blobs are never candidates, so the store may stay over quota if live data alone exceeds it.
  if (options.quota_bytes > 0 && remaining > options.quota_bytes) {
    std::sort(within_grace.begin(), within_grace.end(), [](const Candidate& a, const Candidate& b) {
      if (a.last_activity != b.last_activity) return a.last_activity < b.last_activity;
      return a.blob.digest < b.blob.digest;  // deterministic among equals
    });
    for (const Candidate& c : within_grace) {
      if (remaining <= options.quota_bytes) break;
      SLIPWAY_RETURN_IF_ERROR(remove(c));
      report.blobs_evicted_for_quota++;
      report.bytes_evicted_for_quota += c.blob.size;
    }
  }
  report.bytes_in_use = remaining;
  return report;
}

}  // namespace slipway
