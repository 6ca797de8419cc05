#include "server/push/pusher.h"

#include <algorithm>
#include <atomic>
#include <memory>
#include <thread>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "server/registry/registry_client.h"
#include "storage/media_types.h"
#include "storage/status_macros.h"

namespace slipway::push {
namespace {

using registry::CallOptions;
using registry::RegistryClient;
using registry::RetryStats;

constexpr int64_t kProgressEveryBytes = 8 << 20;

// Wraps the store's reader for an upload: reports bytes as they are read and stops the upload
// when the request is cancelled (the HTTP client passes a body reader's error through, and
// the retry policy never retries CANCELLED).
class ProgressReader : public BlobReader {
 public:
  // `offset`: where the inner reader starts in the blob (an upload resumed mid-way).
  ProgressReader(std::unique_ptr<BlobReader> inner, int64_t offset,
                 std::function<void(int64_t)> on_bytes, CancelCheck cancelled)
      : inner_(std::move(inner)),
        on_bytes_(std::move(on_bytes)),
        cancelled_(std::move(cancelled)),
        read_(offset),
        reported_(offset) {}
  int64_t size() const override { return inner_->size(); }
  absl::StatusOr<size_t> Read(char* buf, size_t n) override {
    if (cancelled_ && cancelled_()) return absl::CancelledError("push cancelled during an upload");
    auto got = inner_->Read(buf, n);
    if (got.ok() && *got > 0) {
      read_ += static_cast<int64_t>(*got);
      if (read_ - reported_ >= kProgressEveryBytes) {
        reported_ = read_;
        if (on_bytes_) on_bytes_(read_);
      }
    }
    return got;
  }

 private:
  std::unique_ptr<BlobReader> inner_;
  std::function<void(int64_t)> on_bytes_;
  CancelCheck cancelled_;
  int64_t read_;
  int64_t reported_;
};

bool IsManifestLike(absl::string_view media_type) {
  return media::IsManifestType(media_type) || media::IsIndexType(media_type);
}

class TargetPush {
 public:
  TargetPush(const PushEnvironment& env, const ImageRecord& image, const PushTarget& target,
             int target_index, const PushContext& ctx)
      : env_(env), image_(image), target_(target), index_(target_index), ctx_(ctx) {}

  PushOutcome Run() {
    const absl::Time start = env_.clock->Now();
    absl::Status s = RunSteps();
    ExportRateLimit();
    absl::MutexLock lock(&mu_);
    outcome_.status = s;
    outcome_.duration = env_.clock->Now() - start;
    return outcome_;
  }

 private:
  absl::Status RunSteps() {
    SLIPWAY_RETURN_IF_ERROR(CheckCancelled());
    SLIPWAY_RETURN_IF_ERROR(CollectBlobs());
    SLIPWAY_RETURN_IF_ERROR(CreateClient());
    {
      RetryStats stats;
      absl::Status ping = client_->Ping(Call(&stats));
      AddRetries(stats);
      SLIPWAY_RETURN_IF_ERROR(ping);
    }
    SLIPWAY_RETURN_IF_ERROR(PushBlobs());
    return PushManifests();
  }

  // Docker Hub's quota as the registry last reported it, success or not (a 429 carries it too).
  void ExportRateLimit() {
    if (env_.metrics == nullptr || client_ == nullptr) return;
    std::optional<registry::RateLimit> rl = client_->last_rate_limit();
    if (!rl.has_value()) return;
    env_.metrics->RateLimit(target_.registry, rl->remaining.value_or(-1), rl->limit.value_or(-1));
  }

  absl::Status CheckCancelled() const {
    if (ctx_.cancelled && ctx_.cancelled()) {
      return absl::CancelledError(
          absl::StrCat("push to ", target_.registry, "/", target_.repository, " cancelled"));
    }
    if (env_.clock->Now() >= ctx_.deadline) {
      return absl::DeadlineExceededError(absl::StrCat(
          "push to ", target_.registry, "/", target_.repository, ": deadline passed"));
    }
    return absl::OkStatus();
  }

