#ifndef SLIPWAY_SERVER_REGISTRY_REGISTRY_CLIENT_H_
#define SLIPWAY_SERVER_REGISTRY_REGISTRY_CLIENT_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "server/registry/auth.h"
#include "server/registry/http_client.h"
#include "server/registry/retry.h"
#include "storage/blob_store.h"
#include "storage/descriptor.h"
#include "storage/digest.h"

namespace spdlog {
class logger;
}

namespace slipway::registry {

struct RegistryClientOptions {
  // The registry as references name it: "docker.io" (→ registry-1.docker.io), "host:port".
  std::string registry;
  Credentials credentials;
  TlsConfig tls;
  // Explicit opt-in to plain http for a non-loopback registry. A loopback registry without TLS
  // settings is tried over https first and falls back to http, as Docker does.
  bool plain_http = false;
  bool enable_http2 = true;
  RetryOptions retry;
  // Blobs up to this size go in one PUT; larger ones in PATCH chunks of `chunk_bytes` (raised
  // to the registry's OCI-Chunk-Min-Length). `single_request_uploads` forces one PUT for every
  // size, for registries that mishandle chunks.
  int64_t monolithic_max_bytes = 16 << 20;
  int64_t chunk_bytes = 64 << 20;
  bool single_request_uploads = false;
  // Upload resumptions (after a reset or a 416) per blob.
  int max_resumes = 5;
  // Default deadline of one operation (Ping, PutBlob, ...) when CallOptions has none.
  absl::Duration operation_timeout = absl::Hours(1);
  // Per-request limits passed to HttpClient.
  absl::Duration connect_timeout = absl::Seconds(30);
  absl::Duration stall_timeout = absl::Seconds(60);
  std::shared_ptr<spdlog::logger> logger;  // default: spdlog's default logger
  // Observes every HTTP exchange (each attempt, token requests excluded): the method and the
  // status, 0 for a transport failure. For metrics; called on the requesting thread, so it
  // must be thread-safe and quick. Never given a URL or header.
  std::function<void(absl::string_view method, int status)> on_response;
};

// Per-call settings.
struct CallOptions {
  std::optional<absl::Time> deadline;  // default: now + operation_timeout
  RetryStats* stats = nullptr;         // retries of this call are added here
};

// Opens a blob positioned at `offset`; called for every chunk, retry and resumption of an
// upload (so a chunk at 448 MiB does not re-read the 448 MiB before it).
using BlobOpener =
    std::function<absl::StatusOr<std::unique_ptr<BlobReader>>(int64_t offset)>;
// Offset 0: the store's own reader. Beyond: the blob's file (BlobStore::PathOf) read from the
// offset. The store must outlive the opener.
BlobOpener OpenFromStore(const BlobStore& store, const Digest& digest);

struct MountResult {
  bool mounted = false;
  // When not mounted (202): the upload session the registry opened, for PutBlob.
  std::string upload_location;
};

struct PutBlobResult {
  int64_t bytes_sent = 0;  // body bytes sent, resends included
  bool chunked = false;
  int resumes = 0;
};

struct PutBlobOptions {
  // An upload session already open (MountResult::upload_location); else PutBlob opens one.
  std::string upload_location;
};

struct FetchedManifest {
  std::string media_type;
  std::string bytes;
  Digest digest;  // computed here from the bytes
};

struct ManifestHead {
  // What the registry claims (Docker-Content-Digest), parsed strictly. A hint only: useful to
  // skip re-pushing an identical manifest, never as proof of content.
  std::optional<Digest> claimed_digest;
  int64_t size = -1;
  std::string media_type;
};

// The OCI distribution API of one registry (https://github.com/opencontainers/distribution-spec).
// Thread-safe: operations may run concurrently on any threads; they share the connection pool,
// the token cache and the retry policy. Every request is retried per RetryPolicy within the
// call's deadline; auth (Basic, Bearer with scopes pull or pull,push) is handled inside.
// Errors map HTTP answers: 401 → UNAUTHENTICATED, 403 → PERMISSION_DENIED, 404 → NOT_FOUND,
// 429/5xx after retries → UNAVAILABLE, 413 → RESOURCE_EXHAUSTED, other 4xx →
// FAILED_PRECONDITION; messages name the registry, repository and digest, never a secret.
class RegistryClient {
 public:
  static absl::StatusOr<std::unique_ptr<RegistryClient>> Create(
      const RegistryClientOptions& options, Clock& clock);
  ~RegistryClient();

  // GET /v2/ with authentication: OK when the registry speaks v2 and accepts our credentials.
  absl::Status Ping(const CallOptions& call = {});

  // HEAD of a blob: its size when present; nullopt when absent (404, and 403 as registries
  // answer for blobs of repositories one cannot read). `for_push` asks for a pull,push token
  // so that the upload that usually follows reuses it.
  absl::StatusOr<std::optional<int64_t>> HasBlob(absl::string_view repository,
                                                 const Digest& digest, bool for_push = false,
                                                 const CallOptions& call = {});

