// Build: the stream protocol around the builder. Spec → context listing → NeedBlobs → chunks →
// UploadDone (all through build::ContextReceiver, under a lease), then the builder runs while
// its events and logs are written to the stream, and the result closes it.
#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <utility>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "server/build/builder.h"
#include "server/build/context/context_receiver.h"
#include "server/common/status_mapping.h"
#include "server/service/rpc_scope.h"
#include "server/service/slipway_service.h"
#include "storage/image_name.h"

namespace slipway {
namespace {

using BuildStream = grpc::ServerReaderWriter<v1::BuildServerMessage, v1::BuildClientMessage>;

// A build holds its context blobs and intermediate layers this long at most; a crashed server
// cannot pin them forever, a live build releases the lease when it ends.
constexpr int64_t kBuildLeaseSeconds = 24 * 3600;
// How often the watcher looks for a vanished client while the builder runs.
constexpr absl::Duration kCancelPoll = absl::Milliseconds(100);

absl::Status ValidateSpec(const v1::BuildSpec& spec) {
  if (spec.dockerfile().empty()) {
    return absl::InvalidArgumentError("spec.dockerfile: must not be empty");
  }
  for (int i = 0; i < spec.tags_size(); ++i) {
    auto tag = NormalizeTag(spec.tags(i));
    if (spec.tags(i).empty()) tag = absl::InvalidArgumentError("must not be empty");
    if (!tag.ok()) return WithField(tag.status(), absl::StrCat("spec.tags[", i, "]"));
  }
  return absl::OkStatus();
}

// Writes builder progress to the stream. gRPC allows one writer at a time and the builder calls
// from several threads, hence the mutex. A failed write means the client is gone: it flips the
// cancelled flag the builder polls.
class StreamObserver : public build::BuildObserver {
 public:
  StreamObserver(BuildStream* stream, std::atomic<bool>* cancelled)
      : stream_(stream), cancelled_(cancelled) {}

  void OnEvent(const v1::BuildEvent& event) override {
    if (event.state() == v1::BuildEvent::DONE && event.bytes() > 0) wrote_layers_.store(true);
    v1::BuildServerMessage msg;
    *msg.mutable_event() = event;
    Write(msg);
  }
  void OnLog(const v1::BuildLog& log) override {
    v1::BuildServerMessage msg;
    *msg.mutable_log() = log;
    Write(msg);
  }
  // The final message, under the same lock as everything else.
  bool Write(const v1::BuildServerMessage& msg) {
    absl::MutexLock lock(&mu_);
    if (broken_) return false;
    if (!stream_->Write(msg)) {
      broken_ = true;
      cancelled_->store(true);
      return false;
    }
    return true;
  }
  // Whether the build wrote a layer (a step that did work and produced bytes).
  bool wrote_layers() const { return wrote_layers_.load(); }

