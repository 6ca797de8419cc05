#ifndef SLIPWAY_SERVER_PULL_PULLER_H_
#define SLIPWAY_SERVER_PULL_PULLER_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "server/registry/reference.h"
#include "server/registry/registry_client.h"
#include "storage/blob_store.h"
#include "storage/digest.h"
#include "storage/image_index.h"
#include "storage/manifest.h"

namespace slipway::pull {

// What one Pull did, for callers that report progress and for tests ("a second pull fetches
// nothing").
struct PullStats {
  int manifests_fetched = 0;   // GETs of manifests/indexes that succeeded
  int blobs_fetched = 0;       // config and layer blobs downloaded and verified
  int blobs_present = 0;       // config and layer blobs the store already had
  int64_t bytes_fetched = 0;   // body bytes of the downloaded blobs
  // Set when the reference named an index / manifest list and a platform was chosen from it.
  std::optional<Digest> resolved_from_index;
};

struct PullOptions {
  // The platform chosen from an index. An empty variant matches any variant (the first entry
  // in index order wins). Ignored for a single-platform manifest (recorded as it is).
  PlatformSpec platform{"linux", "amd64", ""};
  // When set: a store tag (any form NormalizeTag accepts) pointed at the pulled image.
  std::optional<std::string> tag;
  // Blobs downloaded at once (at least 1).
  int parallelism = 4;
  // Checked before each blob download starts; true → CANCELLED, nothing recorded.
  std::function<bool()> cancelled;
  // Deadline of the whole pull (every registry request gets it) and retry stats.
  registry::CallOptions call;
  PullStats* stats = nullptr;  // filled when set (also on failure, as far as the pull got)
};

// Pulls images from one registry into the local store: resolves the reference (an index →
// the manifest of the requested platform), downloads the blobs the store lacks in parallel,
// verifies every digest and size, then publishes and records the image.
//
// All-or-nothing: downloaded blobs stay in unpublished temp files until every download has
// succeeded and the manifest and config have been validated; only then are they published
// (under a lease, so a concurrent GC cannot sweep them before PutImage) and the image recorded.
// A failed or cancelled pull publishes nothing and records nothing.
//
// Errors: NOT_FOUND (no such repository, tag or digest; no manifest for the requested
// platform — the message lists the available ones), UNAUTHENTICATED / PERMISSION_DENIED (from
// the registry), DATA_LOSS (a blob or manifest that does not match its digest or size),
// INVALID_ARGUMENT (malformed manifest, index or image config; a bad tag in options),
// RESOURCE_EXHAUSTED (a manifest or config over kMaxManifestBytes), CANCELLED,
// DEADLINE_EXCEEDED, UNAVAILABLE (the registry, after retries). Messages name the reference
// and the digest at fault.
//
// Thread-safe: concurrent Pulls may share one Puller (the client, store and index are
// thread-safe). The client, store and index must outlive the Puller.
class Puller {
 public:
  // `client` must talk to the registry the references passed to Pull name (ref.domain).
  Puller(registry::RegistryClient& client, BlobStore& store, ImageIndex& index)
      : client_(client), store_(store), index_(index) {}

  // Pulls `ref` (its digest when present, else its tag). Returns the recorded image: the
  // single-platform manifest stored exactly as the registry served it, its config, layers,
  // the platform read from the config and the total size.
  absl::StatusOr<ImageRecord> Pull(const registry::ImageReference& ref,
                                   const PullOptions& options = {});

 private:
  registry::RegistryClient& client_;
  BlobStore& store_;
  ImageIndex& index_;
};

// True when an index entry's platform satisfies `wanted` (os and architecture equal; the
// variant equal when `wanted` names one, with arm64's implicit "v8" and arm's "v7").
bool PlatformMatches(const PlatformSpec& entry, const PlatformSpec& wanted);
// "linux/arm64/v8", "linux/amd64".
std::string PlatformString(const PlatformSpec& platform);

}  // namespace slipway::pull

#endif  // SLIPWAY_SERVER_PULL_PULLER_H_
