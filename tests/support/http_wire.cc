#include "tests/support/http_wire.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace slipway::testing::http {
namespace {

constexpr int kPollSliceMs = 50;
constexpr size_t kMaxHeadBytes = 256 * 1024;
constexpr size_t kReadChunk = 64 * 1024;

absl::Status Errno(absl::string_view what) {
  return absl::UnavailableError(absl::StrCat(what, ": ", std::strerror(errno)));
}

void SetNonBlocking(int fd) {
  int flags = fcntl(fd, F_GETFL, 0);
  fcntl(fd, F_SETFL, flags | O_NONBLOCK);
}

// Parses "Name: value" lines until the empty line.
absl::Status ReadHeaderLines(Conn& conn, Headers* headers) {
  size_t total = 0;
  while (true) {
    auto line = conn.ReadLine();
    if (!line.ok()) {
      return absl::DataLossError(absl::StrCat("header block: ", line.status().message()));
    }
    if (line->empty()) return absl::OkStatus();
    total += line->size();
    if (total > kMaxHeadBytes) return absl::ResourceExhaustedError("header block too large");
    size_t colon = line->find(':');
    if (colon == std::string::npos || colon == 0) {
      return absl::InvalidArgumentError(absl::StrCat("malformed header line: ", *line));
    }
    headers->emplace_back(line->substr(0, colon),
                          std::string(absl::StripAsciiWhitespace(line->substr(colon + 1))));
  }
}

std::string SerializeHeaders(const Headers& headers) {
  std::string out;
  for (const auto& [name, value] : headers) absl::StrAppend(&out, name, ": ", value, "\r\n");
  out += "\r\n";
  return out;
}

}  // namespace

absl::optional<std::string> FindHeader(const Headers& headers, absl::string_view name) {
  for (const auto& [n, v] : headers) {
    if (absl::EqualsIgnoreCase(n, name)) return v;
  }
  return absl::nullopt;
}

void RemoveHeader(Headers& headers, absl::string_view name) {
  headers.erase(
      std::remove_if(headers.begin(), headers.end(),
                     [&](const auto& h) { return absl::EqualsIgnoreCase(h.first, name); }),
      headers.end());
}

std::string SerializeRequestHead(const RequestHead& head) {
  return absl::StrCat(head.method, " ", head.target, " ", head.version, "\r\n",
                      SerializeHeaders(head.headers));
}

std::string SerializeResponseHead(const ResponseHead& head) {
  std::string reason = head.reason.empty() ? ReasonPhrase(head.status) : head.reason;
  return absl::StrCat(head.version, " ", head.status, " ", reason, "\r\n",
                      SerializeHeaders(head.headers));
}

std::string ReasonPhrase(int status) {
  switch (status) {
    case 100:
      return "Continue";
    case 200:
      return "OK";
    case 201:
      return "Created";
    case 202:
      return "Accepted";
    case 204:
      return "No Content";
    case 206:
      return "Partial Content";
    case 301:
      return "Moved Permanently";
    case 302:
      return "Found";
    case 307:
      return "Temporary Redirect";
    case 308:
      return "Permanent Redirect";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 408:
      return "Request Timeout";
    case 416:
      return "Range Not Satisfiable";
    case 429:
      return "Too Many Requests";
    case 500:
      return "Internal Server Error";
    case 502:
      return "Bad Gateway";
    case 503:
      return "Service Unavailable";
    case 504:
      return "Gateway Timeout";
    default:
      return "";
  }
}

absl::StatusOr<BodyFraming> RequestFraming(const RequestHead& head) {
  BodyFraming framing;
  if (auto te = FindHeader(head.headers, "Transfer-Encoding")) {
    if (!absl::EqualsIgnoreCase(absl::StripAsciiWhitespace(*te), "chunked")) {
      return absl::InvalidArgumentError(absl::StrCat("unsupported Transfer-Encoding: ", *te));
    }
    framing.kind = BodyFraming::kChunked;
    return framing;
  }
  if (auto cl = FindHeader(head.headers, "Content-Length")) {
    if (!absl::SimpleAtoi(*cl, &framing.length)) {
      return absl::InvalidArgumentError(absl::StrCat("malformed Content-Length: ", *cl));
    }
    framing.kind = framing.length > 0 ? BodyFraming::kLength : BodyFraming::kNone;
  }
  return framing;
}

absl::StatusOr<BodyFraming> ResponseFraming(absl::string_view request_method,
                                            const ResponseHead& head) {
  BodyFraming framing;
  if (absl::EqualsIgnoreCase(request_method, "HEAD") || head.status < 200 || head.status == 204 ||
      head.status == 304) {
    return framing;
  }
  if (auto te = FindHeader(head.headers, "Transfer-Encoding")) {
    if (!absl::EqualsIgnoreCase(absl::StripAsciiWhitespace(*te), "chunked")) {
      return absl::InvalidArgumentError(absl::StrCat("unsupported Transfer-Encoding: ", *te));
    }
    framing.kind = BodyFraming::kChunked;
    return framing;
  }
  if (auto cl = FindHeader(head.headers, "Content-Length")) {
    if (!absl::SimpleAtoi(*cl, &framing.length)) {
      return absl::InvalidArgumentError(absl::StrCat("malformed Content-Length: ", *cl));
    }
    framing.kind = framing.length > 0 ? BodyFraming::kLength : BodyFraming::kNone;
    return framing;
  }
  framing.kind = BodyFraming::kUntilClose;
  return framing;
}

