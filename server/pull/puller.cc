#include "server/pull/puller.h"

#include <algorithm>
#include <atomic>
#include <memory>
#include <set>
#include <thread>
#include <utility>
#include <vector>

#include "absl/cleanup/cleanup.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "storage/image_name.h"
#include "storage/media_types.h"
#include "storage/status_macros.h"

namespace slipway::pull {
namespace {

// Long enough for a slow multi-GiB pull; a crashed puller's lease still expires eventually.
constexpr int64_t kPullLeaseSeconds = 6 * 3600;

// Keeps the code, prefixes the message with what was being done.
absl::Status Annotate(const absl::Status& status, absl::string_view context) {
  if (status.ok()) return status;
  return absl::Status(status.code(), absl::StrCat(context, ": ", status.message()));
}

absl::Status Interrupted(const PullOptions& options) {
  if (options.cancelled && options.cancelled()) return absl::CancelledError("pull cancelled");
  if (options.call.deadline.has_value() && absl::Now() >= *options.call.deadline) {
    return absl::DeadlineExceededError("pull deadline exceeded");
  }
  return absl::OkStatus();
}

// Forwards to a store writer and keeps a copy of the bytes (at most `limit`), so the image
// config can be parsed before it is published, without a second read.
class CapturingWriter : public BlobWriter {
 public:
  CapturingWriter(BlobWriter& inner, std::string* out, int64_t limit)
      : inner_(inner), out_(out), limit_(limit) {}
  absl::Status Append(absl::string_view data) override {
    if (static_cast<int64_t>(out_->size() + data.size()) > limit_) {
      return absl::ResourceExhaustedError(absl::StrCat("blob exceeds ", limit_, " bytes"));
    }
    out_->append(data.data(), data.size());
    return inner_.Append(data);
  }
  int64_t bytes_written() const override { return inner_.bytes_written(); }
  absl::StatusOr<BlobInfo> Finish() override { return inner_.Finish(); }
  absl::Status Publish() override { return inner_.Publish(); }

 private:
  BlobWriter& inner_;
  std::string* out_;
  int64_t limit_;
};

// One blob to download: verified into an unpublished writer, published only once the whole
// image has been fetched and validated.
struct Download {
  Descriptor descriptor;
  bool capture = false;  // keep the bytes (the config)
  std::string captured;
  std::unique_ptr<BlobWriter> writer;
};

struct Resolved {
  registry::FetchedManifest fetched;
  ImageManifest manifest;
};

// One Pull's state: the reference, options and counters shared by its worker threads.
class PullRun {
 public:
  PullRun(registry::RegistryClient& client, BlobStore& store, const registry::ImageReference& ref,
          const PullOptions& options, PullStats& stats)
      : client_(client), store_(store), ref_(ref), options_(options), stats_(stats) {}