 private:
  std::atomic<bool> wrote_layers_{false};
  absl::Mutex mu_;
  BuildStream* stream_;
  std::atomic<bool>* cancelled_;
  bool broken_ ABSL_GUARDED_BY(mu_) = false;
};

// Reads the listing and the uploads into `receiver`. Returns the received context.
absl::StatusOr<std::unique_ptr<build::SourceTree>> ReceiveContext(
    grpc::ServerContext* context, BuildStream* stream, build::ContextReceiver& receiver,
    int64_t* entries_out, int64_t* missing_out) {
  v1::BuildClientMessage msg;
  int64_t entries = 0;
  for (;;) {
    if (!stream->Read(&msg)) {
      if (context->IsCancelled()) return absl::CancelledError("the client cancelled the build");
      return absl::InvalidArgumentError("context: the stream ended before ContextEnd");
    }
    if (msg.msg_case() == v1::BuildClientMessage::kContextEnd) break;
    if (msg.msg_case() != v1::BuildClientMessage::kEntries) {
      return absl::InvalidArgumentError(absl::StrCat(
          "context: expected ContextEntries or ContextEnd, got message kind ", msg.msg_case()));
    }
    entries += msg.entries().entries_size();
    absl::Status s = receiver.AddEntries(msg.entries());
    if (!s.ok()) return s;
  }
  auto missing = receiver.MissingBlobs();
  if (!missing.ok()) return missing.status();
  v1::BuildServerMessage need;
  need.mutable_need();  // sent even when empty: the client waits for it
  for (const Digest& d : *missing) need.mutable_need()->add_digests(d.ToString());
  if (!stream->Write(need)) return absl::CancelledError("the client went away");
  for (;;) {
    if (!stream->Read(&msg)) {
      if (context->IsCancelled()) return absl::CancelledError("the client cancelled the build");
      return absl::InvalidArgumentError("context: the stream ended before UploadDone");
    }
    if (msg.msg_case() == v1::BuildClientMessage::kUploadDone) break;
    if (msg.msg_case() != v1::BuildClientMessage::kChunk) {
      return absl::InvalidArgumentError(absl::StrCat(
          "context: expected ContextChunk or UploadDone, got message kind ", msg.msg_case()));
    }
    absl::Status s = receiver.AddChunk(msg.chunk());
    if (!s.ok()) return s;
  }
  *entries_out = entries;
  *missing_out = static_cast<int64_t>(missing->size());
  return receiver.Finish();
}

}  // namespace

grpc::Status SlipwayService::Build(grpc::ServerContext* context, BuildStream* stream) {
  RpcScope scope("Build", context, metrics_, request_ids_, *log_);
  if (options_.builder == nullptr) {
    return scope.Finish(grpc::Status(grpc::StatusCode::UNIMPLEMENTED,
                                     "Build is not implemented yet: native builder not configured"));
  }
  v1::BuildClientMessage first;
  if (!stream->Read(&first)) {
    return scope.Finish(absl::InvalidArgumentError("spec: the stream ended before BuildSpec"));
  }
  if (first.msg_case() != v1::BuildClientMessage::kSpec) {
    return scope.Finish(
        absl::InvalidArgumentError("spec: the first BuildClientMessage must carry BuildSpec"));
  }
  absl::Status valid = ValidateSpec(first.spec());
  if (!valid.ok()) return scope.Finish(valid);
  // A Dockerfile that cannot build fails before any context byte is received or stored.
  valid = options_.builder->Check(first.spec());
  if (!valid.ok()) return scope.Finish(valid);

  auto lease = index_.CreateLease(kBuildLeaseSeconds);
  if (!lease.ok()) return scope.Finish(lease.status());
  absl::Cleanup release = [&] {
    absl::Status s = index_.ReleaseLease(lease->id);
    if (!s.ok()) scope.log().warn("[req={}] releasing lease {}: {}", scope.id(), lease->id, s.ToString());
  };

  build::ContextReceiver receiver(blobs_, index_, lease->id);
  int64_t entries = 0;
  int64_t missing = 0;
  auto tree = ReceiveContext(context, stream, receiver, &entries, &missing);
  if (!tree.ok()) return scope.Finish(tree.status());
  scope.log().info("[req={}] build context: {} entries, {} blobs uploaded, {} bytes received",
                   scope.id(), entries, missing, receiver.bytes_received());
  // The store gauges are recomputed by listing the whole store: only when something was added,
  // so a warm build stays O(context), not O(store). (A warm build's new config and manifest,
  // a few KiB, show at the next refresh.)
  if (missing > 0) RefreshStoreGauges();

  std::atomic<bool> cancelled{false};
  StreamObserver observer(stream, &cancelled);
  // The builder only polls a flag; this watcher turns a vanished client or a passed deadline
  // into that flag.
  absl::Notification build_done;
  std::thread watcher([&] {
    while (!build_done.WaitForNotificationWithTimeout(kCancelPoll)) {
      if (context->IsCancelled()) {
        cancelled.store(true);
        return;
      }
    }
  });

  build::BuildRequest request;
  request.spec = first.spec();
  request.context = tree->get();
  request.lease_id = lease->id;
  request.request_id = scope.id();
  request.cancelled = &cancelled;
  auto image = options_.builder->Build(request, observer);
  build_done.Notify();
  watcher.join();
  if (observer.wrote_layers()) RefreshStoreGauges();

  if (!image.ok()) {
    if (cancelled.load() && !absl::IsCancelled(image.status())) {
      return scope.Finish(absl::CancelledError(
          absl::StrCat("the client went away during the build: ", image.status().message())));
    }
    return scope.Finish(image.status());
  }
  v1::BuildServerMessage result;
  *result.mutable_result()->mutable_image() = *image;
  if (!observer.Write(result)) {
    return scope.Finish(absl::CancelledError("the client went away before the result"));
  }
  scope.log().info("[req={}] built {} ({} tags)", scope.id(), image->manifest().digest(),
                   image->tags_size());
  return scope.Finish(grpc::Status::OK);
}

}  // namespace slipway
