#include "tests/support/fault_proxy.h"

#include <limits>
#include <regex>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "tests/support/test_http_server.h"

namespace slipway::testing {

struct FaultProxy::CompiledRule {
  FaultRule rule;
  std::regex re;
  bool has_re = false;
  int64_t matched = 0;
  int64_t fired = 0;

  bool Matches(const http::RequestHead& head) const {
    if (!rule.method.empty() && rule.method != head.method) return false;
    if (!rule.path_contains.empty() && !absl::StrContains(head.target, rule.path_contains)) {
      return false;
    }
    return !has_re || std::regex_search(head.target, re);
  }
  bool InWindow() const {
    return matched > rule.skip && (rule.times < 0 || matched <= rule.skip + rule.times);
  }
};

// One client connection: reads requests, applies the chosen action, keeps one upstream
// connection for reuse.
class FaultProxy::Session {
 public:
  Session(FaultProxy* proxy, http::Conn& client, const std::atomic<bool>& stop, int64_t id)
      : proxy_(proxy), client_(client), stop_(stop), id_(id) {}

  void Run() {
    while (!client_.closed() && !stop_.load()) {
      auto head = http::ReadRequestHead(client_);
      if (!head.ok()) return;
      if (!HandleOne(std::move(*head))) return;
    }
  }

 private:
  // False when the client connection has to end.
  bool HandleOne(http::RequestHead head) {
    auto framing = http::RequestFraming(head);
    if (!framing.ok()) {
      (void)WriteHttpResponse(
          client_,
          HttpResponse{
              400, {}, std::string(framing.status().message()), HttpResponse::kLength, true});
      return false;
    }
    auto connection = http::FindHeader(head.headers, "Connection");
    bool client_close = connection && absl::EqualsIgnoreCase(*connection, "close");
    FaultRule rule;
    int64_t seq = 0;
    proxy_->Choose(head, id_, &rule, &seq);  // records the head as the client sent it
    auto expect = http::FindHeader(head.headers, "Expect");
    http::RemoveHeader(head.headers, "Expect");
    if (expect && absl::EqualsIgnoreCase(*expect, "100-continue") &&
        !client_.WriteAll("HTTP/1.1 100 Continue\r\n\r\n").ok()) {
      return false;
    }
    uint64_t body_bytes = 0;
    int status = 0;
    bool keep = false;
    switch (rule.action) {
      case FaultAction::kRespond: {
        absl::Status st = http::ReadBody(client_, *framing, [&](absl::string_view w, bool p) {
          if (p) body_bytes += w.size();
          return true;
        });
        if (st.ok()) {
          keep = WriteHttpResponse(client_, HttpResponse{rule.status, rule.headers, rule.body},
                                   head.method == "HEAD")
                     .ok();
          if (keep) status = rule.status;
        }
        break;
      }
      case FaultAction::kDelay:
        if (!LoopbackServer::SleepUnlessStopped(rule.duration, stop_)) break;
        keep = Forward(head, *framing, rule, &body_bytes, &status);
        break;
      default:
        keep = Forward(head, *framing, rule, &body_bytes, &status);
        break;
    }
    proxy_->Finish(seq, body_bytes, status);
    return keep && !client_close;
  }

  absl::Status Connect() {
    auto conn = http::Conn::ConnectLoopback(proxy_->upstream_port_, &stop_);
    if (!conn.ok()) return conn.status();
    upstream_ = std::move(*conn);
    return absl::OkStatus();
  }

  // Answers 502 after draining the request body; false when the connection must end.
  bool BadGateway(const http::BodyFraming& framing, absl::string_view why, int* status) {
    absl::Status st =
        http::ReadBody(client_, framing, [](absl::string_view, bool) { return true; });
    if (!st.ok()) return false;
    if (!WriteHttpResponse(client_, HttpResponse{502, {}, std::string(why)}).ok()) return false;
    *status = 502;
    return true;
  }

