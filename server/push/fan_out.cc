#include "server/push/fan_out.h"

#include <thread>

namespace slipway::push {

PushEngine::PushEngine(const PushEngineOptions& options, const BlobStore& blobs,
                       ImageIndex& index, registry::Clock& clock, PushMetrics* metrics)
    : options_(options),
      index_(index),
      limiter_(options.uploads_per_host, options.manifests_per_host) {
  env_.blobs = &blobs;
  env_.index = &index;
  env_.limiter = &limiter_;
  env_.sharing = &sharing_;
  env_.metrics = metrics;
  env_.clock = &clock;
  env_.retry = options.retry;
  env_.monolithic_max_bytes = options.monolithic_max_bytes;
  env_.chunk_bytes = options.chunk_bytes;
  env_.stall_timeout = options.stall_timeout;
  env_.blob_workers = options.uploads_per_host;
}

std::string PushEngine::Lease(const ImageRecord& image) {
  auto blobs = index_.ImageBlobs(image.manifest.digest);
  if (!blobs.ok()) return "";
  auto lease = index_.CreateLease(options_.lease_seconds);
  if (!lease.ok()) return "";
  std::vector<Digest> digests;
  for (const Descriptor& d : *blobs) digests.push_back(d.digest);
  if (!index_.AddToLease(lease->id, digests).ok()) {
    (void)index_.ReleaseLease(lease->id);
    return "";
  }
  return lease->id;
}

void PushEngine::Release(const std::string& lease) {
  if (!lease.empty()) (void)index_.ReleaseLease(lease);
}

PushOutcome PushEngine::Push(const ImageRecord& image, const PushTarget& target,
                             const PushContext& ctx) {
  const std::string lease = Lease(image);
  PushOutcome outcome = PushImage(env_, image, target, 0, ctx);
  Release(lease);
  return outcome;
}

std::vector<PushOutcome> PushEngine::PushMany(
    const ImageRecord& image, const std::vector<PushTarget>& targets, const PushContext& ctx,
    const std::function<void(int, const PushOutcome&)>& on_done) {
  const std::string lease = Lease(image);
  std::vector<PushOutcome> outcomes(targets.size());
  std::vector<std::thread> threads;
  threads.reserve(targets.size());
  for (size_t i = 0; i < targets.size(); ++i) {
    threads.emplace_back([&, i] {
      outcomes[i] = PushImage(env_, image, targets[i], static_cast<int>(i), ctx);
      if (on_done) on_done(static_cast<int>(i), outcomes[i]);
    });
  }
  for (auto& t : threads) t.join();
  Release(lease);
  return outcomes;
}

}  // namespace slipway::push
