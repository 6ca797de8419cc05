#ifndef SLIPWAY_STORAGE_GARBAGE_COLLECTOR_H_
#define SLIPWAY_STORAGE_GARBAGE_COLLECTOR_H_

#include <cstdint>
#include <functional>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "storage/blob_store.h"
#include "storage/image_index.h"

namespace slipway {

struct GcOptions {
  int64_t grace_period_seconds = 3600;  // unreferenced blobs younger than this are kept
  int64_t quota_bytes = 0;              // 0 = no quota
  bool dry_run = false;
};

struct GcReport {
  int blobs_removed = 0;               // unreferenced and past the grace period
  int64_t bytes_removed = 0;
  int blobs_evicted_for_quota = 0;     // unreferenced, within grace, evicted LRU-first for quota
  int64_t bytes_evicted_for_quota = 0;
  int64_t bytes_in_use = 0;            // what remains on disk (dry_run: what would remain)
  int blobs_live = 0;                  // live blobs present on disk
};

// Mark (tags, images, unexpired leases) and sweep. One run at a time: a second concurrent Run
// gets ABORTED. Referenced blobs are never removed, whatever the quota. A blob's age runs from
// the later of its mtime and its ImageIndex::LastUsed time. Removed blobs are also forgotten by
// the index (ForgetBlob). An error (e.g. a failed Delete, naming the digest) stops the run;
// what was removed before it stays removed, and the next run picks up the rest.
class GarbageCollector {
 public:
  // `now_unix` supplies the time (injectable for tests).
  GarbageCollector(BlobStore& blobs, ImageIndex& index, std::function<int64_t()> now_unix);
  absl::StatusOr<GcReport> Run(const GcOptions& options);

 private:
  BlobStore& blobs_;
  ImageIndex& index_;
  std::function<int64_t()> now_unix_;
  absl::Mutex running_mu_;
  bool running_ ABSL_GUARDED_BY(running_mu_) = false;
};

}  // namespace slipway

#endif  // SLIPWAY_STORAGE_GARBAGE_COLLECTOR_H_
