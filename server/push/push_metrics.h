#ifndef SLIPWAY_SERVER_PUSH_PUSH_METRICS_H_
#define SLIPWAY_SERVER_PUSH_PUSH_METRICS_H_

#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"
#include "prometheus/counter.h"
#include "prometheus/family.h"
#include "prometheus/gauge.h"
#include "prometheus/histogram.h"
#include "prometheus/registry.h"

namespace slipway::push {

// The push engine's metric families on the process-wide registry App owns. Labels are bounded:
// the registry host (host[:port] as targets name it), an outcome, an HTTP method, a status
// class and a retry or skip reason — never a repository, tag, digest or error text.
// Thread-safe (prometheus-cpp families are).
class PushMetrics {
 public:
  explicit PushMetrics(prometheus::Registry& registry);

  // outcome: "ok", "failed", "cancelled".
  prometheus::Counter& Pushes(const std::string& registry, const std::string& outcome) {
    return pushes_.Add({{"registry", registry}, {"outcome", outcome}});
  }
  prometheus::Histogram& Duration(const std::string& registry);
  prometheus::Counter& Bytes(const std::string& registry) {
    return bytes_.Add({{"registry", registry}});
  }
  // status 0 (a transport failure) → status_class "error"; else "2xx".."5xx".
  void RegistryRequest(const std::string& registry, absl::string_view method, int status);
  prometheus::Counter& Retries(const std::string& registry, const std::string& reason) {
    return retries_.Add({{"registry", registry}, {"reason", reason}});
  }
  // reason: "exists" or "mounted".
  prometheus::Counter& BlobsSkipped(const std::string& registry, const std::string& reason) {
    return skipped_.Add({{"registry", registry}, {"reason", reason}});
  }
  prometheus::Gauge& in_flight() { return in_flight_; }
  // Docker Hub's `ratelimit-remaining` / `ratelimit-limit` as last seen from `registry` (set
  // after each target's push when the registry sent them; a negative value leaves that gauge
  // unchanged).
  void RateLimit(const std::string& registry, int64_t remaining, int64_t limit);

 private:
  prometheus::Family<prometheus::Counter>& pushes_;
  prometheus::Family<prometheus::Histogram>& duration_;
  prometheus::Family<prometheus::Counter>& bytes_;
  prometheus::Family<prometheus::Counter>& requests_;
  prometheus::Family<prometheus::Counter>& retries_;
  prometheus::Family<prometheus::Counter>& skipped_;
  prometheus::Gauge& in_flight_;
  prometheus::Family<prometheus::Gauge>& ratelimit_remaining_;
  prometheus::Family<prometheus::Gauge>& ratelimit_limit_;
};

}  // namespace slipway::push

#endif  // SLIPWAY_SERVER_PUSH_PUSH_METRICS_H_
