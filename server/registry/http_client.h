#ifndef SLIPWAY_SERVER_REGISTRY_HTTP_CLIENT_H_
#define SLIPWAY_SERVER_REGISTRY_HTTP_CLIENT_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace slipway::registry {

// Caps on buffered response bodies. A manifest over 4 MiB is refused (RESOURCE_EXHAUSTED) before
// it is parsed; an error body is cut at 64 KiB (the rest is not read) and marked truncated.
inline constexpr int64_t kMaxErrorBodyBytes = 64 * 1024;
inline constexpr int64_t kMaxManifestBytes = 4 * 1024 * 1024;

// HTTP headers: names compare case-insensitively, a name may repeat, order is kept.
class HeaderMap {
 public:
  void Add(absl::string_view name, absl::string_view value);
  // Replaces every value of `name` with `value`.
  void Set(absl::string_view name, absl::string_view value);
  void Remove(absl::string_view name);
  bool Has(absl::string_view name) const;
  // The first value of `name`.
  std::optional<std::string> Get(absl::string_view name) const;
  std::vector<std::string> GetAll(absl::string_view name) const;
  const std::vector<std::pair<std::string, std::string>>& entries() const { return entries_; }
  void Clear() { entries_.clear(); }

 private:
  std::vector<std::pair<std::string, std::string>> entries_;
};

// Fills `buf` with up to `n` body bytes; returns 0 at the end. Called on the sending thread.
using BodyReader = std::function<absl::StatusOr<size_t>(char* buf, size_t n)>;
// Receives a 2xx response body in pieces; an error aborts the transfer and is returned by Send.
using BodySink = std::function<absl::Status(absl::string_view piece)>;

struct HttpRequest {
  std::string method = "GET";  // GET, HEAD, POST, PUT, PATCH, DELETE
  std::string url;
  HeaderMap headers;
  // The body: `body_reader` streams exactly `body_length` bytes when set, else `body` is sent.
  // Methods other than GET/HEAD/DELETE always send a Content-Length (0 for no body).
  std::string body;
  BodyReader body_reader;
  int64_t body_length = 0;
  // Whole-request limit, connect limit, and stall detection (under 1 byte/s for that long).
  absl::Duration timeout = absl::Minutes(30);
  absl::Duration connect_timeout = absl::Seconds(30);
  absl::Duration stall_timeout = absl::Seconds(60);
  // Buffered 2xx bodies larger than this fail with RESOURCE_EXHAUSTED.
  int64_t max_body_bytes = kMaxErrorBodyBytes;
  // When set, 2xx bodies go here instead of HttpResponse::body (no size cap).
  BodySink sink;
  // With a sink: called once with the status and headers of a 2xx response before its first
  // body byte reaches the sink (e.g. to check 206 vs 200); an error aborts the transfer.
  std::function<absl::Status(int status, const HeaderMap& headers)> on_body_start;
  // Refuse to connect to a link-local address (169.254.0.0/16, fe80::/10), checked on the
  // resolved address right before connect(): token realms must never reach cloud metadata.
  bool forbid_link_local = false;
};

struct HttpResponse {
  int status = 0;
  HeaderMap headers;
  std::string body;             // empty when the request had a sink and the status was 2xx
  bool body_truncated = false;  // a non-2xx body over kMaxErrorBodyBytes
  long http_version = 0;        // CURL_HTTP_VERSION_* actually used (2 = 1.1, 3 = 2)
};

struct TlsConfig {
  // Trust anchors: a PEM bundle in memory or a file; both empty → the system bundle.
  std::string ca_pem;
  std::string ca_file;
  // Client certificate and key (PEM), in memory or as files, for mTLS registries.
  std::string client_cert_pem;
  std::string client_key_pem;
  std::string client_cert_file;
  std::string client_key_file;
  // Explicit opt-in only: accept any server certificate.
  bool insecure_skip_verify = false;
};

struct HttpClientOptions {
  TlsConfig tls;
  // Explicit opt-in for plain http:// to non-loopback hosts. Loopback hosts (localhost,
  // 127.0.0.0/8, ::1) may always use plain HTTP, as Docker allows.
  bool allow_plain_http = false;
  bool enable_http2 = true;  // HTTP/2 over TLS when the server offers it, HTTP/1.1 otherwise
  std::string user_agent = "slipway/0.1";
  int max_idle_handles = 16;
};

// A thin libcurl client. Thread-safe: any number of threads may call Send at once. Each call
// borrows a CURL easy handle from a pool (a handle keeps its own keep-alive connections, so
// sequential requests reuse connections); DNS results and TLS sessions are shared between
// handles through a CURLSH. Connections themselves are not shared between handles, because
// libcurl does not support sharing its connection cache between concurrent threads.
// Redirects are never followed by libcurl (see SendFollowingRedirects).
// Never logs a header value or a URL query string.
class HttpClient {
 public:
  static absl::StatusOr<std::unique_ptr<HttpClient>> Create(const HttpClientOptions& options);
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // One request/response. Any HTTP status is a successful return. Errors:
  //   FAILED_PRECONDITION: plain http refused by policy; TLS verification or handshake failed;
  //     a link-local address refused (forbid_link_local).
  //   UNAVAILABLE: connection refused/reset, EOF before the response ended, a timeout or stall
  //     (TransportErrorReason() tells which); RESOURCE_EXHAUSTED: body over max_body_bytes;
  //   INVALID_ARGUMENT: a malformed URL; a sink's or body reader's own error is passed through.
  absl::StatusOr<HttpResponse> Send(const HttpRequest& request);

  // Send, then for GET and HEAD follows up to `max_redirects` 301/302/303/307/308 itself. The
  // Authorization header is dropped as soon as a redirect leaves the original host[:port] or
  // goes from https to http. Other methods return the 3xx unchanged.
  absl::StatusOr<HttpResponse> SendFollowingRedirects(HttpRequest request, int max_redirects = 5);

  const HttpClientOptions& options() const { return options_; }

 private:
  struct Shared;
  explicit HttpClient(const HttpClientOptions& options);
  HttpClientOptions options_;
  std::unique_ptr<Shared> shared_;
};

// For an UNAVAILABLE status from Send: "connect", "reset", "eof", "timeout" or "dns"; for a
// FAILED_PRECONDITION from a failed TLS handshake (not a verification failure): "tls_handshake".
std::optional<std::string> TransportErrorReason(const absl::Status& status);
// UNAVAILABLE carrying a transport reason (what Send returns for connection failures).
absl::Status MakeTransportError(absl::string_view reason, std::string message);

// "scheme://host[:port]/path" without user info, query or fragment: safe for logs and errors
// (signed blob URLs carry their credentials in the query).
std::string RedactUrl(absl::string_view url);
// Resolves `reference` (absolute, or relative like a Location header) against `base`.
absl::StatusOr<std::string> ResolveUrl(absl::string_view base, absl::string_view reference);
// Appends "name=value" (value URL-encoded) to the URL's query.
absl::StatusOr<std::string> AppendQueryParam(absl::string_view url, absl::string_view name,
                                             absl::string_view value);
struct UrlParts {
  std::string scheme;  // lower case
  std::string host;    // without brackets
  std::string port;    // empty when default
  // "host[:port]" as the registry would be named.
  std::string HostPort() const;
};
absl::StatusOr<UrlParts> ParseUrl(absl::string_view url);

// Percent-encodes a query value.
std::string UrlEncode(absl::string_view text);

}  // namespace slipway::registry

#endif  // SLIPWAY_SERVER_REGISTRY_HTTP_CLIENT_H_