  // Every blob the image recorded, split into plain blobs and child manifests (an index's).
  absl::Status CollectBlobs() {
    SLIPWAY_ASSIGN_OR_RETURN(std::vector<Descriptor> all,
                             env_.index->ImageBlobs(image_.manifest.digest));
    for (Descriptor& d : all) {
      if (d.digest == image_.manifest.digest) continue;
      if (IsManifestLike(d.media_type)) {
        children_.push_back(std::move(d));
      } else {
        blobs_.push_back(std::move(d));
      }
    }
    // Children that are manifests before children that are indexes (an index refers to them).
    std::stable_sort(children_.begin(), children_.end(), [](const Descriptor& a,
                                                            const Descriptor& b) {
      return !media::IsIndexType(a.media_type) && media::IsIndexType(b.media_type);
    });
    // Largest first: the long uploads start early and the small ones fill in around them.
    std::stable_sort(blobs_.begin(), blobs_.end(),
                     [](const Descriptor& a, const Descriptor& b) { return a.size > b.size; });
    return absl::OkStatus();
  }

  absl::Status CreateClient() {
    registry::RegistryClientOptions o;
    o.registry = target_.registry;
    o.credentials = target_.credentials;
    o.tls = target_.tls;
    o.plain_http = target_.plain_http;
    o.retry = env_.retry;
    o.monolithic_max_bytes = env_.monolithic_max_bytes;
    o.chunk_bytes = env_.chunk_bytes;
    o.stall_timeout = env_.stall_timeout;
    if (env_.metrics != nullptr) {
      o.on_response = [m = env_.metrics, reg = target_.registry](absl::string_view method,
                                                                int status) {
        m->RegistryRequest(reg, method, status);
      };
    }
    SLIPWAY_ASSIGN_OR_RETURN(client_, RegistryClient::Create(o, *env_.clock));
    return absl::OkStatus();
  }

  CallOptions Call(RetryStats* stats) const {
    CallOptions call;
    if (ctx_.deadline != absl::InfiniteFuture()) call.deadline = ctx_.deadline;
    call.stats = stats;
    return call;
  }

  void AddRetries(const RetryStats& stats) {
    if (stats.reasons.empty()) return;
    if (env_.metrics != nullptr) {
      for (const std::string& reason : stats.reasons) {
        env_.metrics->Retries(target_.registry, reason).Increment();
      }
    }
    absl::MutexLock lock(&mu_);
    outcome_.retries += static_cast<int>(stats.reasons.size());
  }

  void Emit(const Descriptor& blob, BlobState state, int64_t bytes) {
    if (!ctx_.on_blob) return;
    ctx_.on_blob(BlobEvent{index_, blob, state, bytes});
  }

  void Count(BlobState state, int64_t bytes) {
    if (env_.metrics != nullptr) {
      if (state == BlobState::kExists) env_.metrics->BlobsSkipped(target_.registry, "exists").Increment();
      if (state == BlobState::kMounted) env_.metrics->BlobsSkipped(target_.registry, "mounted").Increment();
      if (bytes > 0) env_.metrics->Bytes(target_.registry).Increment(static_cast<double>(bytes));
    }
    absl::MutexLock lock(&mu_);
    outcome_.bytes_sent += bytes;
    if (state == BlobState::kExists) ++outcome_.blobs_skipped;
    if (state == BlobState::kMounted) ++outcome_.blobs_mounted;
    if (state == BlobState::kUploaded) ++outcome_.blobs_uploaded;
  }

  absl::Status PushBlobs() {
    if (blobs_.empty()) return absl::OkStatus();
    std::atomic<size_t> next{0};
    std::atomic<bool> failed{false};
    absl::Mutex err_mu;
    absl::Status first_error;
    auto worker = [&] {
      for (;;) {
        if (failed.load()) return;
        const size_t i = next.fetch_add(1);
        if (i >= blobs_.size()) return;
        absl::Status s = CheckCancelled();
        if (s.ok()) s = PushBlob(blobs_[i]);
        if (!s.ok()) {
          absl::MutexLock lock(&err_mu);
          if (first_error.ok()) first_error = s;
          failed.store(true);
          return;
        }
      }
    };
    const int n = std::max(1, std::min<int>(env_.blob_workers, static_cast<int>(blobs_.size())));
    std::vector<std::thread> threads;
    threads.reserve(n - 1);
    for (int i = 1; i < n; ++i) threads.emplace_back(worker);
    worker();
    for (auto& t : threads) t.join();
    absl::MutexLock lock(&err_mu);
    return first_error;
  }

