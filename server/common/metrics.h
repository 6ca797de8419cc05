#ifndef SLIPWAY_SERVER_COMMON_METRICS_H_
#define SLIPWAY_SERVER_COMMON_METRICS_H_

#include <string>

#include "prometheus/counter.h"
#include "prometheus/family.h"
#include "prometheus/gauge.h"
#include "prometheus/histogram.h"
#include "prometheus/registry.h"

namespace slipway {

// The server's metric families, registered on the process-wide registry that App owns. Labels
// are bounded: RPC method names, status code names and GC outcomes — never a tag or digest.
// Thread-safe (prometheus-cpp families and metrics are).
class ServerMetrics {
 public:
  explicit ServerMetrics(prometheus::Registry& registry);

  prometheus::Counter& RpcRequests(const std::string& method, const std::string& code) {
    return rpc_requests_.Add({{"method", method}, {"code", code}});
  }
  prometheus::Histogram& RpcDuration(const std::string& method);
  prometheus::Gauge& RpcInFlight(const std::string& method) {
    return rpc_in_flight_.Add({{"method", method}});
  }
  // outcome: "ok", "dry_run", "aborted", "error".
  prometheus::Counter& GcRuns(const std::string& outcome) {
    return gc_runs_.Add({{"outcome", outcome}});
  }

  prometheus::Gauge& store_bytes() { return store_bytes_; }
  prometheus::Gauge& store_blobs() { return store_blobs_; }
  prometheus::Counter& gc_reclaimed_bytes() { return gc_reclaimed_bytes_; }
  prometheus::Counter& import_bytes() { return import_bytes_; }
  prometheus::Counter& export_bytes() { return export_bytes_; }

 private:
  prometheus::Family<prometheus::Counter>& rpc_requests_;
  prometheus::Family<prometheus::Histogram>& rpc_duration_;
  prometheus::Family<prometheus::Gauge>& rpc_in_flight_;
  prometheus::Family<prometheus::Counter>& gc_runs_;
  prometheus::Gauge& store_bytes_;
  prometheus::Gauge& store_blobs_;
  prometheus::Counter& gc_reclaimed_bytes_;
  prometheus::Counter& import_bytes_;
  prometheus::Counter& export_bytes_;
};

}  // namespace slipway

#endif  // SLIPWAY_SERVER_COMMON_METRICS_H_
