#ifndef SLIPWAY_TESTS_SUPPORT_HEADER_RECORDER_H_
#define SLIPWAY_TESTS_SUPPORT_HEADER_RECORDER_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "tests/support/http_wire.h"
#include "tests/support/test_http_server.h"

namespace slipway::testing {

// A listener that must never receive credentials: a "token realm on another host" or a
// "redirect target". It records the method, target and headers of every request and answers a
// configurable status, headers and body. Thread-safe.
class HeaderRecorder {
 public:
  struct Seen {
    std::string method;
    std::string target;
    http::Headers headers;
  };

  static absl::StatusOr<std::unique_ptr<HeaderRecorder>> Start(int status = 404);

  int port() const { return server_->port(); }
  std::string url() const { return server_->url(); }

  // What later requests get.
  void SetResponse(int status, http::Headers headers = {}, std::string body = "");

  std::vector<Seen> Requests() const;
  size_t RequestCount() const;
  // Whether any recorded request carried header `name` (case-insensitive), e.g.
  // "Authorization" or "Cookie".
  bool SawHeader(absl::string_view name) const;
  // Whether `needle` appears in any recorded target, header name or header value (a canary
  // password, a token).
  bool SawText(absl::string_view needle) const;

 private:
  HeaderRecorder() = default;
  HttpResponse Handle(const HttpRequest& request);

  mutable absl::Mutex mu_;
  std::vector<Seen> seen_ ABSL_GUARDED_BY(mu_);
  HttpResponse response_ ABSL_GUARDED_BY(mu_);
  std::unique_ptr<TestHttpServer> server_;
};

}  // namespace slipway::testing

#endif  // SLIPWAY_TESTS_SUPPORT_HEADER_RECORDER_H_
