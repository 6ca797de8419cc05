#ifndef SLIPWAY_TESTS_SUPPORT_HTTP_WIRE_H_
#define SLIPWAY_TESTS_SUPPORT_HTTP_WIRE_H_

// HTTP/1.1 on the wire for the in-process test servers (fault proxy, header recorder, token
// server): a buffered socket that never blocks past a deadline or a stop flag, message heads,
// and body framing (Content-Length, chunked, close-delimited). Test-only code: small, strict
// enough for curl and Go's net/http, not a general HTTP implementation.

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "absl/types/optional.h"

namespace slipway::testing::http {

// Header fields in wire order; names keep the case they were sent with.
using Headers = std::vector<std::pair<std::string, std::string>>;

// First value of `name` (case-insensitive), or nullopt.
absl::optional<std::string> FindHeader(const Headers& headers, absl::string_view name);
// Removes every field called `name` (case-insensitive).
void RemoveHeader(Headers& headers, absl::string_view name);

struct RequestHead {
  std::string method;
  std::string target;  // path + query as sent ("/v2/x/blobs/uploads/?digest=...")
  std::string version = "HTTP/1.1";
  Headers headers;
};

struct ResponseHead {
  std::string version = "HTTP/1.1";
  int status = 200;
  std::string reason;
  Headers headers;
};

std::string SerializeRequestHead(const RequestHead& head);
std::string SerializeResponseHead(const ResponseHead& head);
// "Not Found" for 404, "" for codes it does not know.
std::string ReasonPhrase(int status);

// How a message body is delimited on the wire.
struct BodyFraming {
  enum Kind { kNone, kLength, kChunked, kUntilClose } kind = kNone;
  uint64_t length = 0;  // kLength only
};
// Request framing; InvalidArgument for a malformed Content-Length or an unknown
// Transfer-Encoding.
absl::StatusOr<BodyFraming> RequestFraming(const RequestHead& head);
// Response framing, which depends on the request method (HEAD has no body) and the status.
absl::StatusOr<BodyFraming> ResponseFraming(absl::string_view request_method,
                                            const ResponseHead& head);

// A connected TCP socket with a read buffer. Every read and write waits in short poll slices,
// gives up at `stop` (if set) and after `idle_timeout` without progress. Not thread-safe: one
// thread owns a Conn. The destructor closes the socket.
class Conn {
 public:
  Conn(int fd, const std::atomic<bool>* stop, absl::Duration idle_timeout = absl::Seconds(30));
  ~Conn();
  Conn(const Conn&) = delete;
  Conn& operator=(const Conn&) = delete;

  // Connects to 127.0.0.1:port. Unavailable when refused.
  static absl::StatusOr<std::unique_ptr<Conn>> ConnectLoopback(
      int port, const std::atomic<bool>* stop, absl::Duration idle_timeout = absl::Seconds(30));

  // A line ending in CRLF (or LF), returned without it. OutOfRange on EOF before any byte of
  // the line, DataLoss on EOF inside it, ResourceExhausted past `max_bytes`.
  absl::StatusOr<std::string> ReadLine(size_t max_bytes = 64 * 1024);
  // Up to `max_bytes` (at least one) bytes; an empty string means EOF.
  absl::StatusOr<std::string> ReadSome(size_t max_bytes);
  absl::Status WriteAll(absl::string_view data);

  // Closes with SO_LINGER 0 so the peer sees a TCP RST instead of a FIN.
  void Reset();
  // Orderly close (FIN). Reads and writes after Close/Reset fail.
  void Close();
  bool closed() const { return fd_ < 0; }

 private:
  // Waits until the socket is readable (POLLIN) or writable (POLLOUT).
  absl::Status Wait(short events);

  int fd_;
  const std::atomic<bool>* stop_;
  absl::Duration idle_timeout_;
  std::string buf_;
  size_t pos_ = 0;
};

// Reads a request head. OutOfRange when the peer closed cleanly between requests.
absl::StatusOr<RequestHead> ReadRequestHead(Conn& conn);
// Reads a response head (1xx responses are returned like any other).
absl::StatusOr<ResponseHead> ReadResponseHead(Conn& conn);

// Called for each piece of a body in wire order. `wire` is the raw bytes; `payload` is true
// when they are body content (false for chunk-size lines, CRLFs and trailers). Returning false
// stops the read (ReadBody returns Cancelled).
using BodySink = std::function<bool(absl::string_view wire, bool payload)>;
absl::Status ReadBody(Conn& conn, const BodyFraming& framing, const BodySink& sink);
// Reads a whole body into `out` (payload only), failing past `max_bytes`.
absl::Status ReadWholeBody(Conn& conn, const BodyFraming& framing, std::string* out,
                           size_t max_bytes = 64u << 20);

// A listening socket on 127.0.0.1 with an ephemeral port.
struct Listener {
  int fd = -1;
  int port = 0;
};
absl::StatusOr<Listener> ListenLoopback();
// Accepts one connection, waiting at most `wait`. DeadlineExceeded when none arrived.
absl::StatusOr<int> AcceptWithin(int listen_fd, absl::Duration wait);

// Splits "path?query" and returns the path.
std::string TargetPath(absl::string_view target);

}  // namespace slipway::testing::http

#endif  // SLIPWAY_TESTS_SUPPORT_HTTP_WIRE_H_
