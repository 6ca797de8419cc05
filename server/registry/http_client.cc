#include "server/registry/http_client.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <cstring>

#include "absl/base/thread_annotations.h"
#include "absl/strings/ascii.h"
#include "absl/strings/cord.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/mutex.h"
#include "server/registry/reference.h"
#include "storage/status_macros.h"

namespace slipway::registry {
namespace {

constexpr absl::string_view kTransportPayload = "slipway.dev/transport";
constexpr int64_t kExpectContinueMinBytes = 1 << 20;
constexpr long kUploadBufferBytes = 1 << 20;

absl::Status Transport(absl::string_view reason, std::string message) {
  return MakeTransportError(reason, std::move(message));
}

bool IsLinkLocal(const sockaddr* addr) {
  if (addr->sa_family == AF_INET) {
    uint32_t a = ntohl(reinterpret_cast<const sockaddr_in*>(addr)->sin_addr.s_addr);
    return (a >> 16) == 0xA9FE;  // 169.254.0.0/16
  }
  if (addr->sa_family == AF_INET6) {
    const in6_addr& a = reinterpret_cast<const sockaddr_in6*>(addr)->sin6_addr;
    if (IN6_IS_ADDR_LINKLOCAL(&a)) return true;  // fe80::/10
    if (IN6_IS_ADDR_V4MAPPED(&a)) return a.s6_addr[12] == 169 && a.s6_addr[13] == 254;
  }
  return false;
}

// Per-transfer state the libcurl callbacks write into.
struct Transfer {
  CURL* curl = nullptr;
  const HttpRequest* request = nullptr;
  HttpResponse* response = nullptr;
  size_t body_offset = 0;       // into request->body when there is no reader
  absl::Status callback_error;  // set by a callback that aborted the transfer
  bool error_body_cut = false;
  bool body_started = false;
  bool refused_link_local = false;

  bool Is2xx() const {
    long code = 0;
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &code);
    return code >= 200 && code < 300;
  }
};

size_t OnHeader(char* data, size_t size, size_t n, void* arg) {
  auto* t = static_cast<Transfer*>(arg);
  absl::string_view line(data, size * n);
  line = absl::StripTrailingAsciiWhitespace(line);
  if (absl::StartsWith(line, "HTTP/")) {
    // A new status line (after 100 Continue or an interim response) starts a new header block.
    t->response->headers.Clear();
    return size * n;
  }
  size_t colon = line.find(':');
  if (colon != absl::string_view::npos && colon > 0) {
    t->response->headers.Add(absl::StripAsciiWhitespace(line.substr(0, colon)),
                             absl::StripAsciiWhitespace(line.substr(colon + 1)));
  }
  return size * n;
}

size_t OnWrite(char* data, size_t size, size_t n, void* arg) {
  auto* t = static_cast<Transfer*>(arg);
  absl::string_view piece(data, size * n);
  if (t->Is2xx()) {
    if (t->request->sink) {
      if (!t->body_started && t->request->on_body_start) {
        long code = 0;
        curl_easy_getinfo(t->curl, CURLINFO_RESPONSE_CODE, &code);
        absl::Status start = t->request->on_body_start(static_cast<int>(code), t->response->headers);
        if (!start.ok()) {
          t->callback_error = start;
          return 0;
        }
      }
      t->body_started = true;
      absl::Status s = t->request->sink(piece);
      if (!s.ok()) {
        t->callback_error = s;
        return 0;
      }
      return piece.size();
    }
    if (static_cast<int64_t>(t->response->body.size() + piece.size()) >
        t->request->max_body_bytes) {
      t->callback_error = absl::ResourceExhaustedError(
          absl::StrCat("response body from ", RedactUrl(t->request->url), " exceeds ",
                       t->request->max_body_bytes, " bytes"));
      return 0;
    }
    t->response->body.append(piece.data(), piece.size());
    return piece.size();
  }
  size_t room = static_cast<size_t>(kMaxErrorBodyBytes) - t->response->body.size();
  if (piece.size() > room) {
    t->response->body.append(piece.data(), room);
    t->response->body_truncated = true;
    t->error_body_cut = true;
    return 0;  // stop reading: the rest of an oversized error body is never needed
  }
  t->response->body.append(piece.data(), piece.size());
  return piece.size();
}

size_t OnRead(char* buf, size_t size, size_t n, void* arg) {
  auto* t = static_cast<Transfer*>(arg);
  size_t want = size * n;
  if (t->request->body_reader) {
    absl::StatusOr<size_t> got = t->request->body_reader(buf, want);
    if (!got.ok()) {
      t->callback_error = got.status();
      return CURL_READFUNC_ABORT;
    }
    return *got;
  }
  const std::string& body = t->request->body;
  size_t k = std::min(want, body.size() - t->body_offset);
  memcpy(buf, body.data() + t->body_offset, k);
  t->body_offset += k;
  return k;
}

curl_socket_t OnOpenSocket(void* arg, curlsocktype purpose, curl_sockaddr* addr) {
  auto* t = static_cast<Transfer*>(arg);
  if (t->request->forbid_link_local && IsLinkLocal(&addr->addr)) {
    t->refused_link_local = true;
    return CURL_SOCKET_BAD;
  }
  // CLOEXEC: credential helpers are spawned while transfers run on other threads.
  return socket(addr->family, addr->socktype | SOCK_CLOEXEC, addr->protocol);
}

long Millis(absl::Duration d) {
  return static_cast<long>(std::max<int64_t>(1, absl::ToInt64Milliseconds(d)));
}

}  // namespace

