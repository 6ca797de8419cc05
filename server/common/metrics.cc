#include "server/common/metrics.h"

namespace slipway {
namespace {

// From 1 ms to ~5 min: metadata calls sit at the bottom, imports/exports of large images at the
// top.
prometheus::Histogram::BucketBoundaries RpcBuckets() {
  return {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300};
}

}  // namespace

ServerMetrics::ServerMetrics(prometheus::Registry& registry)
    : rpc_requests_(prometheus::BuildCounter()
                        .Name("slipway_rpc_requests_total")
                        .Help("Finished RPCs by method and status code.")
                        .Register(registry)),
      rpc_duration_(prometheus::BuildHistogram()
                        .Name("slipway_rpc_duration_seconds")
                        .Help("RPC latency from arrival to status, by method.")
                        .Register(registry)),
      rpc_in_flight_(prometheus::BuildGauge()
                         .Name("slipway_rpc_in_flight")
                         .Help("RPCs being handled now, by method.")
                         .Register(registry)),
      gc_runs_(prometheus::BuildCounter()
                   .Name("slipway_gc_runs_total")
                   .Help("Garbage collection runs by outcome (ok, dry_run, aborted, error).")
                   .Register(registry)),
      store_bytes_(prometheus::BuildGauge()
                       .Name("slipway_store_bytes")
                       .Help("Bytes of blobs in the store.")
                       .Register(registry)
                       .Add({})),
      store_blobs_(prometheus::BuildGauge()
                       .Name("slipway_store_blobs")
                       .Help("Blobs in the store.")
                       .Register(registry)
                       .Add({})),
      gc_reclaimed_bytes_(prometheus::BuildCounter()
                              .Name("slipway_gc_reclaimed_bytes_total")
                              .Help("Bytes removed by garbage collection (sweep and quota).")
                              .Register(registry)
                              .Add({})),
      import_bytes_(prometheus::BuildCounter()
                        .Name("slipway_import_bytes_total")
                        .Help("Archive bytes received by ImportImage.")
                        .Register(registry)
                        .Add({})),
      export_bytes_(prometheus::BuildCounter()
                        .Name("slipway_export_bytes_total")
                        .Help("Archive bytes sent by ExportImage.")
                        .Register(registry)
                        .Add({})) {}

prometheus::Histogram& ServerMetrics::RpcDuration(const std::string& method) {
  return rpc_duration_.Add({{"method", method}}, RpcBuckets());
}

}  // namespace slipway
