#include "server/push/push_metrics.h"

#include "prometheus/counter.h"

namespace slipway::push {
namespace {

prometheus::Histogram::BucketBoundaries PushBuckets() {
  return {0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800};
}

}  // namespace

PushMetrics::PushMetrics(prometheus::Registry& registry)
    : pushes_(prometheus::BuildCounter()
                  .Name("slipway_push_total")
                  .Help("Pushes of one image to one target, by registry host and outcome")
                  .Register(registry)),
      duration_(prometheus::BuildHistogram()
                    .Name("slipway_push_duration_seconds")
                    .Help("Duration of one image push to one target")
                    .Register(registry)),
      bytes_(prometheus::BuildCounter()
                 .Name("slipway_push_bytes_total")
                 .Help("Blob bytes sent to registries (resends included)")
                 .Register(registry)),
      requests_(prometheus::BuildCounter()
                    .Name("slipway_registry_requests_total")
                    .Help("HTTP requests to registries by method and status class")
                    .Register(registry)),
      retries_(prometheus::BuildCounter()
                   .Name("slipway_registry_retries_total")
                   .Help("Registry requests retried, by reason")
                   .Register(registry)),
      skipped_(prometheus::BuildCounter()
                   .Name("slipway_push_blobs_skipped_total")
                   .Help("Blobs not uploaded because the registry had them or mounted them")
                   .Register(registry)),
      in_flight_(prometheus::BuildGauge()
                     .Name("slipway_push_in_flight")
                     .Help("Target pushes in progress")
                     .Register(registry)
                     .Add({})),
      ratelimit_remaining_(prometheus::BuildGauge()
                               .Name("slipway_registry_ratelimit_remaining")
                               .Help("Pulls left in the registry's rate-limit window "
                                     "(ratelimit-remaining), as last seen")
                               .Register(registry)),
      ratelimit_limit_(prometheus::BuildGauge()
                           .Name("slipway_registry_ratelimit_limit")
                           .Help("The registry's rate-limit quota per window (ratelimit-limit), "
                                 "as last seen")
                           .Register(registry)) {}

void PushMetrics::RateLimit(const std::string& registry, int64_t remaining, int64_t limit) {
  if (remaining >= 0) {
    ratelimit_remaining_.Add({{"registry", registry}}).Set(static_cast<double>(remaining));
  }
  if (limit >= 0) ratelimit_limit_.Add({{"registry", registry}}).Set(static_cast<double>(limit));
}

prometheus::Histogram& PushMetrics::Duration(const std::string& registry) {
  return duration_.Add({{"registry", registry}}, PushBuckets());
}

void PushMetrics::RegistryRequest(const std::string& registry, absl::string_view method,
                                  int status) {
  const char* cls = "error";
  if (status >= 200 && status < 300) cls = "2xx";
  else if (status >= 300 && status < 400) cls = "3xx";
  else if (status >= 400 && status < 500) cls = "4xx";
  else if (status >= 500 && status < 600) cls = "5xx";
  else if (status > 0) cls = "other";
  requests_.Add({{"registry", registry}, {"method", std::string(method)}, {"status_class", cls}})
      .Increment();
}

}  // namespace slipway::push
