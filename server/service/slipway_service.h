#ifndef SLIPWAY_SERVER_SERVICE_SLIPWAY_SERVICE_H_
#define SLIPWAY_SERVER_SERVICE_SLIPWAY_SERVICE_H_

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "server/common/logging.h"
#include "server/common/metrics.h"
#include "server/push/pusher.h"
#include "server/registry/docker_config.h"
#include "server/scan/scan_config.h"
#include "slipway/v1/slipway.grpc.pb.h"
#include "storage/blob_store.h"
#include "storage/garbage_collector.h"
#include "storage/image_index.h"

namespace slipway {
namespace push {
class PushEngine;
}
namespace build {
class Builder;
}
namespace scan {
class Scanner;
}

struct SlipwayServiceOptions {
  int64_t gc_grace_seconds = 3600;  // used when a request asks for the server's default
  int64_t store_quota_bytes = 0;    // 0 = none
  // Credentials for push targets whose request carries none: the operator's docker
  // config.json (--registry-auth-file). Null = requests' own credentials only. Not owned.
  const registry::DockerConfig* registry_auth = nullptr;
  // Runs Build requests once their context has been received (server/build/builder.h). Null:
  // Build answers UNIMPLEMENTED "native builder not configured". Not owned.
  build::Builder* builder = nullptr;
  // Scan hooks; null = Scan answers FAILED_PRECONDITION (no hooks). Not owned.
  scan::Scanner* scanner = nullptr;
  // The server's push gate (require none by default) and the scanners it names by default.
  scan::GatePolicy push_gate;
  // The token RecordScan callers must present; "" = RecordScan is refused.
  std::string record_scan_token;
  bool attach_reports_on_push = false;  // scan.attach_reports_on_push
};

// The gRPC handlers: proto ⇄ storage, status mapping, per-RPC metrics and request ids. Thin by
// design — the work lives in storage/ (and later build/, push/, scan/). Thread-safe: gRPC calls
// handlers concurrently; every dependency is itself thread-safe. Authentication happens before
// any handler runs (see server/common/auth.h). Dependencies must outlive the service.
class SlipwayService final : public v1::Slipway::Service {
 public:
  SlipwayService(const SlipwayServiceOptions& options, BlobStore& blobs, ImageIndex& index,
                 GarbageCollector& gc, ServerMetrics& metrics,
                 push::PushEngine* push_engine = nullptr);

  // Recomputes slipway_store_bytes / slipway_store_blobs by listing the store. Called at startup
  // and after every call that changes the store.
  void RefreshStoreGauges();

  grpc::Status Build(
      grpc::ServerContext* context,
      grpc::ServerReaderWriter<v1::BuildServerMessage, v1::BuildClientMessage>* stream) override;
  grpc::Status ImportImage(grpc::ServerContext* context,
                           grpc::ServerReader<v1::ImportImageRequest>* reader,
                           v1::ImportImageResponse* response) override;
  grpc::Status FindMissingBlobs(grpc::ServerContext* context,
                                const v1::FindMissingBlobsRequest* request,
                                v1::FindMissingBlobsResponse* response) override;
  grpc::Status ExportImage(grpc::ServerContext* context, const v1::ExportImageRequest* request,
                           grpc::ServerWriter<v1::ExportImageChunk>* writer) override;
  grpc::Status Scan(grpc::ServerContext* context, const v1::ScanRequest* request,
                    v1::ScanResponse* response) override;
  grpc::Status RecordScan(grpc::ServerContext* context, const v1::RecordScanRequest* request,
                          v1::RecordScanResponse* response) override;
  grpc::Status Push(grpc::ServerContext* context, const v1::PushRequest* request,
                    grpc::ServerWriter<v1::PushProgress>* writer) override;
  grpc::Status PushMany(grpc::ServerContext* context, const v1::PushManyRequest* request,
                        grpc::ServerWriter<v1::PushProgress>* writer) override;
  grpc::Status GetImage(grpc::ServerContext* context, const v1::GetImageRequest* request,
                        v1::Image* response) override;
  grpc::Status ListImages(grpc::ServerContext* context, const v1::ListImagesRequest* request,
                          v1::ListImagesResponse* response) override;
  grpc::Status TagImage(grpc::ServerContext* context, const v1::TagImageRequest* request,
                        v1::Image* response) override;
  grpc::Status DeleteImage(grpc::ServerContext* context, const v1::DeleteImageRequest* request,
                           v1::DeleteImageResponse* response) override;
  grpc::Status GarbageCollect(grpc::ServerContext* context,
                              const v1::GarbageCollectRequest* request,
                              v1::GarbageCollectResponse* response) override;

 private:
  // A tag (normalized) or a digest → the stored image. INVALID_ARGUMENT naming "ref" for a
  // malformed or empty ref; NOT_FOUND naming the ref.
  absl::StatusOr<ImageRecord> ResolveRef(const std::string& ref) const;

  // A push target without credentials gets them from options_.registry_auth, if configured.
  absl::Status FillCredentialsFromAuthFile(push::PushTarget& target,
                                           const std::string& field) const;

  // The push gate (server policy tightened by `gate`) for the exact stored digest of `image`:
  // OK, or FAILED_PRECONDITION naming the digest and the missing or failing scanners.
  absl::Status CheckPushGate(const ImageRecord& image, const v1::ScanGate& gate) const;
  // Resolves `ref` once and gates that very digest: what is checked is what gets pushed.
  absl::StatusOr<ImageRecord> ResolveGated(const std::string& ref,
                                           const v1::ScanGate& gate) const;

  // After a successful push: attaches every stored scan report of `image` to the pushed
  // manifest in `target` as an OCI referrer (tag-schema fallback without a referrers API).
  absl::Status AttachScanReports(const ImageRecord& image, const push::PushTarget& target,
                                 absl::Time deadline) const;

  const SlipwayServiceOptions options_;
  BlobStore& blobs_;
  ImageIndex& index_;
  GarbageCollector& gc_;
  ServerMetrics& metrics_;
  push::PushEngine* push_engine_;  // null: Push and PushMany answer UNIMPLEMENTED
  RequestIdGenerator request_ids_;
  std::shared_ptr<spdlog::logger> log_;
};

// ImageRecord → the API's Image (tags as stored: normalized).
void ToProto(const ImageRecord& record, v1::Image* out);

}  // namespace slipway

#endif  // SLIPWAY_SERVER_SERVICE_SLIPWAY_SERVICE_H_