  // Cross-repository mount (POST ?mount=&from=): 201 → mounted; 202 → not mounted, with the
  // upload session the registry opened instead.
  absl::StatusOr<MountResult> MountBlob(absl::string_view repository, const Digest& digest,
                                        absl::string_view from_repository,
                                        const CallOptions& call = {});

  // Uploads a blob read through `open` (streamed, never whole in memory): one PUT up to
  // monolithic_max_bytes, else PATCH chunks with Content-Range and a final PUT ?digest=.
  // A chunked upload resumes after a connection failure or a 416 from the offset the registry
  // reports (GET on the upload location, Range header). DATA_LOSS when the source does not
  // have `blob.size` bytes; FAILED_PRECONDITION when the registry rejects the digest.
  absl::StatusOr<PutBlobResult> PutBlob(absl::string_view repository, const Descriptor& blob,
                                        const BlobOpener& open,
                                        const PutBlobOptions& options = {},
                                        const CallOptions& call = {});

  // GET of a blob into `writer` (redirects followed, Authorization dropped off-host), hashed
  // on the way; a broken transfer continues with a Range request. DATA_LOSS when the bytes do
  // not hash to `digest` or exceed `expected_size` (when >= 0). The writer is not finished.
  absl::StatusOr<int64_t> GetBlob(absl::string_view repository, const Digest& digest,
                                  int64_t expected_size, BlobWriter& writer,
                                  const CallOptions& call = {});

  // GET of a manifest or index by tag or digest, Accept: every OCI/Docker manifest type.
  // RESOURCE_EXHAUSTED over 4 MiB; DATA_LOSS when fetched by digest and the bytes differ
  // (Docker-Content-Digest is never trusted).
  absl::StatusOr<FetchedManifest> GetManifest(absl::string_view repository,
                                              absl::string_view reference,
                                              const CallOptions& call = {});
  // HEAD of a manifest; nullopt when absent.
  absl::StatusOr<std::optional<ManifestHead>> HeadManifest(absl::string_view repository,
                                                           absl::string_view reference,
                                                           const CallOptions& call = {});
  // PUT of a manifest under a tag or its digest; returns our own digest of `bytes`.
  // INVALID_ARGUMENT when `reference` is a digest that is not the digest of `bytes`.
  absl::StatusOr<Digest> PutManifest(absl::string_view repository, absl::string_view reference,
                                     absl::string_view media_type, absl::string_view bytes,
                                     const CallOptions& call = {});

  // GET /v2/<repository>/referrers/<digest> (OCI distribution 1.1): the referrers index when
  // the registry implements the API; nullopt when it answers 404 (no referrers API — clients
  // then use the "sha256-<hex>" tag schema). RESOURCE_EXHAUSTED over 4 MiB.
  absl::StatusOr<std::optional<std::string>> GetReferrers(absl::string_view repository,
                                                          const Digest& digest,
                                                          const CallOptions& call = {});

  // The latest Docker Hub rate-limit headers seen on any response.
  std::optional<RateLimit> last_rate_limit() const;
  // "https://host:port" or "http://host:port" currently used.
  std::string base_url() const;
  Authenticator& authenticator() { return *auth_; }

 private:
  struct Call;
  RegistryClient(const RegistryClientOptions& options, Clock& clock);

  // One request with auth (one re-auth on 401), retried per the policy when call.retry.
  absl::StatusOr<HttpResponse> Execute(const Call& call, const CallOptions& options);
  absl::StatusOr<HttpResponse> ExecuteOnce(const Call& call, absl::Time deadline);
  absl::Time DeadlineOf(const CallOptions& call) const;
  std::string Url(absl::string_view path) const;
  absl::Status HttpError(const HttpResponse& response, absl::string_view what) const;

  // Upload parts (blob_upload.cc).
  struct UploadSession {
    std::string location;   // absolute URL
    int64_t min_chunk = 0;  // OCI-Chunk-Min-Length
  };
  absl::StatusOr<UploadSession> StartUpload(absl::string_view repository,
                                            const CallOptions& call);
  absl::StatusOr<HttpResponse> MonolithicOnce(absl::string_view repository,
                                              const Descriptor& blob, const BlobOpener& open,
                                              const std::string& location,
                                              absl::Time deadline, PutBlobResult* result);
  absl::StatusOr<PutBlobResult> PutChunked(absl::string_view repository, const Descriptor& blob,
                                           const BlobOpener& open, UploadSession session,
                                           const CallOptions& call);

  const RegistryClientOptions options_;
  const std::string api_host_;
  Clock& clock_;
  std::shared_ptr<spdlog::logger> log_;
  std::unique_ptr<HttpClient> http_;
  std::unique_ptr<Authenticator> auth_;
  std::unique_ptr<RetryPolicy> retry_;
  mutable absl::Mutex mu_;
  std::string base_url_ ABSL_GUARDED_BY(mu_);
  bool may_fall_back_to_http_ ABSL_GUARDED_BY(mu_) = false;
  std::optional<RateLimit> rate_limit_ ABSL_GUARDED_BY(mu_);
};

}  // namespace slipway::registry

#endif  // SLIPWAY_SERVER_REGISTRY_REGISTRY_CLIENT_H_
