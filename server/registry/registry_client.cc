#include "server/registry/registry_client.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "nlohmann/json.hpp"
#include "server/registry/reference.h"
#include "server/registry/registry_call.h"
#include "spdlog/spdlog.h"
#include "storage/media_types.h"
#include "storage/status_macros.h"

namespace slipway::registry {
namespace {

// Registry error bodies are untrusted: keep a short printable excerpt of code and message.
std::string ErrorDetail(const HttpResponse& response) {
  if (response.body_truncated) return " (error body over 64 KiB ignored)";
  nlohmann::json j = nlohmann::json::parse(response.body, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) return "";
  auto errors = j.find("errors");
  if (errors == j.end() || !errors->is_array() || errors->empty() || !(*errors)[0].is_object()) {
    return "";
  }
  const auto& e = (*errors)[0];
  std::string code = e.contains("code") && e["code"].is_string() ? e["code"].get<std::string>() : "";
  std::string msg =
      e.contains("message") && e["message"].is_string() ? e["message"].get<std::string>() : "";
  std::string text = absl::StrCat(code, code.empty() || msg.empty() ? "" : ": ", msg);
  std::string clean;
  for (char c : text.substr(0, 200)) clean.push_back((c >= 0x20 && c < 0x7f) ? c : '?');
  return clean.empty() ? "" : absl::StrCat(" (", clean, ")");
}

std::string ManifestAccept() {
  return absl::StrJoin({media::kOciManifest, media::kOciIndex, media::kDockerManifest,
                        media::kDockerManifestList},
                       ", ");
}

}  // namespace

namespace {

// Reads a blob file from an offset (resumed and chunked uploads).
class FileRangeReader : public BlobReader {
 public:
  FileRangeReader(int fd, int64_t size) : fd_(fd), size_(size) {}
  ~FileRangeReader() override { close(fd_); }
  int64_t size() const override { return size_; }
  absl::StatusOr<size_t> Read(char* buf, size_t n) override {
    for (;;) {
      ssize_t got = read(fd_, buf, n);
      if (got >= 0) return static_cast<size_t>(got);
      if (errno != EINTR) return absl::DataLossError(absl::StrCat("read: ", strerror(errno)));
    }
  }