// ---- HeaderMap ----

void HeaderMap::Add(absl::string_view name, absl::string_view value) {
  entries_.emplace_back(std::string(name), std::string(value));
}

void HeaderMap::Set(absl::string_view name, absl::string_view value) {
  Remove(name);
  Add(name, value);
}

void HeaderMap::Remove(absl::string_view name) {
  entries_.erase(std::remove_if(entries_.begin(), entries_.end(),
                                [&](const auto& e) { return absl::EqualsIgnoreCase(e.first, name); }),
                 entries_.end());
}

bool HeaderMap::Has(absl::string_view name) const { return Get(name).has_value(); }

std::optional<std::string> HeaderMap::Get(absl::string_view name) const {
  for (const auto& e : entries_) {
    if (absl::EqualsIgnoreCase(e.first, name)) return e.second;
  }
  return std::nullopt;
}

std::vector<std::string> HeaderMap::GetAll(absl::string_view name) const {
  std::vector<std::string> out;
  for (const auto& e : entries_) {
    if (absl::EqualsIgnoreCase(e.first, name)) out.push_back(e.second);
  }
  return out;
}

std::optional<std::string> TransportErrorReason(const absl::Status& status) {
  auto p = status.GetPayload(kTransportPayload);
  if (!p.has_value()) return std::nullopt;
  return std::string(*p);
}

absl::Status MakeTransportError(absl::string_view reason, std::string message) {
  absl::Status s = absl::UnavailableError(std::move(message));
  s.SetPayload(kTransportPayload, absl::Cord(reason));
  return s;
}

// ---- HttpClient ----

struct HttpClient::Shared {
  CURLSH* share = nullptr;
  // One mutex per curl_lock_data kind (DNS, SSL sessions, share itself).
  std::array<absl::Mutex, CURL_LOCK_DATA_LAST> locks;
  absl::Mutex pool_mu;
  std::vector<CURL*> idle ABSL_GUARDED_BY(pool_mu);

  static void Lock(CURL*, curl_lock_data data, curl_lock_access, void* arg) {
    static_cast<Shared*>(arg)->locks[data].Lock();
  }
  static void Unlock(CURL*, curl_lock_data data, void* arg) {
    static_cast<Shared*>(arg)->locks[data].Unlock();
  }
};

HttpClient::HttpClient(const HttpClientOptions& options)
    : options_(options), shared_(std::make_unique<Shared>()) {}

