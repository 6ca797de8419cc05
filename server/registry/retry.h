#ifndef SLIPWAY_SERVER_REGISTRY_RETRY_H_
#define SLIPWAY_SERVER_REGISTRY_RETRY_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/random/random.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "server/registry/http_client.h"

namespace slipway::registry {

// Time for retries and token expiry; tests inject a fake. Implementations are thread-safe.
class Clock {
 public:
  virtual ~Clock() = default;
  virtual absl::Time Now() = 0;
  virtual void SleepFor(absl::Duration d) = 0;
};

class RealClock : public Clock {
 public:
  absl::Time Now() override { return absl::Now(); }
  void SleepFor(absl::Duration d) override { absl::SleepFor(d); }
};

struct RetryOptions {
  int max_attempts = 6;  // including the first
  absl::Duration initial_backoff = absl::Milliseconds(250);
  absl::Duration max_backoff = absl::Seconds(20);
  double multiplier = 2.0;
  // Each backoff is drawn uniformly from [(1 - jitter) * b, b] so that many clients hit by the
  // same outage do not retry in lock step.
  double jitter = 0.5;
  // A Retry-After longer than this is cut to it (a registry cannot park us for an hour).
  absl::Duration max_retry_after = absl::Seconds(60);
};

struct RetryDecision {
  bool retry = false;
  absl::Duration delay;
  // Bounded label for metrics and logs: "408", "429", "5xx", "reset", "eof", "timeout",
  // "connect", "dns"; empty when not retried.
  std::string reason;
};

// What the retries of one request cost.
struct RetryStats {
  int attempts = 0;
  std::vector<std::string> reasons;  // one per retry
};

// Docker Hub's rate-limit headers ("ratelimit-limit: 100;w=21600").
struct RateLimit {
  std::optional<int64_t> limit;
  std::optional<int64_t> remaining;
  std::optional<int64_t> window_seconds;
};
// nullopt when neither header is present or both are malformed.
std::optional<RateLimit> ParseRateLimit(const HeaderMap& headers);

// Retry-After as delay-seconds or an HTTP-date (IMF-fixdate, RFC 7231), relative to `now`;
// a date in the past is zero. nullopt when malformed.
std::optional<absl::Duration> ParseRetryAfter(absl::string_view value, absl::Time now);

// Which outcomes of one HTTP request are worth another attempt, and when. Retried: 408, 429,
// 500, 502, 503, 504 and connection failures (UNAVAILABLE from HttpClient: refused, reset, EOF,
// timeout or stall). Never retried: other statuses (400, 401, 403, 404, ...) and other errors.
// Thread-safe.
class RetryPolicy {
 public:
  // `uniform01` draws the jitter in [0, 1); by default an internal generator.
  RetryPolicy(const RetryOptions& options, Clock& clock,
              std::function<double()> uniform01 = nullptr);

  // The decision after `attempts_made` attempts ended with `result`. The delay is the jittered
  // exponential backoff, or Retry-After when the response has one and it is longer (capped).
  RetryDecision Decide(int attempts_made, const absl::StatusOr<HttpResponse>& result);

  // Calls `attempt` until it gives a non-retryable outcome, `max_attempts` are used, or the
  // next wait would pass `deadline`. Returns the last outcome; when stopped by the deadline,
  // DEADLINE_EXCEEDED naming the attempts made and the last outcome. Sleeps on the clock.
  absl::StatusOr<HttpResponse> Run(const std::function<absl::StatusOr<HttpResponse>()>& attempt,
                                   absl::Time deadline, RetryStats* stats = nullptr);

  Clock& clock() { return clock_; }
  const RetryOptions& options() const { return options_; }

 private:
  double Uniform();

  RetryOptions options_;
  Clock& clock_;
  std::function<double()> uniform01_;
  absl::Mutex mu_;
  absl::BitGen gen_ ABSL_GUARDED_BY(mu_);
};

}  // namespace slipway::registry

#endif  // SLIPWAY_SERVER_REGISTRY_RETRY_H_