  // The single-platform manifest `ref` names, directly or through an index.
  absl::StatusOr<Resolved> Resolve() {
    const std::string what = ref_.ToString();
    SLIPWAY_RETURN_IF_ERROR(Interrupted(options_));
    absl::StatusOr<registry::FetchedManifest> top =
        client_.GetManifest(ref_.repository, ref_.ManifestReference(), options_.call);
    if (!top.ok()) return Annotate(top.status(), absl::StrCat("manifest of ", what));
    ++stats_.manifests_fetched;
    if (ref_.digest.has_value() && top->digest != *ref_.digest) {
      return absl::DataLossError(absl::StrCat("manifest of ", what, " hashes to ",
                                              top->digest.ToString()));
    }
    absl::StatusOr<ManifestDocument> doc = ParseManifestDocument(top->bytes, top->media_type);
    if (!doc.ok()) {
      return Annotate(doc.status(), absl::StrCat("manifest ", top->digest.ToString(), " of ", what));
    }
    if (doc->manifest.has_value()) return Resolved{std::move(*top), std::move(*doc->manifest)};

    // An index: pick the requested platform's manifest.
    const ImageIndexDocument& index = *doc->index;
    const ImageIndexDocument::Entry* chosen = nullptr;
    std::vector<std::string> available;
    for (const ImageIndexDocument::Entry& e : index.manifests) {
      if (!e.platform.has_value()) continue;
      // Attestation manifests (BuildKit) say unknown/unknown: not a runnable platform.
      if (e.platform->os == "unknown") continue;
      if (!e.descriptor.media_type.empty() && !media::IsManifestType(e.descriptor.media_type)) {
        continue;
      }
      available.push_back(PlatformString(*e.platform));
      if (chosen == nullptr && PlatformMatches(*e.platform, options_.platform)) chosen = &e;
    }
    if (chosen == nullptr) {
      return absl::NotFoundError(absl::StrCat(
          "no manifest for platform ", PlatformString(options_.platform), " in index ",
          top->digest.ToString(), " of ", what, "; available: ",
          available.empty() ? "none" : absl::StrJoin(available, ", ")));
    }
    stats_.resolved_from_index = top->digest;
    const Descriptor& want = chosen->descriptor;
    SLIPWAY_RETURN_IF_ERROR(Interrupted(options_));
    absl::StatusOr<registry::FetchedManifest> child =
        client_.GetManifest(ref_.repository, want.digest.ToString(), options_.call);
    if (!child.ok()) {
      return Annotate(child.status(), absl::StrCat("manifest ", want.digest.ToString(), " (",
                                                   PlatformString(*chosen->platform), ") of ",
                                                   what));
    }
    ++stats_.manifests_fetched;
    // GetManifest checks a by-digest fetch already; the index entry's size is ours to check.
    if (child->digest != want.digest ||
        static_cast<int64_t>(child->bytes.size()) != want.size) {
      return absl::DataLossError(absl::StrCat(
          "manifest ", want.digest.ToString(), " of ", what, ": got ", child->bytes.size(),
          " bytes hashing to ", child->digest.ToString(), ", index entry says ", want.size));
    }
    absl::StatusOr<ManifestDocument> child_doc =
        ParseManifestDocument(child->bytes, child->media_type);
    if (!child_doc.ok()) {
      return Annotate(child_doc.status(),
                      absl::StrCat("manifest ", want.digest.ToString(), " of ", what));
    }
    if (!child_doc->manifest.has_value()) {
      return absl::InvalidArgumentError(absl::StrCat("manifest ", want.digest.ToString(), " of ",
                                                     what, " is an index inside an index"));
    }
    return Resolved{std::move(*child), std::move(*child_doc->manifest)};
  }

  // Downloads `downloads` on up to options.parallelism threads. Each worker takes the next
  // blob; none waits on another, so a bounded set of plain threads is enough. The first error
  // stops workers from starting new blobs and is returned.
  absl::Status FetchAll(std::vector<Download>& downloads) {
    std::atomic<size_t> next{0};
    std::atomic<bool> stop{false};
    absl::Mutex mu;
    absl::Status first_error;
    auto worker = [&] {
      while (!stop.load()) {
        size_t i = next.fetch_add(1);
        if (i >= downloads.size()) return;
        absl::Status s = Interrupted(options_);
        if (s.ok()) s = FetchOne(downloads[i]);
        if (!s.ok()) {
          absl::MutexLock lock(&mu);
          if (first_error.ok()) first_error = s;
          stop.store(true);
        }
      }
    };
    size_t threads = std::min<size_t>(std::max(1, options_.parallelism), downloads.size());
    std::vector<std::thread> pool;
    for (size_t i = 1; i < threads; ++i) pool.emplace_back(worker);
    worker();  // this thread works too
    for (std::thread& t : pool) t.join();
    absl::MutexLock lock(&mu);
    return first_error;
  }

