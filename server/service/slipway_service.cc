#include "server/service/slipway_service.h"

#include <ctime>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "server/common/status_mapping.h"
#include "server/service/rpc_scope.h"
#include "storage/image_name.h"
#include "storage/status_macros.h"

namespace slipway {
namespace {

void ToProto(const Descriptor& d, v1::Descriptor* out) {
  out->set_media_type(d.media_type);
  out->set_digest(d.digest.ToString());
  out->set_size(d.size);
}

}  // namespace

void ToProto(const ImageRecord& record, v1::Image* out) {
  ToProto(record.manifest, out->mutable_manifest());
  if (record.config) out->set_config_digest(record.config->ToString());
  for (const auto& tag : record.tags) out->add_tags(tag);
  out->set_total_size(record.total_size);
  for (const auto& layer : record.layers) ToProto(layer, out->add_layers());
  out->set_created_unix(record.created_unix);
  if (!record.os.empty() || !record.architecture.empty()) {
    out->mutable_platform()->set_os(record.os);
    out->mutable_platform()->set_architecture(record.architecture);
    out->mutable_platform()->set_variant(record.variant);
  }
}

SlipwayService::SlipwayService(const SlipwayServiceOptions& options, BlobStore& blobs,
                               ImageIndex& index, GarbageCollector& gc, ServerMetrics& metrics,
                               push::PushEngine* push_engine)
    : options_(options),
      blobs_(blobs),
      index_(index),
      gc_(gc),
      metrics_(metrics),
      push_engine_(push_engine),
      log_(GetLogger("service")) {}

void SlipwayService::RefreshStoreGauges() {
  int64_t bytes = 0;
  int64_t count = 0;
  absl::Status s = blobs_.List([&](const BlobStore::ListedBlob& b) {
    bytes += b.size;
    ++count;
  });
  if (!s.ok()) {
    log_->warn("cannot list the store for its gauges: {}", s.ToString());
    return;
  }
  metrics_.store_bytes().Set(static_cast<double>(bytes));
  metrics_.store_blobs().Set(static_cast<double>(count));
}

absl::StatusOr<ImageRecord> SlipwayService::ResolveRef(const std::string& ref) const {
  if (ref.empty()) return absl::InvalidArgumentError("ref: must not be empty");
  std::string key;
  if (absl::StartsWith(ref, "sha256:")) {
    auto digest = Digest::Parse(ref);
    if (!digest.ok()) return WithField(digest.status(), "ref");
    key = digest->ToString();
  } else {
    auto tag = NormalizeTag(ref);
    if (!tag.ok()) return WithField(tag.status(), "ref");
    key = *std::move(tag);
  }
  auto image = index_.Resolve(key);
  if (!image.ok() && absl::IsNotFound(image.status())) {
    return absl::NotFoundError(absl::StrCat("ref: no image \"", ref, "\" in the store"));
  }
  return image;
}

// Build lives in build_handler.cc.

grpc::Status SlipwayService::GetImage(grpc::ServerContext* context,
                                      const v1::GetImageRequest* request, v1::Image* response) {
  RpcScope scope("GetImage", context, metrics_, request_ids_, *log_);
  auto image = ResolveRef(request->ref());
  if (!image.ok()) return scope.Finish(image.status());
  ToProto(*image, response);
  return scope.Finish(grpc::Status::OK);
}

grpc::Status SlipwayService::ListImages(grpc::ServerContext* context,
                                        const v1::ListImagesRequest* request,
                                        v1::ListImagesResponse* response) {
  RpcScope scope("ListImages", context, metrics_, request_ids_, *log_);
  auto images = index_.List();
  if (!images.ok()) return scope.Finish(images.status());
  for (const auto& image : *images) ToProto(image, response->add_images());
  return scope.Finish(grpc::Status::OK);
}

grpc::Status SlipwayService::TagImage(grpc::ServerContext* context,
                                      const v1::TagImageRequest* request, v1::Image* response) {
  RpcScope scope("TagImage", context, metrics_, request_ids_, *log_);
  auto tag = NormalizeTag(request->tag());
  if (request->tag().empty()) tag = absl::InvalidArgumentError("must not be empty");
  if (!tag.ok()) return scope.Finish(WithField(tag.status(), "tag"));
  auto image = ResolveRef(request->ref());
  if (!image.ok()) return scope.Finish(image.status());
  absl::Status s = index_.Tag(*tag, image->manifest.digest);
  if (!s.ok()) return scope.Finish(s);
  auto tagged = index_.Resolve(image->manifest.digest.ToString());
  if (!tagged.ok()) return scope.Finish(tagged.status());
  ToProto(*tagged, response);
  scope.log().info("[req={}] tagged {} as {}", scope.id(), image->manifest.digest.ToString(), *tag);
  return scope.Finish(grpc::Status::OK);
}

grpc::Status SlipwayService::DeleteImage(grpc::ServerContext* context,
                                         const v1::DeleteImageRequest* request,
                                         v1::DeleteImageResponse* response) {
  RpcScope scope("DeleteImage", context, metrics_, request_ids_, *log_);
  const std::string& ref = request->ref();
  if (ref.empty()) return scope.Finish(absl::InvalidArgumentError("ref: must not be empty"));
  if (absl::StartsWith(ref, "sha256:")) {
    auto digest = Digest::Parse(ref);
    if (!digest.ok()) return scope.Finish(WithField(digest.status(), "ref"));
    auto removed = index_.DeleteImage(*digest);
    if (!removed.ok()) {
      if (absl::IsNotFound(removed.status())) {
        return scope.Finish(
            absl::NotFoundError(absl::StrCat("ref: no image \"", ref, "\" in the store")));
      }
      return scope.Finish(removed.status());
    }
    for (const auto& tag : *removed) response->add_untagged(tag);
    response->set_deleted_digest(digest->ToString());
    scope.log().info("[req={}] deleted image {} ({} tags)", scope.id(), ref, removed->size());
  } else {
    auto tag = NormalizeTag(ref);
    if (!tag.ok()) return scope.Finish(WithField(tag.status(), "ref"));
    absl::Status s = index_.Untag(*tag);
    if (absl::IsNotFound(s)) {
      return scope.Finish(
          absl::NotFoundError(absl::StrCat("ref: no tag \"", ref, "\" in the store")));
    }
    if (!s.ok()) return scope.Finish(s);
    response->add_untagged(*tag);
    scope.log().info("[req={}] untagged {}", scope.id(), *tag);
  }
  RefreshStoreGauges();
  return scope.Finish(grpc::Status::OK);
}

grpc::Status SlipwayService::GarbageCollect(grpc::ServerContext* context,
                                            const v1::GarbageCollectRequest* request,
                                            v1::GarbageCollectResponse* response) {
  RpcScope scope("GarbageCollect", context, metrics_, request_ids_, *log_);
  GcOptions options;
  options.dry_run = request->dry_run();
  options.quota_bytes = options_.store_quota_bytes;
  if (request->grace_period_seconds() < -1) {
    return scope.Finish(
        absl::InvalidArgumentError("grace_period_seconds: must be -1 (server default) or >= 0"));
  }
  options.grace_period_seconds = request->grace_period_seconds() == -1
                                     ? options_.gc_grace_seconds
                                     : request->grace_period_seconds();
  auto report = gc_.Run(options);
  if (!report.ok()) {
    metrics_.GcRuns(absl::IsAborted(report.status()) ? "aborted" : "error").Increment();
    return scope.Finish(report.status());
  }
  metrics_.GcRuns(options.dry_run ? "dry_run" : "ok").Increment();
  if (!options.dry_run) {
    metrics_.gc_reclaimed_bytes().Increment(
        static_cast<double>(report->bytes_removed + report->bytes_evicted_for_quota));
  }
  response->set_blobs_removed(report->blobs_removed);
  response->set_bytes_removed(report->bytes_removed);
  response->set_blobs_evicted_for_quota(report->blobs_evicted_for_quota);
  response->set_bytes_in_use(report->bytes_in_use);
  scope.log().info(
      "[req={}] gc{}: removed {} blobs ({} bytes), evicted {} for quota, {} bytes in use",
      scope.id(), options.dry_run ? " (dry run)" : "", report->blobs_removed, report->bytes_removed,
      report->blobs_evicted_for_quota, report->bytes_in_use);
  RefreshStoreGauges();
  return scope.Finish(grpc::Status::OK);
}

}  // namespace slipway