Conn::Conn(int fd, const std::atomic<bool>* stop, absl::Duration idle_timeout)
    : fd_(fd), stop_(stop), idle_timeout_(idle_timeout) {
  SetNonBlocking(fd_);
  int one = 1;
  setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

Conn::~Conn() { Close(); }

absl::StatusOr<std::unique_ptr<Conn>> Conn::ConnectLoopback(int port, const std::atomic<bool>* stop,
                                                            absl::Duration idle_timeout) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return Errno("socket");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  // A loopback connect completes (or is refused) at once, so a blocking connect is bounded.
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    absl::Status st = Errno(absl::StrCat("connect 127.0.0.1:", port));
    close(fd);
    return st;
  }
  return std::make_unique<Conn>(fd, stop, idle_timeout);
}

absl::Status Conn::Wait(short events) {
  absl::Time deadline = absl::Now() + idle_timeout_;
  while (true) {
    if (fd_ < 0) return absl::FailedPreconditionError("connection closed");
    if (stop_ != nullptr && stop_->load()) return absl::CancelledError("server stopping");
    pollfd p{fd_, events, 0};
    int n = poll(&p, 1, kPollSliceMs);
    if (n > 0) return absl::OkStatus();  // ready, or an error the next syscall reports
    if (n < 0 && errno != EINTR) return Errno("poll");
    if (absl::Now() > deadline) return absl::DeadlineExceededError("socket idle too long");
  }
}

absl::StatusOr<std::string> Conn::ReadSome(size_t max_bytes) {
  if (pos_ < buf_.size()) {
    size_t n = std::min(max_bytes, buf_.size() - pos_);
    std::string out = buf_.substr(pos_, n);
    pos_ += n;
    if (pos_ == buf_.size()) {
      buf_.clear();
      pos_ = 0;
    }
    return out;
  }
  while (true) {
    if (absl::Status st = Wait(POLLIN); !st.ok()) return st;
    std::string out(std::min(max_bytes, kReadChunk), '\0');
    ssize_t n = recv(fd_, out.data(), out.size(), 0);
    if (n > 0) {
      out.resize(static_cast<size_t>(n));
      return out;
    }
    if (n == 0) return std::string();
    if (errno == EAGAIN || errno == EINTR) continue;
    return Errno("recv");
  }
}

absl::StatusOr<std::string> Conn::ReadLine(size_t max_bytes) {
  while (true) {
    size_t nl = buf_.find('\n', pos_);
    if (nl != std::string::npos) {
      std::string line = buf_.substr(pos_, nl - pos_);
      pos_ = nl + 1;
      if (!line.empty() && line.back() == '\r') line.pop_back();
      return line;
    }
    if (buf_.size() - pos_ > max_bytes) return absl::ResourceExhaustedError("line too long");
    bool had_partial = pos_ < buf_.size();
    if (pos_ > 0) {
      buf_.erase(0, pos_);
      pos_ = 0;
    }
    if (absl::Status st = Wait(POLLIN); !st.ok()) return st;
    char tmp[16 * 1024];
    ssize_t n = recv(fd_, tmp, sizeof(tmp), 0);
    if (n > 0) {
      buf_.append(tmp, static_cast<size_t>(n));
      continue;
    }
    if (n == 0) {
      return had_partial ? absl::DataLossError("connection closed inside a line")
                         : absl::OutOfRangeError("connection closed");
    }
    if (errno == EAGAIN || errno == EINTR) continue;
    return Errno("recv");
  }
}

absl::Status Conn::WriteAll(absl::string_view data) {
  while (!data.empty()) {
    if (absl::Status st = Wait(POLLOUT); !st.ok()) return st;
    ssize_t n = send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
    if (n > 0) {
      data.remove_prefix(static_cast<size_t>(n));
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) continue;
    return Errno("send");
  }
  return absl::OkStatus();
}