  // Shares the work with a concurrent push of the same blob to the same repository.
  absl::Status PushBlob(const Descriptor& blob) {
    const std::string key =
        absl::StrCat(target_.registry, "\n", target_.repository, "\n", blob.digest.ToString());
    for (int attempt = 0; attempt < 2; ++attempt) {
      bool owner = false;
      auto entry = env_.sharing->Join(key, &owner);
      if (owner) {
        absl::Status s = DoPushBlob(blob);
        env_.sharing->Finish(key, entry, s);
        return s;
      }
      while (!entry->done.WaitForNotificationWithTimeout(absl::Milliseconds(100))) {
        SLIPWAY_RETURN_IF_ERROR(CheckCancelled());
      }
      if (entry->status.ok()) {
        Emit(blob, BlobState::kExists, 0);
        Count(BlobState::kExists, 0);
        return absl::OkStatus();
      }
      // The other push failed (perhaps for its own credentials): try ourselves.
    }
    return DoPushBlob(blob);
  }

  absl::Status DoPushBlob(const Descriptor& blob) {
    HostLimiter::Slot slot;
    SLIPWAY_RETURN_IF_ERROR(
        env_.limiter->Acquire(target_.registry, HostLimiter::Kind::kBlob, ctx_.cancelled, &slot));
    const std::string what = absl::StrCat("blob ", blob.digest.ToString());
    {
      RetryStats stats;
      auto has = client_->HasBlob(target_.repository, blob.digest, /*for_push=*/true, Call(&stats));
      AddRetries(stats);
      if (!has.ok()) return Annotate(has.status(), what);
      if (has->has_value()) {
        RecordLocation(blob);
        Emit(blob, BlobState::kExists, 0);
        Count(BlobState::kExists, 0);
        return absl::OkStatus();
      }
    }
    registry::PutBlobOptions put_options;
    if (std::optional<std::string> from = MountSource(blob)) {
      RetryStats stats;
      auto mount = client_->MountBlob(target_.repository, blob.digest, *from, Call(&stats));
      AddRetries(stats);
      if (mount.ok() && mount->mounted) {
        RecordLocation(blob);
        Emit(blob, BlobState::kMounted, 0);
        Count(BlobState::kMounted, 0);
        return absl::OkStatus();
      }
      // A refused mount (the source repository gone, no pull right there) is not an error:
      // the upload below does the job. A 202 left an upload session open for it.
      if (mount.ok()) put_options.upload_location = mount->upload_location;
    }
    Emit(blob, BlobState::kUploading, 0);
    registry::BlobOpener from_store = registry::OpenFromStore(*env_.blobs, blob.digest);
    registry::BlobOpener open =
        [&, from_store](int64_t offset) -> absl::StatusOr<std::unique_ptr<BlobReader>> {
      SLIPWAY_ASSIGN_OR_RETURN(std::unique_ptr<BlobReader> reader, from_store(offset));
      return std::unique_ptr<BlobReader>(std::make_unique<ProgressReader>(
          std::move(reader), offset,
          [this, &blob](int64_t n) { Emit(blob, BlobState::kUploading, n); },
          ctx_.cancelled));
    };
    RetryStats stats;
    auto put = client_->PutBlob(target_.repository, blob, open, put_options, Call(&stats));
    AddRetries(stats);
    if (!put.ok()) return Annotate(put.status(), what);
    RecordLocation(blob);
    Emit(blob, BlobState::kUploaded, put->bytes_sent);
    Count(BlobState::kUploaded, put->bytes_sent);
    return absl::OkStatus();
  }

  // Another repository of this registry known to hold the blob.
  std::optional<std::string> MountSource(const Descriptor& blob) const {
    auto where = env_.index->FindBlobLocations(target_.registry, blob.digest);
    if (!where.ok()) return std::nullopt;
    for (const std::string& repo : *where) {
      if (repo != target_.repository) return repo;
    }
    return std::nullopt;
  }

