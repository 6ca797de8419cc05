#ifndef SLIPWAY_TESTS_SUPPORT_TEST_HTTP_SERVER_H_
#define SLIPWAY_TESTS_SUPPORT_TEST_HTTP_SERVER_H_

#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "tests/support/http_wire.h"
#include "tests/support/loopback_server.h"

namespace slipway::testing {

// One request as a TestHttpServer handler sees it (body fully read, de-chunked).
struct HttpRequest {
  http::RequestHead head;
  std::string body;
  std::string path() const { return http::TargetPath(head.target); }
};

// What a handler answers. The server adds Content-Length (kLength) or Transfer-Encoding
// (kChunked); kUntilClose sends the body without length and closes the connection.
struct HttpResponse {
  int status = 200;
  http::Headers headers;
  std::string body;
  enum Framing { kLength, kChunked, kUntilClose } framing = kLength;
  bool close = false;  // "Connection: close" and close after this response
};

// A tiny keep-alive HTTP/1.1 server on 127.0.0.1:<ephemeral> that calls `handler` for every
// request (from its connection threads: the handler must be thread-safe). Answers
// "Expect: 100-continue" before reading a body; bodies over 64 MiB get 413 and a close.
// Stops in the destructor. Thread-safe.
class TestHttpServer {
 public:
  using Handler = std::function<HttpResponse(const HttpRequest&)>;

  static absl::StatusOr<std::unique_ptr<TestHttpServer>> Start(Handler handler);

  int port() const { return server_->port(); }
  // "http://127.0.0.1:<port>"
  std::string url() const { return "http://" + server_->HostPort(); }
  void Stop() { server_->Stop(); }

 private:
  explicit TestHttpServer(std::unique_ptr<LoopbackServer> server) : server_(std::move(server)) {}
  std::unique_ptr<LoopbackServer> server_;
};

// Writes `response` to `conn` (framing per response.framing; no body for HEAD).
absl::Status WriteHttpResponse(http::Conn& conn, const HttpResponse& response,
                               bool head_request = false);

}  // namespace slipway::testing

#endif  // SLIPWAY_TESTS_SUPPORT_TEST_HTTP_SERVER_H_
