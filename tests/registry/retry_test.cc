#include "server/registry/retry.h"

#include <deque>

#include "gtest/gtest.h"

namespace slipway::registry {
namespace {

class FakeClock : public Clock {
 public:
  absl::Time Now() override { return now_; }
  void SleepFor(absl::Duration d) override {
    sleeps_.push_back(d);
    now_ += d;
  }
  absl::Time now_ = absl::FromUnixSeconds(1700000000);
  std::vector<absl::Duration> sleeps_;
};

HttpResponse Status(int code) {
  HttpResponse r;
  r.status = code;
  return r;
}

// Replays scripted outcomes and counts the calls.
struct Script {
  std::deque<absl::StatusOr<HttpResponse>> outcomes;
  int calls = 0;
  absl::StatusOr<HttpResponse> operator()() {
    ++calls;
    auto r = outcomes.front();
    if (outcomes.size() > 1) outcomes.pop_front();
    return r;
  }
};

absl::Status Reset() { return MakeTransportError("reset", "connection reset"); }

TEST(RetryTest, RetriesRetryableStatusesWithExponentialBackoff) {
  FakeClock clock;
  RetryOptions o;
  o.jitter = 0;  // deterministic
  RetryPolicy policy(o, clock);
  Script s;
  s.outcomes = {Status(503), Status(502), Status(500), Status(504), Status(408), Status(201)};
  RetryStats stats;
  auto r = policy.Run(std::ref(s), clock.now_ + absl::Hours(1), &stats);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, 201);
  EXPECT_EQ(stats.attempts, 6);
  ASSERT_EQ(clock.sleeps_.size(), 5u);
  EXPECT_EQ(clock.sleeps_[0], absl::Milliseconds(250));
  EXPECT_EQ(clock.sleeps_[1], absl::Milliseconds(500));
  EXPECT_EQ(clock.sleeps_[4], absl::Seconds(4));
  EXPECT_EQ(stats.reasons, (std::vector<std::string>{"5xx", "5xx", "5xx", "5xx", "408"}));
}

TEST(RetryTest, JitterShortensWithinBounds) {
  FakeClock clock;
  RetryPolicy policy({}, clock, [] { return 0.999; });
  auto d = policy.Decide(1, Status(503));
  ASSERT_TRUE(d.retry);
  EXPECT_GE(d.delay, absl::Milliseconds(125));
  EXPECT_LT(d.delay, absl::Milliseconds(126));
}

TEST(RetryTest, NoRetryForClientErrors) {
  FakeClock clock;
  RetryPolicy policy({}, clock);
  for (int code : {400, 401, 403, 404, 405, 416}) {
    Script s;
    s.outcomes = {Status(code)};
    auto r = policy.Run(std::ref(s), clock.now_ + absl::Hours(1));
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r->status, code);
    EXPECT_EQ(s.calls, 1) << code;
  }
  EXPECT_TRUE(clock.sleeps_.empty());
  // Errors that are not transport failures are not retried either.
  Script s;
  s.outcomes = {absl::FailedPreconditionError("TLS verification failed")};
  EXPECT_FALSE(policy.Run(std::ref(s), clock.now_ + absl::Hours(1)).ok());
  EXPECT_EQ(s.calls, 1);
}

TEST(RetryTest, ConnectionResetIsRetried) {
  FakeClock clock;
  RetryPolicy policy({}, clock, [] { return 0.0; });
  Script s;
  s.outcomes = {Reset(), Status(200)};
  RetryStats stats;
  auto r = policy.Run(std::ref(s), clock.now_ + absl::Hours(1), &stats);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(stats.reasons, std::vector<std::string>{"reset"});
}

TEST(RetryTest, RetryAfterSecondsAndDateAndCap) {
  FakeClock clock;
  RetryPolicy policy({}, clock, [] { return 0.0; });
  HttpResponse r429 = Status(429);
  r429.headers.Add("Retry-After", "7");
  EXPECT_EQ(policy.Decide(1, r429).delay, absl::Seconds(7));

  HttpResponse dated = Status(503);
  // now_ is 2023-11-14T22:13:20Z; 42 s later.
  dated.headers.Add("Retry-After", "Tue, 14 Nov 2023 22:14:02 GMT");
  EXPECT_EQ(policy.Decide(1, dated).delay, absl::Seconds(42));

  HttpResponse huge = Status(429);
  huge.headers.Add("Retry-After", "86400");
  EXPECT_EQ(policy.Decide(1, huge).delay, absl::Seconds(60));

  EXPECT_EQ(ParseRetryAfter("Mon, 13 Nov 2023 00:00:00 GMT", clock.now_), absl::ZeroDuration());
  EXPECT_FALSE(ParseRetryAfter("soon", clock.now_).has_value());
  EXPECT_FALSE(ParseRetryAfter("-3", clock.now_).has_value());
}

TEST(RetryTest, DeadlineStopsRetries) {
  FakeClock clock;
  RetryPolicy policy({}, clock, [] { return 0.0; });
  Script s;
  HttpResponse r = Status(429);
  r.headers.Add("Retry-After", "10");
  s.outcomes = {r};
  auto out = policy.Run(std::ref(s), clock.now_ + absl::Seconds(25));
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.status().code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_EQ(s.calls, 3);  // at t=0, 10, 20; the next would start at 30 > 25
  EXPECT_NE(out.status().message().find("HTTP 429"), std::string::npos);
}

TEST(RetryTest, MaxAttemptsReturnsLastOutcome) {
  FakeClock clock;
  RetryOptions o;
  o.max_attempts = 3;
  RetryPolicy policy(o, clock);
  Script s;
  s.outcomes = {Status(503)};
  auto out = policy.Run(std::ref(s), clock.now_ + absl::Hours(1));
  ASSERT_TRUE(out.ok());
  EXPECT_EQ(out->status, 503);
  EXPECT_EQ(s.calls, 3);
}

TEST(RetryTest, DockerHubRateLimitHeaders) {
  HeaderMap h;
  h.Add("RateLimit-Limit", "100;w=21600");
  h.Add("ratelimit-remaining", "76;w=21600");
  auto rl = ParseRateLimit(h);
  ASSERT_TRUE(rl.has_value());
  EXPECT_EQ(rl->limit, 100);
  EXPECT_EQ(rl->remaining, 76);
  EXPECT_EQ(rl->window_seconds, 21600);
  EXPECT_FALSE(ParseRateLimit(HeaderMap()).has_value());
}

}  // namespace
}  // namespace slipway::registry
