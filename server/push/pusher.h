#ifndef SLIPWAY_SERVER_PUSH_PUSHER_H_
#define SLIPWAY_SERVER_PUSH_PUSHER_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "server/push/host_limiter.h"
#include "server/push/push_metrics.h"
#include "server/registry/auth.h"
#include "server/registry/http_client.h"
#include "server/registry/retry.h"
#include "storage/blob_store.h"
#include "storage/descriptor.h"
#include "storage/image_index.h"

namespace slipway::push {

// Where one image goes. Credentials live only in memory for the request; nothing here is
// ever logged except registry and repository.
struct PushTarget {
  std::string registry;    // host[:port], as image references name it ("docker.io", ...)
  std::string repository;  // "team/app"
  std::vector<std::string> tags;  // empty: push by digest only
  registry::Credentials credentials;
  registry::TlsConfig tls;
  bool plain_http = false;  // explicit opt-in for a non-loopback registry
};

enum class BlobState { kExists, kMounted, kUploading, kUploaded };

struct BlobEvent {
  int target_index = 0;
  Descriptor blob;
  BlobState state = BlobState::kExists;
  int64_t bytes_sent = 0;  // for kUploading (so far) and kUploaded (total, resends included)
};

struct PushOutcome {
  absl::Status status;
  std::optional<Digest> manifest_digest;  // set when the manifest is in place
  int64_t bytes_sent = 0;
  int blobs_skipped = 0;  // already present (or uploaded meanwhile by a concurrent push)
  int blobs_mounted = 0;
  int blobs_uploaded = 0;
  int manifests_skipped = 0;  // tags (and child manifests) already pointing at our bytes
  int retries = 0;
  absl::Duration duration;
};

// Per-request context shared by the targets of one call.
struct PushContext {
  absl::Time deadline = absl::InfiniteFuture();
  CancelCheck cancelled;  // may be empty
  // Progress; called from worker threads (concurrently), so it must be thread-safe.
  std::function<void(const BlobEvent&)> on_blob;
};

// What the push of one target needs, all owned elsewhere and outliving the push.
struct PushEnvironment {
  const BlobStore* blobs = nullptr;
  ImageIndex* index = nullptr;
  HostLimiter* limiter = nullptr;
  UploadSharing* sharing = nullptr;
  PushMetrics* metrics = nullptr;  // may be null
  registry::Clock* clock = nullptr;
  registry::RetryOptions retry;
  int64_t monolithic_max_bytes = 16 << 20;
  int64_t chunk_bytes = 64 << 20;
  absl::Duration stall_timeout = absl::Seconds(60);
  // Blob workers per target (each also holds a host slot while it talks to the registry).
  int blob_workers = 4;
};

// Pushes the stored image `image` to one target:
//  1. every blob below the manifest (config and layers; for an index, the children's blobs),
//     in parallel: HEAD → EXISTS; else a mount from another repository of the same registry
//     the index recorded → MOUNTED (a 202 continues as an upload in the session it opened);
//     else an upload streamed from the store → UPLOADED. Each success is recorded in the index.
//  2. only when every blob succeeded: child manifests by digest, then the manifest under each
//     tag (or its digest when there are no tags), each skipped when a HEAD says the registry
//     already has exactly our digest. Manifest bytes are sent as stored, never re-serialised.
// Never fails the process: errors land in PushOutcome::status (UNAUTHENTICATED,
// PERMISSION_DENIED, UNAVAILABLE, DEADLINE_EXCEEDED, CANCELLED, NOT_FOUND for a blob missing
// from the store, ...), the message naming registry, repository and digest, never a secret.
// Thread-safe: many pushes may run at once on one environment.
PushOutcome PushImage(const PushEnvironment& env, const ImageRecord& image,
                      const PushTarget& target, int target_index, const PushContext& ctx);

}  // namespace slipway::push

#endif  // SLIPWAY_SERVER_PUSH_PUSHER_H_