HttpClient::~HttpClient() {
  {
    absl::MutexLock lock(&shared_->pool_mu);
    for (CURL* c : shared_->idle) curl_easy_cleanup(c);
    shared_->idle.clear();
  }
  if (shared_->share != nullptr) curl_share_cleanup(shared_->share);
  curl_global_cleanup();
}

absl::StatusOr<std::unique_ptr<HttpClient>> HttpClient::Create(const HttpClientOptions& options) {
  // Reference-counted by libcurl and thread-safe since 7.84; paired with the destructor.
  if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
    return absl::InternalError("curl_global_init failed");
  }
  std::unique_ptr<HttpClient> client(new HttpClient(options));
  CURLSH* share = curl_share_init();
  if (share == nullptr) return absl::ResourceExhaustedError("curl_share_init failed");
  client->shared_->share = share;
  curl_share_setopt(share, CURLSHOPT_LOCKFUNC, &Shared::Lock);
  curl_share_setopt(share, CURLSHOPT_UNLOCKFUNC, &Shared::Unlock);
  curl_share_setopt(share, CURLSHOPT_USERDATA, client->shared_.get());
  curl_share_setopt(share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
  curl_share_setopt(share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
  return client;
}

absl::StatusOr<HttpResponse> HttpClient::Send(const HttpRequest& request) {
  SLIPWAY_ASSIGN_OR_RETURN(UrlParts url, ParseUrl(request.url));
  if (url.scheme == "http" && !options_.allow_plain_http && !IsLoopbackHost(url.host)) {
    return absl::FailedPreconditionError(absl::StrCat(
        "plain http to ", url.HostPort(),
        " refused: use https, or opt in to insecure plain http for this registry"));
  }

  CURL* curl = nullptr;
  {
    absl::MutexLock lock(&shared_->pool_mu);
    if (!shared_->idle.empty()) {
      curl = shared_->idle.back();
      shared_->idle.pop_back();
    }
  }
  if (curl == nullptr) {
    curl = curl_easy_init();
    if (curl == nullptr) return absl::ResourceExhaustedError("curl_easy_init failed");
  } else {
    curl_easy_reset(curl);  // keeps the handle's live connections and caches
  }

  HttpResponse response;
  Transfer t;
  t.curl = curl;
  t.request = &request;
  t.response = &response;
  char errbuf[CURL_ERROR_SIZE] = {0};

  curl_easy_setopt(curl, CURLOPT_SHARE, shared_->share);
  curl_easy_setopt(curl, CURLOPT_URL, request.url.c_str());
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, errbuf);
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(curl, CURLOPT_HTTP_VERSION, options_.enable_http2
                                                   ? CURL_HTTP_VERSION_2TLS
                                                   : CURL_HTTP_VERSION_1_1);
  curl_easy_setopt(curl, CURLOPT_USERAGENT, options_.user_agent.c_str());
  curl_easy_setopt(curl, CURLOPT_TCP_KEEPALIVE, 1L);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, Millis(request.timeout));
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, Millis(request.connect_timeout));
  curl_easy_setopt(curl, CURLOPT_LOW_SPEED_LIMIT, 1L);
  curl_easy_setopt(curl, CURLOPT_LOW_SPEED_TIME,
                   static_cast<long>(std::max<int64_t>(1, absl::ToInt64Seconds(request.stall_timeout))));
  curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, &OnHeader);
  curl_easy_setopt(curl, CURLOPT_HEADERDATA, &t);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, &OnWrite);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &t);
  curl_easy_setopt(curl, CURLOPT_OPENSOCKETFUNCTION, &OnOpenSocket);
  curl_easy_setopt(curl, CURLOPT_OPENSOCKETDATA, &t);

  // TLS: verification stays on unless explicitly skipped.
  const TlsConfig& tls = options_.tls;
  curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, tls.insecure_skip_verify ? 0L : 1L);
  curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, tls.insecure_skip_verify ? 0L : 2L);
  curl_blob ca_blob{const_cast<char*>(tls.ca_pem.data()), tls.ca_pem.size(), CURL_BLOB_NOCOPY};
  curl_blob cert_blob{const_cast<char*>(tls.client_cert_pem.data()), tls.client_cert_pem.size(),
                      CURL_BLOB_NOCOPY};
  curl_blob key_blob{const_cast<char*>(tls.client_key_pem.data()), tls.client_key_pem.size(),
                     CURL_BLOB_NOCOPY};
  if (!tls.ca_pem.empty()) curl_easy_setopt(curl, CURLOPT_CAINFO_BLOB, &ca_blob);
  else if (!tls.ca_file.empty()) curl_easy_setopt(curl, CURLOPT_CAINFO, tls.ca_file.c_str());
  if (!tls.client_cert_pem.empty()) curl_easy_setopt(curl, CURLOPT_SSLCERT_BLOB, &cert_blob);
  else if (!tls.client_cert_file.empty()) {
    curl_easy_setopt(curl, CURLOPT_SSLCERT, tls.client_cert_file.c_str());
  }
  if (!tls.client_key_pem.empty()) curl_easy_setopt(curl, CURLOPT_SSLKEY_BLOB, &key_blob);
  else if (!tls.client_key_file.empty()) {
    curl_easy_setopt(curl, CURLOPT_SSLKEY, tls.client_key_file.c_str());
  }

  const std::string& m = request.method;
  if (m == "HEAD") {
    curl_easy_setopt(curl, CURLOPT_NOBODY, 1L);
  } else if (m == "GET") {
    curl_easy_setopt(curl, CURLOPT_HTTPGET, 1L);
  } else if (m == "DELETE") {
    curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, "DELETE");
  } else {
    // Every body, in memory or streamed, goes through the read callback with a known length.
    curl_off_t len = request.body_reader ? request.body_length
                                         : static_cast<curl_off_t>(request.body.size());
    curl_easy_setopt(curl, CURLOPT_UPLOAD, 1L);
    // Larger reads per callback: fewer syscalls and callbacks for multi-MiB blobs.
    if (len > (1 << 20)) curl_easy_setopt(curl, CURLOPT_UPLOAD_BUFFERSIZE, kUploadBufferBytes);
    curl_easy_setopt(curl, CURLOPT_INFILESIZE_LARGE, len);
    curl_easy_setopt(curl, CURLOPT_READFUNCTION, &OnRead);
    curl_easy_setopt(curl, CURLOPT_READDATA, &t);
    curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, m.c_str());
  }

  curl_slist* headers = nullptr;
  // libcurl 7.88 sends "Expect: 100-continue" with every PUT/PATCH/POST body and waits up to 1 s
  // for servers that never answer it. Only large bodies gain from it (a 401 arrives before
  // megabytes are sent), so small ones go without.
  const int64_t body_size = request.body_reader ? request.body_length
                                                : static_cast<int64_t>(request.body.size());
  if (body_size < kExpectContinueMinBytes && !request.headers.Has("Expect")) {
    headers = curl_slist_append(headers, "Expect:");
  }
  for (const auto& [name, value] : request.headers.entries()) {
    std::string line = value.empty() ? absl::StrCat(name, ";") : absl::StrCat(name, ": ", value);
    headers = curl_slist_append(headers, line.c_str());
  }
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);

  CURLcode rc = curl_easy_perform(curl);
  long code = 0;
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &code);
  long version = 0;
  curl_easy_getinfo(curl, CURLINFO_HTTP_VERSION, &version);
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, nullptr);
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, nullptr);
  curl_slist_free_all(headers);
  {
    absl::MutexLock lock(&shared_->pool_mu);
    if (static_cast<int>(shared_->idle.size()) < options_.max_idle_handles) {
      shared_->idle.push_back(curl);
      curl = nullptr;
    }
  }
  if (curl != nullptr) curl_easy_cleanup(curl);

  response.status = static_cast<int>(code);
  response.http_version = version;
  if (rc == CURLE_OK || (rc == CURLE_WRITE_ERROR && t.error_body_cut)) return response;

  const std::string where = RedactUrl(request.url);
  const std::string detail = errbuf[0] != '\0' ? std::string(errbuf) : curl_easy_strerror(rc);
  if (!t.callback_error.ok()) return t.callback_error;
  if (t.refused_link_local) {
    return absl::FailedPreconditionError(absl::StrCat(
        "refused to connect to ", url.HostPort(), " for ", where,
        ": it resolves to a link-local address (169.254.0.0/16 or fe80::/10)"));
  }
  switch (rc) {
    case CURLE_COULDNT_RESOLVE_HOST:
      return Transport("dns", absl::StrCat("cannot resolve ", url.host, ": ", detail));
    case CURLE_COULDNT_CONNECT:
      return Transport("connect", absl::StrCat("cannot connect to ", url.HostPort(), ": ", detail));
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
      // With TLS 1.3 a server rejects a client certificate (or its absence) with an alert after
      // the handshake: that is a configuration error, not a dropped connection to retry.
      if (absl::StrContains(detail, " alert ")) {
        return absl::FailedPreconditionError(absl::StrCat(
            "TLS session with ", url.HostPort(),
            " refused by the server (check this registry's client certificate): ", detail));
      }
      [[fallthrough]];
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
    // A reused connection died under a streamed body: libcurl wants to resend on a fresh
    // connection but cannot rewind our reader. The request never completed; our callers
    // reopen the body at the right offset, so this is a reset like any other.
    case CURLE_SEND_FAIL_REWIND:
      return Transport("reset", absl::StrCat(m, " ", where, ": connection reset: ", detail));
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
      return Transport("eof", absl::StrCat(m, " ", where, ": connection closed early: ", detail));
    case CURLE_OPERATION_TIMEDOUT:
      return Transport("timeout", absl::StrCat(m, " ", where, ": timed out or stalled: ", detail));
    case CURLE_PEER_FAILED_VERIFICATION:
      return absl::FailedPreconditionError(absl::StrCat(
          "TLS certificate verification failed for ", url.HostPort(),
          " (configure this registry's CA bundle): ", detail));
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_CIPHER: {
      absl::Status s = absl::FailedPreconditionError(
          absl::StrCat("TLS handshake with ", url.HostPort(), " failed: ", detail));
      s.SetPayload(kTransportPayload, absl::Cord("tls_handshake"));
      return s;
    }
    case CURLE_URL_MALFORMAT:
      return absl::InvalidArgumentError(absl::StrCat("malformed URL ", where, ": ", detail));
    default:
      return absl::UnknownError(
          absl::StrCat(m, " ", where, ": ", detail, " (curl error ", static_cast<int>(rc), ")"));
  }
}

