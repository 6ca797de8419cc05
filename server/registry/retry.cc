#include "server/registry/retry.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace slipway::registry {
namespace {

// "100;w=21600" → value 100, window 21600.
bool ParseRateLimitValue(absl::string_view text, int64_t* value,
                         std::optional<int64_t>* window) {
  std::vector<absl::string_view> parts = absl::StrSplit(text, ';');
  if (!absl::SimpleAtoi(absl::StripAsciiWhitespace(parts[0]), value)) return false;
  for (size_t i = 1; i < parts.size(); ++i) {
    absl::string_view p = absl::StripAsciiWhitespace(parts[i]);
    int64_t w = 0;
    if (absl::ConsumePrefix(&p, "w=") && absl::SimpleAtoi(p, &w)) *window = w;
  }
  return true;
}

std::string OutcomeText(const absl::StatusOr<HttpResponse>& r) {
  if (!r.ok()) return r.status().ToString();
  return absl::StrCat("HTTP ", r->status);
}

}  // namespace

std::optional<RateLimit> ParseRateLimit(const HeaderMap& headers) {
  RateLimit rl;
  int64_t v = 0;
  if (auto limit = headers.Get("ratelimit-limit");
      limit.has_value() && ParseRateLimitValue(*limit, &v, &rl.window_seconds)) {
    rl.limit = v;
  }
  if (auto rem = headers.Get("ratelimit-remaining");
      rem.has_value() && ParseRateLimitValue(*rem, &v, &rl.window_seconds)) {
    rl.remaining = v;
  }
  if (!rl.limit.has_value() && !rl.remaining.has_value()) return std::nullopt;
  return rl;
}

std::optional<absl::Duration> ParseRetryAfter(absl::string_view value, absl::Time now) {
  value = absl::StripAsciiWhitespace(value);
  int64_t seconds = 0;
  if (absl::SimpleAtoi(value, &seconds)) {
    if (seconds < 0) return std::nullopt;
    return absl::Seconds(seconds);
  }
  absl::Time when;
  std::string err;
  if (!absl::ParseTime("%a, %d %b %Y %H:%M:%S GMT", value, absl::UTCTimeZone(), &when, &err)) {
    return std::nullopt;
  }
  return std::max(absl::ZeroDuration(), when - now);
}

RetryPolicy::RetryPolicy(const RetryOptions& options, Clock& clock,
                         std::function<double()> uniform01)
    : options_(options), clock_(clock), uniform01_(std::move(uniform01)) {}

double RetryPolicy::Uniform() {
  if (uniform01_) return uniform01_();
  absl::MutexLock lock(&mu_);
  return absl::Uniform(gen_, 0.0, 1.0);
}

RetryDecision RetryPolicy::Decide(int attempts_made, const absl::StatusOr<HttpResponse>& result) {
  RetryDecision d;
  std::optional<absl::Duration> retry_after;
  if (!result.ok()) {
    auto reason = TransportErrorReason(result.status());
    if (result.status().code() != absl::StatusCode::kUnavailable || !reason.has_value()) return d;
    d.reason = *reason;
  } else {
    const int s = result->status;
    if (s == 408) d.reason = "408";
    else if (s == 429) d.reason = "429";
    else if (s == 500 || s == 502 || s == 503 || s == 504) d.reason = "5xx";
    else return d;
    if (auto ra = result->headers.Get("Retry-After"); ra.has_value()) {
      retry_after = ParseRetryAfter(*ra, clock_.Now());
    }
  }
  if (attempts_made >= options_.max_attempts) {
    d.reason.clear();
    return d;
  }
  absl::Duration backoff = options_.initial_backoff *
                           std::pow(options_.multiplier, std::max(0, attempts_made - 1));
  backoff = std::min(backoff, options_.max_backoff);
  backoff = backoff * (1.0 - options_.jitter * Uniform());
  if (retry_after.has_value()) {
    backoff = std::max(backoff, std::min(*retry_after, options_.max_retry_after));
  }
  d.retry = true;
  d.delay = backoff;
  return d;
}

absl::StatusOr<HttpResponse> RetryPolicy::Run(
    const std::function<absl::StatusOr<HttpResponse>()>& attempt, absl::Time deadline,
    RetryStats* stats) {
  RetryStats local;
  RetryStats& st = stats != nullptr ? *stats : local;
  for (;;) {
    if (clock_.Now() >= deadline) {
      return absl::DeadlineExceededError(
          absl::StrCat("deadline passed before attempt ", st.attempts + 1));
    }
    absl::StatusOr<HttpResponse> result = attempt();
    ++st.attempts;
    RetryDecision d = Decide(st.attempts, result);
    if (!d.retry) return result;
    if (clock_.Now() + d.delay >= deadline) {
      return absl::DeadlineExceededError(absl::StrCat(
          "deadline reached after ", st.attempts, " attempt(s); last: ", OutcomeText(result)));
    }
    st.reasons.push_back(d.reason);
    clock_.SleepFor(d.delay);
  }
}

}  // namespace slipway::registry
