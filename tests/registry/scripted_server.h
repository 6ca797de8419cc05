#ifndef SLIPWAY_TESTS_REGISTRY_SCRIPTED_SERVER_H_
#define SLIPWAY_TESTS_REGISTRY_SCRIPTED_SERVER_H_

// A scripted HTTP endpoint for registry-client tests: tests/support's TestHttpServer plus a
// record of every request (headers included), so a test can prove what did or did not reach
// a listener (a realm on another host, a redirect target).

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "gtest/gtest.h"
#include "tests/support/test_http_server.h"

namespace slipway::registry {

struct RecordedRequest {
  std::string method;
  std::string target;
  std::string body;
  testing::http::Headers headers;

  std::string Header(const std::string& name) const {
    return testing::http::FindHeader(headers, name).value_or("");
  }
  // Every value of a query parameter, percent-decoded.
  std::vector<std::string> Query(const std::string& name) const {
    std::vector<std::string> out;
    size_t q = target.find('?');
    if (q == std::string::npos) return out;
    for (absl::string_view pair : absl::StrSplit(target.substr(q + 1), '&')) {
      size_t eq = pair.find('=');
      if (eq != absl::string_view::npos && Decode(pair.substr(0, eq)) == name) {
        out.push_back(Decode(pair.substr(eq + 1)));
      }
    }
    return out;
  }

 private:
  static std::string Decode(absl::string_view s) {
    std::string out;
    for (size_t i = 0; i < s.size(); ++i) {
      int v = 0;
      if (s[i] == '%' && i + 2 < s.size() && absl::SimpleHexAtoi(s.substr(i + 1, 2), &v)) {
        out.push_back(static_cast<char>(v));
        i += 2;
      } else {
        out.push_back(s[i] == '+' ? ' ' : s[i]);
      }
    }
    return out;
  }
};

using ScriptedResponse = testing::HttpResponse;

class ScriptedServer {
 public:
  using Handler = std::function<ScriptedResponse(const RecordedRequest&)>;
  // `handler` runs on the server's connection threads: it must be thread-safe.
  explicit ScriptedServer(Handler handler) : handler_(std::move(handler)) {
    auto server = testing::TestHttpServer::Start([this](const testing::HttpRequest& r) {
      RecordedRequest rec{r.head.method, r.head.target, r.body, r.head.headers};
      {
        absl::MutexLock lock(&mu_);
        requests_.push_back(rec);
      }
      return handler_(rec);
    });
    EXPECT_TRUE(server.ok()) << server.status();
    if (server.ok()) server_ = std::move(*server);
  }
  ~ScriptedServer() {
    if (server_ != nullptr) server_->Stop();
  }
  int port() const { return server_ != nullptr ? server_->port() : 0; }
  std::vector<RecordedRequest> requests() const {
    absl::MutexLock lock(&mu_);
    return requests_;
  }

 private:
  Handler handler_;
  mutable absl::Mutex mu_;
  std::vector<RecordedRequest> requests_ ABSL_GUARDED_BY(mu_);
  std::unique_ptr<testing::TestHttpServer> server_;  // last: stopped first
};

}  // namespace slipway::registry

#endif  // SLIPWAY_TESTS_REGISTRY_SCRIPTED_SERVER_H_