void Conn::Reset() {
  if (fd_ < 0) return;
  linger lg{1, 0};
  setsockopt(fd_, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
  close(fd_);
  fd_ = -1;
}

void Conn::Close() {
  if (fd_ < 0) return;
  close(fd_);
  fd_ = -1;
}

absl::StatusOr<RequestHead> ReadRequestHead(Conn& conn) {
  auto line = conn.ReadLine();
  // Tolerate a stray CRLF between pipelined requests (RFC 9112 §2.2).
  if (line.ok() && line->empty()) line = conn.ReadLine();
  if (!line.ok()) return line.status();
  std::vector<std::string> parts = absl::StrSplit(*line, ' ');
  if (parts.size() != 3 || !absl::StartsWith(parts[2], "HTTP/1.")) {
    return absl::InvalidArgumentError(absl::StrCat("malformed request line: ", *line));
  }
  RequestHead head{parts[0], parts[1], parts[2], {}};
  if (absl::Status st = ReadHeaderLines(conn, &head.headers); !st.ok()) return st;
  return head;
}

absl::StatusOr<ResponseHead> ReadResponseHead(Conn& conn) {
  auto line = conn.ReadLine();
  if (!line.ok()) return line.status();
  std::vector<std::string> parts = absl::StrSplit(*line, absl::MaxSplits(' ', 2));
  ResponseHead head;
  if (parts.size() < 2 || !absl::StartsWith(parts[0], "HTTP/1.") ||
      !absl::SimpleAtoi(parts[1], &head.status)) {
    return absl::InvalidArgumentError(absl::StrCat("malformed status line: ", *line));
  }
  head.version = parts[0];
  head.reason = parts.size() > 2 ? parts[2] : "";
  if (absl::Status st = ReadHeaderLines(conn, &head.headers); !st.ok()) return st;
  return head;
}

absl::Status ReadBody(Conn& conn, const BodyFraming& framing, const BodySink& sink) {
  auto copy_exact = [&](uint64_t n) -> absl::Status {
    while (n > 0) {
      auto piece = conn.ReadSome(static_cast<size_t>(std::min<uint64_t>(n, kReadChunk)));
      if (!piece.ok()) return piece.status();
      if (piece->empty()) return absl::DataLossError("connection closed inside a body");
      n -= piece->size();
      if (!sink(*piece, true)) return absl::CancelledError("body read stopped by sink");
    }
    return absl::OkStatus();
  };
  switch (framing.kind) {
    case BodyFraming::kNone:
      return absl::OkStatus();
    case BodyFraming::kLength:
      return copy_exact(framing.length);
    case BodyFraming::kUntilClose:
      while (true) {
        auto piece = conn.ReadSome(kReadChunk);
        if (!piece.ok()) return piece.status();
        if (piece->empty()) return absl::OkStatus();
        if (!sink(*piece, true)) return absl::CancelledError("body read stopped by sink");
      }
    case BodyFraming::kChunked:
      while (true) {
        auto line = conn.ReadLine();
        if (!line.ok()) return line.status();
        absl::string_view size_text = *line;
        size_text = size_text.substr(0, size_text.find(';'));  // drop chunk extensions
        uint64_t size = 0;
        if (!absl::SimpleHexAtoi(absl::StripAsciiWhitespace(size_text), &size)) {
          return absl::InvalidArgumentError(absl::StrCat("malformed chunk size: ", *line));
        }
        if (!sink(absl::StrCat(*line, "\r\n"), false)) {
          return absl::CancelledError("body read stopped by sink");
        }
        if (size == 0) break;
        if (absl::Status st = copy_exact(size); !st.ok()) return st;
        auto crlf = conn.ReadLine();
        if (!crlf.ok()) return crlf.status();
        if (!crlf->empty()) return absl::InvalidArgumentError("missing CRLF after chunk data");
        if (!sink("\r\n", false)) return absl::CancelledError("body read stopped by sink");
      }
      // Trailers up to the empty line.
      while (true) {
        auto line = conn.ReadLine();
        if (!line.ok()) return line.status();
        if (!sink(absl::StrCat(*line, "\r\n"), false)) {
          return absl::CancelledError("body read stopped by sink");
        }
        if (line->empty()) return absl::OkStatus();
      }
  }
  return absl::InternalError("unknown framing");
}

absl::Status ReadWholeBody(Conn& conn, const BodyFraming& framing, std::string* out,
                           size_t max_bytes) {
  bool too_big = false;
  absl::Status st = ReadBody(conn, framing, [&](absl::string_view wire, bool payload) {
    if (!payload) return true;
    if (out->size() + wire.size() > max_bytes) {
      too_big = true;
      return false;
    }
    out->append(wire.data(), wire.size());
    return true;
  });
  if (too_big) return absl::ResourceExhaustedError(absl::StrCat("body over ", max_bytes, " bytes"));
  return st;
}

absl::StatusOr<Listener> ListenLoopback() {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return Errno("socket");
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof(addr);
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 || listen(fd, 64) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    absl::Status st = Errno("bind/listen 127.0.0.1:0");
    close(fd);
    return st;
  }
  SetNonBlocking(fd);
  return Listener{fd, ntohs(addr.sin_port)};
}

absl::StatusOr<int> AcceptWithin(int listen_fd, absl::Duration wait) {
  pollfd p{listen_fd, POLLIN, 0};
  int n = poll(&p, 1, static_cast<int>(absl::ToInt64Milliseconds(wait)));
  if (n < 0 && errno != EINTR) return Errno("poll(listen)");
  if (n <= 0) return absl::DeadlineExceededError("no connection");
  int fd = accept4(listen_fd, nullptr, nullptr, SOCK_CLOEXEC);
  if (fd < 0) {
    if (errno == EAGAIN || errno == EINTR || errno == ECONNABORTED) {
      return absl::DeadlineExceededError("no connection");
    }
    return Errno("accept");
  }
  return fd;
}

std::string TargetPath(absl::string_view target) {
  return std::string(target.substr(0, target.find('?')));
}

}  // namespace slipway::testing::http