 private:
  int fd_;
  int64_t size_;
};

}  // namespace

BlobOpener OpenFromStore(const BlobStore& store, const Digest& digest) {
  return [&store, digest](int64_t offset) -> absl::StatusOr<std::unique_ptr<BlobReader>> {
    if (offset == 0) return store.NewReader(digest, /*verify=*/false);
    SLIPWAY_ASSIGN_OR_RETURN(int64_t size, store.Stat(digest));
    if (offset < 0 || offset > size) {
      return absl::OutOfRangeError(absl::StrCat("offset ", offset, " is outside blob ",
                                                digest.ToString(), " of ", size, " bytes"));
    }
    const std::string path = store.PathOf(digest);
    int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return absl::NotFoundError(absl::StrCat("cannot open blob ", digest.ToString()));
    if (lseek(fd, offset, SEEK_SET) != offset) {
      close(fd);
      return absl::DataLossError(absl::StrCat("cannot seek in blob ", digest.ToString()));
    }
    posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
    return std::unique_ptr<BlobReader>(new FileRangeReader(fd, size));
  };
}

RegistryClient::RegistryClient(const RegistryClientOptions& options, Clock& clock)
    : options_(options), api_host_(RegistryApiHost(options.registry)), clock_(clock) {}

RegistryClient::~RegistryClient() = default;

absl::StatusOr<std::unique_ptr<RegistryClient>> RegistryClient::Create(
    const RegistryClientOptions& options, Clock& clock) {
  if (options.registry.empty()) return absl::InvalidArgumentError("registry must be set");
  if (options.chunk_bytes <= 0 || options.monolithic_max_bytes < 0) {
    return absl::InvalidArgumentError("chunk_bytes must be positive");
  }
  std::unique_ptr<RegistryClient> c(new RegistryClient(options, clock));
  c->log_ = options.logger != nullptr ? options.logger : spdlog::default_logger();
  HttpClientOptions http;
  http.tls = options.tls;
  http.allow_plain_http = options.plain_http;
  http.enable_http2 = options.enable_http2;
  SLIPWAY_ASSIGN_OR_RETURN(c->http_, HttpClient::Create(http));
  const TlsConfig& tls = options.tls;
  const bool tls_configured = !tls.ca_pem.empty() || !tls.ca_file.empty() ||
                              !tls.client_cert_pem.empty() || !tls.client_cert_file.empty() ||
                              tls.insecure_skip_verify;
  {
    absl::MutexLock lock(&c->mu_);
    c->base_url_ = absl::StrCat(options.plain_http ? "http://" : "https://", c->api_host_);
    c->may_fall_back_to_http_ =
        !options.plain_http && !tls_configured && IsLoopbackHost(c->api_host_);
  }
  AuthenticatorOptions auth;
  auth.registry_host = c->api_host_;
  auth.registry_https = !options.plain_http;
  auth.credentials = options.credentials;
  c->auth_ = std::make_unique<Authenticator>(*c->http_, clock, std::move(auth));
  c->retry_ = std::make_unique<RetryPolicy>(options.retry, clock);
  return c;
}

std::string RegistryClient::base_url() const {
  absl::MutexLock lock(&mu_);
  return base_url_;
}

std::optional<RateLimit> RegistryClient::last_rate_limit() const {
  absl::MutexLock lock(&mu_);
  return rate_limit_;
}

std::string RegistryClient::Url(absl::string_view path) const {
  return absl::StrCat(base_url(), path);
}

absl::Time RegistryClient::DeadlineOf(const CallOptions& call) const {
  return call.deadline.has_value() ? *call.deadline : clock_.Now() + options_.operation_timeout;
}

absl::Status RegistryClient::HttpError(const HttpResponse& response, absl::string_view what) const {
  std::string msg = absl::StrCat(what, ": registry ", api_host_, " answered HTTP ",
                                 response.status, ErrorDetail(response));
  switch (response.status) {
    case 401: return absl::UnauthenticatedError(msg);
    case 403: return absl::PermissionDeniedError(msg);
    case 404: return absl::NotFoundError(msg);
    case 413: return absl::ResourceExhaustedError(msg);
    case 408: case 429: case 500: case 502: case 503: case 504:
      return absl::UnavailableError(msg);
    default:
      return response.status >= 500 ? absl::UnavailableError(msg)
                                     : absl::FailedPreconditionError(msg);
  }
}

absl::StatusOr<HttpResponse> RegistryClient::Execute(const Call& call, const CallOptions& co) {
  const absl::Time deadline = DeadlineOf(co);
  if (!call.retry) {
    if (clock_.Now() >= deadline) {
      return absl::DeadlineExceededError(absl::StrCat(call.method, " ", RedactUrl(call.url.empty() ? Url(call.path) : call.url), ": deadline passed"));
    }
    return ExecuteOnce(call, deadline);
  }
  return retry_->Run([&] { return ExecuteOnce(call, deadline); }, deadline, co.stats);
}

absl::StatusOr<HttpResponse> RegistryClient::ExecuteOnce(const Call& call, absl::Time deadline) {
  std::optional<std::string> fresh_auth;  // the header won by answering a 401
  for (int round = 0;; ++round) {
    const std::string url = call.url.empty() ? Url(call.path) : call.url;
    SLIPWAY_ASSIGN_OR_RETURN(UrlParts parts, ParseUrl(url));
    const bool registry_host = parts.HostPort() == absl::AsciiStrToLower(api_host_);
    HttpRequest req;
    req.method = call.method;
    req.url = url;
    req.headers = call.headers;
    req.body = call.body;
    req.sink = call.sink;
    req.on_body_start = call.on_body_start;
    req.max_body_bytes = call.max_body_bytes;
    req.connect_timeout = options_.connect_timeout;
    req.stall_timeout = options_.stall_timeout;
    req.timeout = std::max(absl::Milliseconds(1), deadline - clock_.Now());
    if (registry_host) {
      // Credentials go to the registry's own host only, never to an upload or blob location
      // elsewhere.
      if (fresh_auth.has_value()) {
        req.headers.Set("Authorization", *fresh_auth);
      } else {
        SLIPWAY_ASSIGN_OR_RETURN(std::optional<std::string> auth,
                                 auth_->AuthorizationFor(call.scopes));
        if (auth.has_value()) req.headers.Set("Authorization", *auth);
      }
    }
    std::unique_ptr<BlobReader> reader;
    if (call.open) {
      SLIPWAY_ASSIGN_OR_RETURN(reader, call.open(call.offset));
      req.body_length = call.body_length;
      req.body_reader = LimitedReader(reader.get(), call.body_length, call.bytes_sent);
    }
    absl::StatusOr<HttpResponse> resp =
        call.follow_redirects ? http_->SendFollowingRedirects(req) : http_->Send(req);
    if (options_.on_response) options_.on_response(call.method, resp.ok() ? resp->status : 0);
    if (!resp.ok()) {
      auto reason = TransportErrorReason(resp.status());
      bool fall_back = false;
      if (call.url.empty() && reason == "tls_handshake" && absl::StartsWith(url, "https://")) {
        absl::MutexLock lock(&mu_);
        if (absl::StartsWith(base_url_, "http://")) {
          fall_back = true;  // another thread already switched this loopback registry
        } else if (may_fall_back_to_http_) {
          // Docker's rule for loopback registries: https first, then plain http.
          base_url_ = absl::StrCat("http://", api_host_);
          may_fall_back_to_http_ = false;
          fall_back = true;
          log_->info("registry {}: no TLS on loopback, using plain http", api_host_);
        }
      }
      if (fall_back) continue;
      return resp;
    }
    if (call.url.empty()) {
      absl::MutexLock lock(&mu_);
      may_fall_back_to_http_ = false;  // the scheme works: keep it
    }
    if (auto rl = ParseRateLimit(resp->headers); rl.has_value()) {
      log_->debug("registry {}: rate limit {} remaining of {}", api_host_,
                  rl->remaining.value_or(-1), rl->limit.value_or(-1));
      absl::MutexLock lock(&mu_);
      rate_limit_ = rl;
    }
    if (resp->status == 401 && registry_host && !fresh_auth.has_value()) {
      SLIPWAY_ASSIGN_OR_RETURN(fresh_auth, auth_->OnUnauthorized(*resp, call.scopes));
      continue;
    }
    return resp;
  }
}

absl::Status RegistryClient::Ping(const CallOptions& co) {
  Call call;
  call.path = "/v2/";
  SLIPWAY_ASSIGN_OR_RETURN(HttpResponse resp, Execute(call, co));
  if (resp.status == 200) return absl::OkStatus();
  return HttpError(resp, "ping");
}

absl::StatusOr<std::optional<int64_t>> RegistryClient::HasBlob(absl::string_view repository,
                                                               const Digest& digest,
                                                               bool for_push,
                                                               const CallOptions& co) {
  SLIPWAY_RETURN_IF_ERROR(ValidateRepository(repository));
  Call call;
  call.method = "HEAD";
  call.path = absl::StrCat("/v2/", repository, "/blobs/", digest.ToString());
  call.scopes = {RepositoryScope(repository, for_push)};
  call.follow_redirects = true;
  SLIPWAY_ASSIGN_OR_RETURN(HttpResponse resp, Execute(call, co));
  if (resp.status == 404 || resp.status == 403) return std::optional<int64_t>();
  if (resp.status != 200) {
    return HttpError(resp, absl::StrCat("HEAD blob ", digest.ToString(), " in ", repository));
  }
  int64_t size = -1;
  if (auto len = resp.headers.Get("Content-Length"); len.has_value()) {
    if (!absl::SimpleAtoi(*len, &size)) size = -1;
  }
  return std::optional<int64_t>(size);
}

absl::StatusOr<MountResult> RegistryClient::MountBlob(absl::string_view repository,
                                                      const Digest& digest,
                                                      absl::string_view from_repository,
                                                      const CallOptions& co) {
  SLIPWAY_RETURN_IF_ERROR(ValidateRepository(repository));
  SLIPWAY_RETURN_IF_ERROR(ValidateRepository(from_repository));
  Call call;
  call.method = "POST";
  SLIPWAY_ASSIGN_OR_RETURN(
      std::string url,
      AppendQueryParam(Url(absl::StrCat("/v2/", repository, "/blobs/uploads/")), "mount",
                       digest.ToString()));
  SLIPWAY_ASSIGN_OR_RETURN(call.url, AppendQueryParam(url, "from", from_repository));
  call.scopes = {RepositoryScope(repository, true), RepositoryScope(from_repository, false)};
  SLIPWAY_ASSIGN_OR_RETURN(HttpResponse resp, Execute(call, co));
  MountResult result;
  if (resp.status == 201) {
    result.mounted = true;
    return result;
  }
  if (resp.status == 202) {
    auto location = resp.headers.Get("Location");
    if (location.has_value()) {
      SLIPWAY_ASSIGN_OR_RETURN(result.upload_location, ResolveUrl(call.url, *location));
    }
    return result;
  }
  return HttpError(resp, absl::StrCat("mount of blob ", digest.ToString(), " from ",
                                      from_repository, " into ", repository));
}

absl::StatusOr<FetchedManifest> RegistryClient::GetManifest(absl::string_view repository,
                                                            absl::string_view reference,
                                                            const CallOptions& co) {
  SLIPWAY_RETURN_IF_ERROR(ValidateRepository(repository));
  SLIPWAY_RETURN_IF_ERROR(ValidateManifestReference(reference));
  Call call;
  call.path = absl::StrCat("/v2/", repository, "/manifests/", reference);
  call.headers.Add("Accept", ManifestAccept());
  call.scopes = {RepositoryScope(repository, false)};
  call.follow_redirects = true;
  call.max_body_bytes = kMaxManifestBytes;
  SLIPWAY_ASSIGN_OR_RETURN(HttpResponse resp, Execute(call, co));
  const std::string what = absl::StrCat("GET manifest ", repository, ":", reference);
  if (resp.status != 200) return HttpError(resp, what);
  FetchedManifest m{"", "", Sha256Of(resp.body)};
  if (absl::StartsWith(reference, "sha256:")) {
    SLIPWAY_ASSIGN_OR_RETURN(Digest wanted, Digest::Parse(reference));
    if (wanted != m.digest) {
      return absl::DataLossError(absl::StrCat(what, ": the registry's bytes hash to ",
                                              m.digest.ToString()));
    }
  }
  std::string type = resp.headers.Get("Content-Type").value_or("");
  type = std::string(absl::StripAsciiWhitespace(type.substr(0, type.find(';'))));
  if (type.empty() || type == "application/json") {
    nlohmann::json j = nlohmann::json::parse(resp.body, nullptr, /*allow_exceptions=*/false);
    if (j.is_object() && j.contains("mediaType") && j["mediaType"].is_string()) {
      type = j["mediaType"].get<std::string>();
    }
  }
  m.media_type = std::move(type);
  m.bytes = std::move(resp.body);
  return m;
}

absl::StatusOr<std::optional<std::string>> RegistryClient::GetReferrers(
    absl::string_view repository, const Digest& digest, const CallOptions& co) {
  SLIPWAY_RETURN_IF_ERROR(ValidateRepository(repository));
  Call call;
  call.path = absl::StrCat("/v2/", repository, "/referrers/", digest.ToString());
  call.headers.Add("Accept", "application/vnd.oci.image.index.v1+json");
  call.scopes = {RepositoryScope(repository, false)};
  call.follow_redirects = true;
  call.max_body_bytes = kMaxManifestBytes;
  SLIPWAY_ASSIGN_OR_RETURN(HttpResponse resp, Execute(call, co));
  if (resp.status == 404) return std::optional<std::string>();
  if (resp.status != 200) {
    return HttpError(resp, absl::StrCat("GET referrers ", repository, "@", digest.ToString()));
  }
  std::string type = resp.headers.Get("Content-Type").value_or("");
  // A registry without the API may answer its catch-all route with something else entirely.
  if (!absl::StartsWith(type, "application/vnd.oci.image.index.v1+json")) {
    return std::optional<std::string>();
  }
  return std::optional<std::string>(std::move(resp.body));
}

absl::StatusOr<std::optional<ManifestHead>> RegistryClient::HeadManifest(
    absl::string_view repository, absl::string_view reference, const CallOptions& co) {
  SLIPWAY_RETURN_IF_ERROR(ValidateRepository(repository));
  SLIPWAY_RETURN_IF_ERROR(ValidateManifestReference(reference));
  Call call;
  call.method = "HEAD";
  call.path = absl::StrCat("/v2/", repository, "/manifests/", reference);
  call.headers.Add("Accept", ManifestAccept());
  call.scopes = {RepositoryScope(repository, false)};
  call.follow_redirects = true;
  SLIPWAY_ASSIGN_OR_RETURN(HttpResponse resp, Execute(call, co));
  if (resp.status == 404) return std::optional<ManifestHead>();
  if (resp.status != 200) {
    return HttpError(resp, absl::StrCat("HEAD manifest ", repository, ":", reference));
  }
  ManifestHead head;
  if (auto d = resp.headers.Get("Docker-Content-Digest"); d.has_value()) {
    auto parsed = Digest::Parse(*d);
    if (parsed.ok()) head.claimed_digest = *parsed;
  }
  if (auto len = resp.headers.Get("Content-Length"); len.has_value()) {
    if (!absl::SimpleAtoi(*len, &head.size)) head.size = -1;
  }
  head.media_type = resp.headers.Get("Content-Type").value_or("");
  return std::optional<ManifestHead>(std::move(head));
}

absl::StatusOr<Digest> RegistryClient::PutManifest(absl::string_view repository,
                                                   absl::string_view reference,
                                                   absl::string_view media_type,
                                                   absl::string_view bytes,
                                                   const CallOptions& co) {
  SLIPWAY_RETURN_IF_ERROR(ValidateRepository(repository));
  SLIPWAY_RETURN_IF_ERROR(ValidateManifestReference(reference));
  const Digest ours = Sha256Of(bytes);
  if (absl::StartsWith(reference, "sha256:") && reference != ours.ToString()) {
    return absl::InvalidArgumentError(absl::StrCat("manifest pushed by digest ", reference,
                                                   " hashes to ", ours.ToString()));
  }
  if (static_cast<int64_t>(bytes.size()) > kMaxManifestBytes) {
    return absl::ResourceExhaustedError(
        absl::StrCat("manifest ", ours.ToString(), " is over 4 MiB"));
  }
  Call call;
  call.method = "PUT";
  call.path = absl::StrCat("/v2/", repository, "/manifests/", reference);
  call.headers.Add("Content-Type", media_type);
  call.body = std::string(bytes);
  call.scopes = {RepositoryScope(repository, true)};
  SLIPWAY_ASSIGN_OR_RETURN(HttpResponse resp, Execute(call, co));
  if (resp.status != 201 && resp.status != 200) {
    return HttpError(resp, absl::StrCat("PUT manifest ", ours.ToString(), " as ", repository,
                                        ":", reference));
  }
  if (auto claimed = resp.headers.Get("Docker-Content-Digest");
      claimed.has_value() && *claimed != ours.ToString()) {
    log_->warn("registry {}: manifest {} stored, but the registry reports digest {}", api_host_,
               ours.ToString(), claimed->substr(0, 80));
  }
  return ours;
}

}  // namespace slipway::registry
