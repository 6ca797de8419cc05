#ifndef SLIPWAY_SERVER_SERVICE_RPC_SCOPE_H_
#define SLIPWAY_SERVER_SERVICE_RPC_SCOPE_H_

#include <grpcpp/server_context.h>

#include <string>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "server/common/logging.h"
#include "server/common/metrics.h"
#include "server/common/status_mapping.h"
#include "spdlog/spdlog.h"

namespace slipway {

// Per-RPC bookkeeping: a request id (the client's x-request-id, sanitised, or a fresh one),
// the in-flight gauge, and on Finish the request counter, the latency histogram and one log
// line. Lives on the handler's stack; not shared between threads.
class RpcScope {
 public:
  RpcScope(const char* method, grpc::ServerContext* context, ServerMetrics& metrics,
           RequestIdGenerator& ids, spdlog::logger& log)
      : method_(method),
        metrics_(metrics),
        log_(log),
        start_(absl::Now()),
        in_flight_(metrics.RpcInFlight(method)) {
    const auto& md = context->client_metadata();
    auto it = md.find("x-request-id");
    if (it != md.end())
      id_ = SanitizeRequestId(absl::string_view(it->second.data(), it->second.size()));
    if (id_.empty()) id_ = ids.Next();
    context->AddInitialMetadata("x-request-id", id_);
    in_flight_.Increment();
    log_.debug("[req={}] {} started", id_, method_);
  }
  ~RpcScope() {
    if (!finished_)
      Finish(grpc::Status(grpc::StatusCode::INTERNAL, "handler ended without status"));
  }
  RpcScope(const RpcScope&) = delete;
  RpcScope& operator=(const RpcScope&) = delete;

  const std::string& id() const { return id_; }
  spdlog::logger& log() { return log_; }

  // Records the outcome and returns `status` so handlers can `return scope.Finish(...)`.
  grpc::Status Finish(grpc::Status status) {
    finished_ = true;
    in_flight_.Decrement();
    const char* code = StatusCodeName(status.error_code());
    metrics_.RpcRequests(method_, code).Increment();
    double seconds = absl::ToDoubleSeconds(absl::Now() - start_);
    metrics_.RpcDuration(method_).Observe(seconds);
    auto level = spdlog::level::info;
    switch (status.error_code()) {
      case grpc::StatusCode::OK:
      case grpc::StatusCode::NOT_FOUND:
      case grpc::StatusCode::INVALID_ARGUMENT:
      case grpc::StatusCode::CANCELLED:
      case grpc::StatusCode::UNIMPLEMENTED:
        break;
      default:
        level = spdlog::level::warn;
    }
    if (status.ok()) {
      log_.log(level, "[req={}] {} OK in {:.3f}s", id_, method_, seconds);
    } else {
      log_.log(level, "[req={}] {} {} in {:.3f}s: {}", id_, method_, code, seconds,
               status.error_message());
    }
    return status;
  }
  grpc::Status Finish(const absl::Status& status) { return Finish(ToGrpcStatus(status)); }

 private:
  const std::string method_;
  ServerMetrics& metrics_;
  spdlog::logger& log_;
  const absl::Time start_;
  prometheus::Gauge& in_flight_;
  std::string id_;
  bool finished_ = false;
};

}  // namespace slipway

#endif  // SLIPWAY_SERVER_SERVICE_RPC_SCOPE_H_