  bool Forward(const http::RequestHead& head, const http::BodyFraming& framing,
               const FaultRule& rule, uint64_t* body_bytes, int* status) {
    const std::string head_bytes = http::SerializeRequestHead(head);
    bool reused = upstream_ != nullptr;
    absl::Status st = reused ? absl::OkStatus() : Connect();
    if (st.ok()) st = upstream_->WriteAll(head_bytes);
    if (!st.ok() && reused) {  // a kept-alive upstream connection may have been closed
      st = Connect();
      if (st.ok()) st = upstream_->WriteAll(head_bytes);
    }
    if (!st.ok()) {
      upstream_.reset();
      return BadGateway(framing, absl::StrCat("upstream: ", st.message()), status);
    }

    const bool reset_mid = rule.action == FaultAction::kResetMidUpload;
    bool reset_now = false;
    absl::Status upstream_error;
    st = http::ReadBody(client_, framing, [&](absl::string_view wire, bool payload) {
      if (payload && reset_mid && *body_bytes + wire.size() >= rule.bytes) {
        wire = wire.substr(0, rule.bytes - *body_bytes);
        reset_now = true;
      }
      if (payload) *body_bytes += wire.size();
      upstream_error = upstream_->WriteAll(wire);
      return upstream_error.ok() && !reset_now;
    });
    if (reset_mid && (reset_now || st.ok())) {
      upstream_->Reset();
      upstream_.reset();
      client_.Reset();
      return false;
    }
    if (!st.ok()) {
      upstream_.reset();
      if (!upstream_error.ok()) {
        (void)WriteHttpResponse(
            client_, HttpResponse{502, {}, "upstream write failed", HttpResponse::kLength, true});
        *status = 502;
      }
      return false;
    }
    if (rule.action == FaultAction::kResetBeforeResponse) {
      // Wait for the upstream's answer so the request surely took effect there; the client
      // never learns of it.
      for (int i = 0; i < 8; ++i) {
        auto resp = http::ReadResponseHead(*upstream_);
        if (!resp.ok() || resp->status >= 200) break;
      }
      upstream_->Reset();
      upstream_.reset();
      client_.Reset();
      return false;
    }
    return Relay(head, rule, status);
  }

  bool Relay(const http::RequestHead& request, const FaultRule& rule, int* status) {
    absl::StatusOr<http::ResponseHead> resp;
    for (int i = 0; i < 8; ++i) {  // skip interim 1xx answers; the proxy sent its own 100
      resp = http::ReadResponseHead(*upstream_);
      if (!resp.ok() || resp->status >= 200) break;
    }
    absl::StatusOr<http::BodyFraming> framing =
        resp.ok() ? http::ResponseFraming(request.method, *resp) : resp.status();
    if (!framing.ok()) {
      upstream_.reset();
      (void)WriteHttpResponse(
          client_, HttpResponse{502, {}, "bad upstream response", HttpResponse::kLength, true});
      *status = 502;
      return false;
    }
    const bool stall = rule.action == FaultAction::kStallResponse;
    const bool truncate = rule.action == FaultAction::kTruncateResponse;
    bool stalled = false;
    if (stall && rule.bytes == 0) {
      stalled = true;
      if (!LoopbackServer::SleepUnlessStopped(rule.duration, stop_)) return false;
    }
    if (!client_.WriteAll(http::SerializeResponseHead(*resp)).ok()) return false;
    *status = resp->status;
    if (truncate && rule.bytes == 0 && framing->kind != http::BodyFraming::kNone) {
      upstream_.reset();
      client_.Close();
      return false;
    }
    uint64_t sent = 0;
    bool truncated = false;
    absl::Status client_error;
    absl::Status st = http::ReadBody(*upstream_, *framing, [&](absl::string_view wire, bool p) {
      if (p && (truncate || (stall && !stalled)) && sent + wire.size() >= rule.bytes) {
        absl::string_view first = wire.substr(0, rule.bytes - sent);
        client_error = client_.WriteAll(first);
        if (!client_error.ok()) return false;
        sent += first.size();
        wire.remove_prefix(first.size());
        if (truncate) {
          truncated = true;
          return false;
        }
        stalled = true;
        if (!LoopbackServer::SleepUnlessStopped(rule.duration, stop_)) {
          client_error = absl::CancelledError("stopping");
          return false;
        }
      }
      if (p) sent += wire.size();
      client_error = client_.WriteAll(wire);
      return client_error.ok();
    });
    if (truncated || !st.ok() || framing->kind == http::BodyFraming::kUntilClose) {
      upstream_.reset();
      client_.Close();
      return false;
    }
    auto connection = http::FindHeader(resp->headers, "Connection");
    if (connection && absl::EqualsIgnoreCase(*connection, "close")) upstream_.reset();
    return true;
  }

