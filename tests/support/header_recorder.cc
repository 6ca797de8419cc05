#include "tests/support/header_recorder.h"

#include "absl/strings/match.h"

namespace slipway::testing {

absl::StatusOr<std::unique_ptr<HeaderRecorder>> HeaderRecorder::Start(int status) {
  std::unique_ptr<HeaderRecorder> recorder(new HeaderRecorder());
  recorder->SetResponse(status);
  auto server = TestHttpServer::Start(
      [r = recorder.get()](const HttpRequest& request) { return r->Handle(request); });
  if (!server.ok()) return server.status();
  recorder->server_ = std::move(*server);
  return recorder;
}

void HeaderRecorder::SetResponse(int status, http::Headers headers, std::string body) {
  absl::MutexLock lock(&mu_);
  response_ = HttpResponse{status, std::move(headers), std::move(body)};
}

HttpResponse HeaderRecorder::Handle(const HttpRequest& request) {
  absl::MutexLock lock(&mu_);
  seen_.push_back(Seen{request.head.method, request.head.target, request.head.headers});
  return response_;
}

std::vector<HeaderRecorder::Seen> HeaderRecorder::Requests() const {
  absl::MutexLock lock(&mu_);
  return seen_;
}

size_t HeaderRecorder::RequestCount() const {
  absl::MutexLock lock(&mu_);
  return seen_.size();
}

bool HeaderRecorder::SawHeader(absl::string_view name) const {
  absl::MutexLock lock(&mu_);
  for (const Seen& s : seen_) {
    if (http::FindHeader(s.headers, name).has_value()) return true;
  }
  return false;
}

bool HeaderRecorder::SawText(absl::string_view needle) const {
  absl::MutexLock lock(&mu_);
  for (const Seen& s : seen_) {
    if (absl::StrContains(s.target, needle)) return true;
    for (const auto& [n, v] : s.headers) {
      if (absl::StrContains(n, needle) || absl::StrContains(v, needle)) return true;
    }
  }
  return false;
}

}  // namespace slipway::testing