 private:
  absl::Status FetchOne(Download& d) {
    const Descriptor& desc = d.descriptor;
    const std::string what =
        absl::StrCat("blob ", desc.digest.ToString(), " of ", ref_.ToString());
    absl::StatusOr<std::unique_ptr<BlobWriter>> writer =
        store_.NewWriter({desc.digest, desc.size});
    if (!writer.ok()) return Annotate(writer.status(), what);
    CapturingWriter capture(**writer, &d.captured, kMaxManifestBytes);
    BlobWriter& target = d.capture ? static_cast<BlobWriter&>(capture) : **writer;
    absl::StatusOr<int64_t> got =
        client_.GetBlob(ref_.repository, desc.digest, desc.size, target, options_.call);
    if (!got.ok()) return Annotate(got.status(), what);
    // Finish checks the digest and the size (a short body) before anything is visible.
    absl::StatusOr<BlobInfo> info = (*writer)->Finish();
    if (!info.ok()) return Annotate(info.status(), what);
    d.writer = std::move(*writer);
    stats_bytes_.fetch_add(*got);
    stats_blobs_.fetch_add(1);
    return absl::OkStatus();
  }

 public:
  void FlushStats() {
    stats_.bytes_fetched += stats_bytes_.load();
    stats_.blobs_fetched += stats_blobs_.load();
  }