  FaultProxy* const proxy_;
  http::Conn& client_;
  const std::atomic<bool>& stop_;
  const int64_t id_;
  std::unique_ptr<http::Conn> upstream_;
};

FaultProxy::FaultProxy(int upstream_port) : upstream_port_(upstream_port) {}

FaultProxy::~FaultProxy() {
  if (server_) server_->Stop();
}

absl::StatusOr<std::unique_ptr<FaultProxy>> FaultProxy::Start(int upstream_port) {
  std::unique_ptr<FaultProxy> proxy(new FaultProxy(upstream_port));
  auto server =
      LoopbackServer::Start([p = proxy.get()](http::Conn& conn, const std::atomic<bool>& stop) {
        Session(p, conn, stop, p->next_connection_.fetch_add(1)).Run();
      });
  if (!server.ok()) return server.status();
  proxy->server_ = std::move(*server);
  return proxy;
}

absl::StatusOr<int> FaultProxy::AddRule(FaultRule rule) {
  auto compiled = std::make_unique<CompiledRule>();
  if (!rule.path_regex.empty()) {
    try {
      compiled->re = std::regex(rule.path_regex, std::regex::ECMAScript);
    } catch (const std::regex_error& e) {
      return absl::InvalidArgumentError(
          absl::StrCat("fault rule path_regex '", rule.path_regex, "': ", e.what()));
    }
    compiled->has_re = true;
  }
  compiled->rule = std::move(rule);
  absl::MutexLock lock(&mu_);
  rules_.push_back(std::move(compiled));
  return static_cast<int>(rules_.size() - 1);
}

absl::Status FaultProxy::SetRules(std::vector<FaultRule> rules) {
  ClearRules();
  for (FaultRule& r : rules) {
    auto added = AddRule(std::move(r));
    if (!added.ok()) return added.status();
  }
  return absl::OkStatus();
}

void FaultProxy::ClearRules() {
  absl::MutexLock lock(&mu_);
  rules_.clear();
}

int64_t FaultProxy::TimesFired(int index) const {
  absl::MutexLock lock(&mu_);
  if (index < 0 || index >= static_cast<int>(rules_.size())) return 0;
  return rules_[index]->fired;
}

int64_t FaultProxy::FaultsApplied() const {
  absl::MutexLock lock(&mu_);
  return faults_applied_;
}

std::vector<ProxiedRequest> FaultProxy::Requests() const {
  absl::MutexLock lock(&mu_);
  return requests_;
}

std::vector<ProxiedRequest> FaultProxy::RequestsMatching(absl::string_view method,
                                                         absl::string_view path_contains) const {
  std::vector<ProxiedRequest> out;
  for (ProxiedRequest& r : Requests()) {
    if ((method.empty() || r.method == method) && absl::StrContains(r.target, path_contains)) {
      out.push_back(std::move(r));
    }
  }
  return out;
}

void FaultProxy::ClearRequests() {
  absl::MutexLock lock(&mu_);
  requests_.clear();
}

int FaultProxy::Choose(const http::RequestHead& head, int64_t connection, FaultRule* rule,
                       int64_t* seq) {
  absl::MutexLock lock(&mu_);
  int chosen = -1;
  for (size_t i = 0; i < rules_.size(); ++i) {
    CompiledRule& r = *rules_[i];
    if (!r.Matches(head)) continue;
    ++r.matched;
    if (chosen < 0 && r.InWindow()) chosen = static_cast<int>(i);
  }
  *rule = FaultRule();
  if (chosen >= 0) {
    ++rules_[chosen]->fired;
    *rule = rules_[chosen]->rule;
    if (rule->action != FaultAction::kForward) ++faults_applied_;
  }
  *seq = next_seq_++;
  ProxiedRequest rec;
  rec.seq = *seq;
  rec.connection = connection;
  rec.method = head.method;
  rec.target = head.target;
  rec.headers = head.headers;
  rec.rule = chosen;
  rec.action = rule->action;
  requests_.push_back(std::move(rec));
  return chosen;
}

void FaultProxy::Finish(int64_t seq, uint64_t body_bytes, int status) {
  absl::MutexLock lock(&mu_);
  for (auto it = requests_.rbegin(); it != requests_.rend(); ++it) {
    if (it->seq == seq) {
      it->body_bytes = body_bytes;
      it->status = status;
      return;
    }
  }
}

}  // namespace slipway::testing
