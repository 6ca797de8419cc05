#ifndef SLIPWAY_SERVER_PUSH_FAN_OUT_H_
#define SLIPWAY_SERVER_PUSH_FAN_OUT_H_

#include <functional>
#include <memory>
#include <vector>

#include "server/push/host_limiter.h"
#include "server/push/push_metrics.h"
#include "server/push/pusher.h"
#include "server/registry/retry.h"
#include "storage/blob_store.h"
#include "storage/image_index.h"

namespace slipway::push {

struct PushEngineOptions {
  int uploads_per_host = 4;   // concurrent blob operations per registry host, process-wide
  int manifests_per_host = 1; // reserved for manifests so they never wait behind uploads
  registry::RetryOptions retry;
  int64_t monolithic_max_bytes = 16 << 20;
  int64_t chunk_bytes = 64 << 20;
  // A response silent (under 1 byte/s) this long is abandoned and retried; whole seconds,
  // at least 1 (libcurl's low-speed check).
  absl::Duration stall_timeout = absl::Seconds(60);
  int64_t lease_seconds = 6 * 3600;  // keeps the image's blobs from GC while a push runs
};

// The process-wide push engine: one per slipwayd, shared by every Push and PushMany call so
// that the per-host limits and upload sharing span requests. Thread-safe. Dependencies must
// outlive it; `metrics` may be null.
class PushEngine {
 public:
  PushEngine(const PushEngineOptions& options, const BlobStore& blobs, ImageIndex& index,
             registry::Clock& clock, PushMetrics* metrics);

  // One target (see PushImage).
  PushOutcome Push(const ImageRecord& image, const PushTarget& target, const PushContext& ctx);

  // Every target in parallel, each on its own worker thread; a failing target never cancels
  // the others. `on_done(i, outcome)` is called (from the target's thread, so it must be
  // thread-safe) as each target finishes; the outcomes are returned in target order.
  std::vector<PushOutcome> PushMany(const ImageRecord& image,
                                    const std::vector<PushTarget>& targets, const PushContext& ctx,
                                    const std::function<void(int, const PushOutcome&)>& on_done);

  HostLimiter& limiter() { return limiter_; }

 private:
  // Holds the image's blobs in a lease for the duration of a push (GC safety); returns the
  // lease id, empty when the index refused (the push goes on: the image record pins them too).
  std::string Lease(const ImageRecord& image);
  void Release(const std::string& lease);

  const PushEngineOptions options_;
  ImageIndex& index_;
  HostLimiter limiter_;
  UploadSharing sharing_;
  PushEnvironment env_;
};

}  // namespace slipway::push

#endif  // SLIPWAY_SERVER_PUSH_FAN_OUT_H_