absl::StatusOr<HttpResponse> HttpClient::SendFollowingRedirects(HttpRequest request,
                                                                int max_redirects) {
  SLIPWAY_ASSIGN_OR_RETURN(UrlParts origin, ParseUrl(request.url));
  for (int hop = 0;; ++hop) {
    SLIPWAY_ASSIGN_OR_RETURN(HttpResponse response, Send(request));
    const int s = response.status;
    const bool redirect = s == 301 || s == 302 || s == 303 || s == 307 || s == 308;
    if (!redirect || (request.method != "GET" && request.method != "HEAD")) return response;
    auto location = response.headers.Get("Location");
    if (!location.has_value()) return response;
    if (hop >= max_redirects) {
      return absl::FailedPreconditionError(absl::StrCat(
          "more than ", max_redirects, " redirects starting at ", RedactUrl(request.url)));
    }
    SLIPWAY_ASSIGN_OR_RETURN(std::string next, ResolveUrl(request.url, *location));
    SLIPWAY_ASSIGN_OR_RETURN(UrlParts target, ParseUrl(next));
    if (target.HostPort() != origin.HostPort() || target.scheme != origin.scheme) {
      // Registry credentials are for the registry only (blob storage redirects are pre-signed).
      request.headers.Remove("Authorization");
    }
    request.url = std::move(next);
  }
}

}  // namespace slipway::registry