 private:
  registry::RegistryClient& client_;
  BlobStore& store_;
  const registry::ImageReference& ref_;
  const PullOptions& options_;
  PullStats& stats_;
  std::atomic<int64_t> stats_bytes_{0};
  std::atomic<int> stats_blobs_{0};
};

}  // namespace

absl::StatusOr<ImageRecord> Puller::Pull(const registry::ImageReference& ref,
                                         const PullOptions& options) {
  PullStats local_stats;
  PullStats& stats = options.stats != nullptr ? *options.stats : local_stats;
  stats = PullStats{};
  const std::string what = ref.ToString();

  // A bad tag fails before any network traffic.
  std::optional<std::string> tag;
  if (options.tag.has_value()) {
    absl::StatusOr<std::string> normalized = NormalizeTag(*options.tag);
    if (!normalized.ok()) return Annotate(normalized.status(), "tag");
    tag = *normalized;
  }

  PullRun run(client_, store_, ref, options, stats);
  SLIPWAY_ASSIGN_OR_RETURN(Resolved resolved, run.Resolve());
  // When an index was resolved only the chosen platform's manifest becomes the image; keeping
  // the whole index (and the other platforms) is future work.
  const registry::FetchedManifest& fetched = resolved.fetched;
  const ImageManifest& manifest = resolved.manifest;
  if (manifest.config.size > kMaxManifestBytes) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "config ", manifest.config.digest.ToString(), " of ", what, " is ",
        manifest.config.size, " bytes, over the ", kMaxManifestBytes, " limit"));
  }

  Descriptor manifest_desc{manifest.media_type.empty() ? fetched.media_type : manifest.media_type,
                           fetched.digest, static_cast<int64_t>(fetched.bytes.size()), {}};
  // Every distinct blob the image references, manifest first.
  std::vector<Descriptor> blobs = {manifest_desc};
  std::set<Digest> seen = {manifest_desc.digest};
  if (seen.insert(manifest.config.digest).second) blobs.push_back(manifest.config);
  for (const Descriptor& d : manifest.layers) {
    if (seen.insert(d.digest).second) blobs.push_back(d);
  }
  std::vector<Digest> digests;
  int64_t total_size = 0;
  for (const Descriptor& d : blobs) {
    digests.push_back(d.digest);
    total_size += d.size;
  }

  // The lease covers the blobs the store already has too: otherwise a GC between FindMissing
  // and PutImage could collect one of them.
  SLIPWAY_ASSIGN_OR_RETURN(Lease lease, index_.CreateLease(kPullLeaseSeconds));
  // A release that fails leaves a lease that expires on its own; it must not turn a recorded
  // image (or the original error) into a failure.
  auto release = absl::MakeCleanup([&] { (void)index_.ReleaseLease(lease.id); });
  SLIPWAY_RETURN_IF_ERROR(index_.AddToLease(lease.id, digests));

  std::vector<Digest> wanted(digests.begin() + 1, digests.end());  // config and layers
  std::vector<Digest> missing = store_.FindMissing(wanted);
  std::set<Digest> missing_set(missing.begin(), missing.end());
  std::vector<Download> downloads;
  for (size_t i = 1; i < blobs.size(); ++i) {
    if (missing_set.count(blobs[i].digest) == 0) continue;
    downloads.push_back(Download{blobs[i], blobs[i].digest == manifest.config.digest, {}, {}});
  }
  stats.blobs_present = static_cast<int>(wanted.size() - downloads.size());
  absl::Status fetched_all = run.FetchAll(downloads);
  run.FlushStats();
  SLIPWAY_RETURN_IF_ERROR(fetched_all);
  SLIPWAY_RETURN_IF_ERROR(Interrupted(options));

  // The config: from the download, or from the store when it was already there.
  std::string config_bytes;
  bool config_downloaded = false;
  for (Download& d : downloads) {
    if (d.capture) {
      config_bytes = std::move(d.captured);
      config_downloaded = true;
    }
  }
  if (!config_downloaded) {
    absl::StatusOr<std::string> stored =
        store_.ReadSmall(manifest.config.digest, kMaxManifestBytes);
    if (!stored.ok()) {
      return Annotate(stored.status(),
                      absl::StrCat("config ", manifest.config.digest.ToString(), " in the store"));
    }
    config_bytes = std::move(*stored);
  }
  const std::string config_what =
      absl::StrCat("config ", manifest.config.digest.ToString(), " of ", what);
  absl::StatusOr<ImageConfigSummary> config = ParseImageConfig(config_bytes);
  if (!config.ok()) return Annotate(config.status(), config_what);
  if (config->diff_ids.size() != manifest.layers.size()) {
    return absl::InvalidArgumentError(
        absl::StrCat(config_what, ": ", config->diff_ids.size(), " diff_ids for ",
                     manifest.layers.size(), " layers in manifest ", fetched.digest.ToString()));
  }

  // The manifest, byte for byte as served (its digest is the image's identity).
  SLIPWAY_ASSIGN_OR_RETURN(std::unique_ptr<BlobWriter> manifest_writer,
                           store_.NewWriter({manifest_desc.digest, manifest_desc.size}));
  SLIPWAY_RETURN_IF_ERROR(manifest_writer->Append(fetched.bytes));
  SLIPWAY_RETURN_IF_ERROR(manifest_writer->Finish().status());

  // Everything verified: publish (leased) and record.
  for (Download& d : downloads) {
    SLIPWAY_RETURN_IF_ERROR(
        Annotate(d.writer->Publish(), absl::StrCat("publish ", d.descriptor.digest.ToString())));
  }
  SLIPWAY_RETURN_IF_ERROR(Annotate(manifest_writer->Publish(),
                                   absl::StrCat("publish ", manifest_desc.digest.ToString())));

  ImageRecord record{manifest_desc};
  record.config = manifest.config.digest;
  record.layers = manifest.layers;
  record.os = config->platform.os;
  record.architecture = config->platform.architecture;
  record.variant = config->platform.variant;
  record.total_size = total_size;
  record.created_unix = absl::ToUnixSeconds(absl::Now());
  SLIPWAY_RETURN_IF_ERROR(Annotate(index_.PutImage(record, blobs), "record " + what));
  if (tag.has_value()) {
    SLIPWAY_RETURN_IF_ERROR(Annotate(index_.Tag(*tag, manifest_desc.digest), "tag " + *tag));
    record.tags.push_back(*tag);
  }
  return record;
}

}  // namespace slipway::pull
