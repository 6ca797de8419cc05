#ifndef SLIPWAY_TESTS_SUPPORT_FAULT_PROXY_H_
#define SLIPWAY_TESTS_SUPPORT_FAULT_PROXY_H_

// A scriptable HTTP/1.1 reverse proxy for tests, between a client and an upstream on
// 127.0.0.1 (plain HTTP). It forwards requests (Content-Length or chunked bodies, streamed)
// and relays responses (Content-Length, chunked or close-delimited), keeping client
// connections alive, and applies scripted faults: canned answers (429 + Retry-After, 503
// bursts), a TCP reset in the middle of an upload, delays, stalled and truncated responses.
//
// Requests keep their Host header, so an upstream registry builds Location URLs that point
// back at the proxy and a whole push flows through it. "Expect: 100-continue" is answered by
// the proxy itself and not forwarded.
//
// Rules form an ordered list. Each rule counts the requests that match its method and path
// (whether or not another rule fired on them); a request gets the action of the first rule
// whose count window [skip+1, skip+times] contains that rule's current count.

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "tests/support/http_wire.h"
#include "tests/support/loopback_server.h"

namespace slipway::testing {

enum class FaultAction {
  kForward,           // pass through untouched (useful to "reserve" a match)
  kRespond,           // answer status/headers/body without forwarding (body read and dropped)
  kResetMidUpload,    // forward the head and `bytes` of the request payload, then RST both sides
  kDelay,             // wait `duration`, then forward normally
  kStallResponse,     // relay the response head and `bytes` of its payload, wait `duration`,
                      // then relay the rest
  kTruncateResponse,  // relay the response head and `bytes` of its payload, then close
  kResetBeforeResponse,  // forward the whole request, wait for the upstream's response head
                         // (the request took effect), then RST the client without answering
};

// One scripted fault. Built fluently:
//   FaultRule().Method("PUT").PathContains("/blobs/uploads/").Nth(2).Respond(503)
//   FaultRule().PathRegex("/blobs/sha256:.*").First(3).Respond(429, {{"Retry-After", "1"}})
//   FaultRule().Method("PATCH").ResetAfter(64 * 1024)
struct FaultRule {
  // ---- match ----
  std::string method;          // empty: any
  std::string path_contains;   // substring of the target (path + query); empty: any
  std::string path_regex;      // ECMAScript regex searched in the target; empty: any
  int64_t skip = 0;            // matching requests let through before the window
  int64_t times = -1;          // size of the window; -1: every later match
  // ---- action ----
  FaultAction action = FaultAction::kForward;
  int status = 503;
  http::Headers headers;
  std::string body;
  uint64_t bytes = 0;
  absl::Duration duration = absl::ZeroDuration();  // capped at 60 s

  FaultRule& Method(std::string m) { method = std::move(m); return *this; }
  FaultRule& PathContains(std::string s) { path_contains = std::move(s); return *this; }
  FaultRule& PathRegex(std::string r) { path_regex = std::move(r); return *this; }
  // Only the n-th matching request (1-based).
  FaultRule& Nth(int64_t n) { skip = n - 1; times = 1; return *this; }
  // The first n matching requests.
  FaultRule& First(int64_t n) { skip = 0; times = n; return *this; }
  FaultRule& Always() { skip = 0; times = -1; return *this; }

  FaultRule& Respond(int s, http::Headers h = {}, std::string b = "") {
    action = FaultAction::kRespond; status = s; headers = std::move(h); body = std::move(b);
    return *this;
  }
  FaultRule& ResetAfter(uint64_t request_payload_bytes) {
    action = FaultAction::kResetMidUpload; bytes = request_payload_bytes; return *this;
  }
  FaultRule& ResetBeforeResponse() { action = FaultAction::kResetBeforeResponse; return *this; }
  FaultRule& Delay(absl::Duration d) { action = FaultAction::kDelay; duration = d; return *this; }
  FaultRule& StallAfter(uint64_t response_payload_bytes, absl::Duration d) {
    action = FaultAction::kStallResponse; bytes = response_payload_bytes; duration = d;
    return *this;
  }
  FaultRule& TruncateAfter(uint64_t response_payload_bytes) {
    action = FaultAction::kTruncateResponse; bytes = response_payload_bytes; return *this;
  }
  FaultRule& Forward() { action = FaultAction::kForward; return *this; }
};

// A request the proxy saw, recorded as soon as its head was read.
struct ProxiedRequest {
  int64_t seq = 0;            // 0, 1, 2, ... in arrival order
  int64_t connection = 0;     // client connection number (reuse shows as equal numbers)
  std::string method;
  std::string target;         // path + query
  http::Headers headers;      // as the client sent them
  uint64_t body_bytes = 0;    // request payload bytes read from the client
  int rule = -1;              // index of the rule that fired, -1 when none
  FaultAction action = FaultAction::kForward;
  int status = 0;             // status sent to the client; 0 when none (reset, error)
  std::string path() const { return http::TargetPath(target); }
};

class FaultProxy {
 public:
  // Proxies to 127.0.0.1:upstream_port. The upstream need not be up yet (a request while it
  // is down gets 502).
  static absl::StatusOr<std::unique_ptr<FaultProxy>> Start(int upstream_port);
  ~FaultProxy();

  int port() const { return server_->port(); }
  // "127.0.0.1:<port>", e.g. for an image reference.
  std::string HostPort() const { return server_->HostPort(); }
  std::string url() const { return "http://" + server_->HostPort(); }

  // Rule updates apply to requests whose head arrives afterwards. Thread-safe.
  // Appends a rule; returns its index. InvalidArgument for a bad regex.
  absl::StatusOr<int> AddRule(FaultRule rule);
  // Replaces all rules (and their counters).
  absl::Status SetRules(std::vector<FaultRule> rules);
  void ClearRules();

  // How many times rule `index` fired (its action was applied).
  int64_t TimesFired(int index) const;
  // Total fault actions applied (every action but kForward).
  int64_t FaultsApplied() const;
  std::vector<ProxiedRequest> Requests() const;
  // Requests whose method matches (empty: any) and whose target contains `path_contains`.
  std::vector<ProxiedRequest> RequestsMatching(absl::string_view method,
                                               absl::string_view path_contains) const;
  void ClearRequests();
  int64_t ClientConnections() const { return server_->connections(); }

 private:
  struct CompiledRule;
  class Session;

  FaultProxy(int upstream_port);
  // Picks the action for a request and records it; returns the rule (a copy) and its index.
  int Choose(const http::RequestHead& head, int64_t connection, FaultRule* rule, int64_t* seq);
  void Finish(int64_t seq, uint64_t body_bytes, int status);

  const int upstream_port_;
  mutable absl::Mutex mu_;
  std::vector<std::unique_ptr<CompiledRule>> rules_ ABSL_GUARDED_BY(mu_);
  std::vector<ProxiedRequest> requests_ ABSL_GUARDED_BY(mu_);
  int64_t next_seq_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t faults_applied_ ABSL_GUARDED_BY(mu_) = 0;
  std::atomic<int64_t> next_connection_{0};
  std::unique_ptr<LoopbackServer> server_;  // last member: stopped first
};

}  // namespace slipway::testing

#endif  // SLIPWAY_TESTS_SUPPORT_FAULT_PROXY_H_