  void RecordLocation(const Descriptor& blob) {
    // A read first: a warm push finds every location known and writes (and fsyncs) nothing.
    auto known = env_.index->FindBlobLocations(target_.registry, blob.digest);
    if (known.ok() &&
        std::find(known->begin(), known->end(), target_.repository) != known->end()) {
      return;
    }
    // Best effort: a lost record only costs a future mount.
    (void)env_.index->RecordBlobLocation(target_.registry, target_.repository, blob.digest);
  }

  absl::Status Annotate(const absl::Status& s, absl::string_view what) const {
    return absl::Status(s.code(), absl::StrCat(what, " to ", target_.registry, "/",
                                               target_.repository, ": ", s.message()));
  }

  absl::Status PushManifests() {
    SLIPWAY_RETURN_IF_ERROR(CheckCancelled());
    HostLimiter::Slot slot;
    SLIPWAY_RETURN_IF_ERROR(env_.limiter->Acquire(target_.registry, HostLimiter::Kind::kManifest,
                                                  ctx_.cancelled, &slot));
    for (const Descriptor& child : children_) {
      SLIPWAY_RETURN_IF_ERROR(PutManifestAs(child, child.digest.ToString()));
    }
    std::vector<std::string> refs = target_.tags;
    if (refs.empty()) refs.push_back(image_.manifest.digest.ToString());
    for (const std::string& ref : refs) {
      SLIPWAY_RETURN_IF_ERROR(PutManifestAs(image_.manifest, ref));
    }
    absl::MutexLock lock(&mu_);
    outcome_.manifest_digest = image_.manifest.digest;
    return absl::OkStatus();
  }

  absl::Status PutManifestAs(const Descriptor& m, const std::string& reference) {
    const std::string what = absl::StrCat("manifest ", m.digest.ToString(), " as ", reference);
    {
      RetryStats stats;
      auto head = client_->HeadManifest(target_.repository, reference, Call(&stats));
      AddRetries(stats);
      if (!head.ok()) return Annotate(head.status(), what);
      if (head->has_value() && (*head)->claimed_digest == m.digest) {
        absl::MutexLock lock(&mu_);
        ++outcome_.manifests_skipped;
        return absl::OkStatus();
      }
    }
    // The stored bytes, exactly: the digest the user was given is the digest of these bytes.
    auto bytes = env_.blobs->ReadSmall(m.digest, registry::kMaxManifestBytes);
    if (!bytes.ok()) return Annotate(bytes.status(), what);
    RetryStats stats;
    auto put = client_->PutManifest(target_.repository, reference, m.media_type, *bytes,
                                    Call(&stats));
    AddRetries(stats);
    if (!put.ok()) return Annotate(put.status(), what);
    if (*put != m.digest) {
      return absl::DataLossError(absl::StrCat(what, ": the stored bytes hash to ",
                                              put->ToString(), "; the store is damaged"));
    }
    return absl::OkStatus();
  }

  const PushEnvironment& env_;
  const ImageRecord& image_;
  const PushTarget& target_;
  const int index_;
  const PushContext& ctx_;
  std::unique_ptr<RegistryClient> client_;
  std::vector<Descriptor> blobs_;
  std::vector<Descriptor> children_;
  absl::Mutex mu_;
  PushOutcome outcome_ ABSL_GUARDED_BY(mu_);
};

}  // namespace

PushOutcome PushImage(const PushEnvironment& env, const ImageRecord& image,
                      const PushTarget& target, int target_index, const PushContext& ctx) {
  if (env.metrics != nullptr) env.metrics->in_flight().Increment();
  TargetPush push(env, image, target, target_index, ctx);
  PushOutcome outcome = push.Run();
  if (env.metrics != nullptr) {
    env.metrics->in_flight().Decrement();
    const char* result = outcome.status.ok()                   ? "ok"
                         : absl::IsCancelled(outcome.status) ? "cancelled"
                                                             : "failed";
    env.metrics->Pushes(target.registry, result).Increment();
    env.metrics->Duration(target.registry).Observe(absl::ToDoubleSeconds(outcome.duration));
  }
  return outcome;
}

}  // namespace slipway::push
