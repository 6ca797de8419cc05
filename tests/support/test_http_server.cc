#include "tests/support/test_http_server.h"

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace slipway::testing {
namespace {

constexpr size_t kMaxBody = 64u << 20;

void ServeConnection(const TestHttpServer::Handler& handler, http::Conn& conn) {
  while (!conn.closed()) {
    auto head = http::ReadRequestHead(conn);
    if (!head.ok()) return;
    auto framing = http::RequestFraming(*head);
    if (!framing.ok()) {
      (void)WriteHttpResponse(conn, HttpResponse{400, {}, std::string(framing.status().message()),
                                                 HttpResponse::kLength, true});
      return;
    }
    auto expect = http::FindHeader(head->headers, "Expect");
    if (expect && absl::EqualsIgnoreCase(*expect, "100-continue")) {
      if (!conn.WriteAll("HTTP/1.1 100 Continue\r\n\r\n").ok()) return;
    }
    HttpRequest request{std::move(*head), {}};
    absl::Status st = http::ReadWholeBody(conn, *framing, &request.body, kMaxBody);
    if (absl::IsResourceExhausted(st)) {
      (void)WriteHttpResponse(conn, HttpResponse{413, {}, "", HttpResponse::kLength, true});
      return;
    }
    if (!st.ok()) return;
    HttpResponse response = handler(request);
    auto conn_hdr = http::FindHeader(request.head.headers, "Connection");
    if (conn_hdr && absl::EqualsIgnoreCase(*conn_hdr, "close")) response.close = true;
    if (!WriteHttpResponse(conn, response, request.head.method == "HEAD").ok()) return;
    if (response.close || response.framing == HttpResponse::kUntilClose) return;
  }
}

}  // namespace

absl::Status WriteHttpResponse(http::Conn& conn, const HttpResponse& response,
                               bool head_request) {
  http::ResponseHead head;
  head.status = response.status;
  head.headers = response.headers;
  switch (response.framing) {
    case HttpResponse::kLength:
      http::RemoveHeader(head.headers, "Content-Length");
      head.headers.emplace_back("Content-Length", absl::StrCat(response.body.size()));
      break;
    case HttpResponse::kChunked:
      head.headers.emplace_back("Transfer-Encoding", "chunked");
      break;
    case HttpResponse::kUntilClose:
      head.headers.emplace_back("Connection", "close");
      break;
  }
  if (response.close && response.framing != HttpResponse::kUntilClose) {
    head.headers.emplace_back("Connection", "close");
  }
  std::string out = http::SerializeResponseHead(head);
  if (!head_request && response.status >= 200 && response.status != 204 &&
      response.status != 304) {
    if (response.framing == HttpResponse::kChunked) {
      // Two chunks when possible, so a reader really has to join pieces.
      size_t half = response.body.size() / 2;
      for (absl::string_view piece : {absl::string_view(response.body).substr(0, half),
                                      absl::string_view(response.body).substr(half)}) {
        if (!piece.empty()) absl::StrAppend(&out, absl::Hex(piece.size()), "\r\n", piece, "\r\n");
      }
      out += "0\r\n\r\n";
    } else {
      out += response.body;
    }
  }
  absl::Status st = conn.WriteAll(out);
  if (response.framing == HttpResponse::kUntilClose) conn.Close();
  return st;
}

absl::StatusOr<std::unique_ptr<TestHttpServer>> TestHttpServer::Start(Handler handler) {
  auto server = LoopbackServer::Start(
      [handler = std::move(handler)](http::Conn& conn, const std::atomic<bool>&) {
        ServeConnection(handler, conn);
      });
  if (!server.ok()) return server.status();
  return std::unique_ptr<TestHttpServer>(new TestHttpServer(std::move(*server)));
}

}  // namespace slipway::testing
