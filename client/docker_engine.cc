#include "client/docker_engine.h"

#include <curl/curl.h>
#include <sys/stat.h>

#include <memory>
#include <nlohmann/json.hpp>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "client/export_stream.h"

namespace slipway::client {
namespace {

constexpr long kConnectTimeoutSeconds = 30;
// The engine may stay silent while it unpacks a large archive after the upload; ten minutes
// without a byte either way is a stalled engine, not a slow one.
constexpr long kStallSeconds = 600;
// The engine's answer is a few JSON lines; more than this is not kept (bounded memory).
constexpr size_t kMaxKeptResponse = 64 << 10;

// Where libcurl connects for one docker_host.
struct EngineEndpoint {
  std::string base_url;     // "http://host:port" or "https://..."; "http://localhost" for unix
  std::string socket_path;  // unix sockets only
};

absl::StatusOr<EngineEndpoint> ParseDockerHost(const std::string& docker_host,
                                               const DockerEngineTls& tls) {
  auto invalid = [&](const std::string& why) {
    return absl::InvalidArgumentError(
        absl::StrCat("docker host \"", docker_host, "\": ", why,
                     " (want unix:///path, tcp://host:port or http(s)://host:port)"));
  };
  EngineEndpoint ep;
  absl::string_view rest = docker_host;
  if (absl::ConsumePrefix(&rest, "unix://")) {
    if (rest.empty() || rest[0] != '/') return invalid("the socket path must be absolute");
    ep.socket_path = std::string(rest);
    ep.base_url = "http://localhost";
    return ep;
  }
  std::string scheme;
  if (absl::ConsumePrefix(&rest, "tcp://")) {
    scheme = tls.enabled ? "https" : "http";
  } else if (absl::ConsumePrefix(&rest, "http://")) {
    scheme = "http";
  } else if (absl::ConsumePrefix(&rest, "https://")) {
    scheme = "https";
  } else {
    return invalid("unsupported scheme");
  }
  while (absl::ConsumeSuffix(&rest, "/")) {
  }
  if (rest.empty()) return invalid("no host");
  if (rest.find('/') != absl::string_view::npos) return invalid("a path is not supported");
  // A port after the host (or after "]" of an IPv6 literal); Docker's defaults otherwise.
  size_t bracket = rest.rfind(']');
  size_t colon = rest.rfind(':');
  bool has_port = colon != absl::string_view::npos &&
                  (bracket == absl::string_view::npos || colon > bracket);
  ep.base_url = absl::StrCat(scheme, "://", rest);
  if (!has_port) absl::StrAppend(&ep.base_url, scheme == "https" ? ":2376" : ":2375");
  return ep;
}

// What the engine sent back, parsed line by line as it arrives.
struct ResponseState {
  std::string partial;                // an incomplete last line
  std::vector<std::string> messages;  // "stream" lines, trimmed
  std::string engine_error;           // the first "error"/"errorDetail" message
  std::string raw;                    // the body's first kMaxKeptResponse bytes
  size_t kept = 0;                    // bytes of messages kept, for the bound
};

void HandleLine(absl::string_view line, ResponseState* state) {
  line = absl::StripAsciiWhitespace(line);
  if (line.empty()) return;
  nlohmann::json j = nlohmann::json::parse(line.begin(), line.end(), nullptr,
                                           /*allow_exceptions=*/false);
  std::string text;
  if (j.is_object()) {
    // Docker puts the message in both; errorDetail.message is the structured one.
    auto detail = j.find("errorDetail");
    if (detail != j.end() && detail->is_object() && detail->contains("message") &&
        (*detail)["message"].is_string()) {
      if (state->engine_error.empty()) state->engine_error = (*detail)["message"];
      return;
    }
    auto error = j.find("error");
    if (error != j.end() && error->is_string()) {
      if (state->engine_error.empty()) state->engine_error = error->get<std::string>();
      return;
    }
    auto stream = j.find("stream");
    if (stream == j.end() || !stream->is_string()) return;  // progress and other chatter
    text = std::string(absl::StripAsciiWhitespace(stream->get<std::string>()));
  } else {
    text = std::string(line);  // not JSON: keep it as the engine said it
  }
  if (text.empty() || state->kept + text.size() > kMaxKeptResponse) return;
  state->kept += text.size();
  state->messages.push_back(std::move(text));
}

size_t OnResponseBytes(char* data, size_t size, size_t nmemb, void* userdata) {
  auto* state = static_cast<ResponseState*>(userdata);
  size_t n = size * nmemb;
  absl::string_view chunk(data, n);
  if (state->raw.size() < kMaxKeptResponse) {
    absl::string_view kept = chunk.substr(0, kMaxKeptResponse - state->raw.size());
    state->raw.append(kept.data(), kept.size());
  }
  for (;;) {
    size_t nl = chunk.find('\n');
    if (nl == absl::string_view::npos) break;
    if (state->partial.empty()) {
      HandleLine(chunk.substr(0, nl), state);
    } else {
      state->partial.append(chunk.data(), nl);
      HandleLine(state->partial, state);
      state->partial.clear();
    }
    chunk.remove_prefix(nl + 1);
  }
  // A line longer than the bound is dropped rather than grown without limit.
  if (state->partial.size() + chunk.size() <= kMaxKeptResponse) {
    state->partial.append(chunk.data(), chunk.size());
  } else {
    state->partial.clear();
  }
  return n;
}

struct UploadState {
  const TarReader* read_tar;
  absl::Status read_error;
};

size_t OnUploadWanted(char* buf, size_t size, size_t nitems, void* userdata) {
  auto* state = static_cast<UploadState*>(userdata);
  size_t cap = size * nitems;
  absl::StatusOr<size_t> n = (*state->read_tar)(buf, cap);
  if (!n.ok()) {
    state->read_error = n.status();
    return CURL_READFUNC_ABORT;
  }
  if (*n > cap) {
    state->read_error = absl::InternalError("the archive reader returned more than it was asked");
    return CURL_READFUNC_ABORT;
  }
  return *n;
}

struct CurlDeleter {
  void operator()(CURL* c) const { curl_easy_cleanup(c); }
};
struct SlistDeleter {
  void operator()(curl_slist* l) const { curl_slist_free_all(l); }
};

// The message of a Docker API error body ({"message": "..."}), else the body itself.
std::string ErrorBodyMessage(const std::string& body) {
  nlohmann::json j = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (j.is_object() && j.contains("message") && j["message"].is_string()) {
    return j["message"].get<std::string>();
  }
  std::string trimmed(absl::StripAsciiWhitespace(body));
  return trimmed.empty() ? "no message" : trimmed;
}

bool FileExists(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0;
}

}  // namespace

absl::StatusOr<std::string> ResolveDockerHost(const EnvLookup& env,
                                              const std::string& default_socket) {
  if (auto host = env("DOCKER_HOST"); host.has_value() && !host->empty()) return *host;
  struct stat st;
  if (::stat(default_socket.c_str(), &st) == 0 && S_ISSOCK(st.st_mode)) {
    return "unix://" + default_socket;
  }
  return absl::NotFoundError(absl::StrCat("no Docker Engine configured: DOCKER_HOST is unset and ",
                                          default_socket, " is not a socket"));
}

DockerEngineTls DockerTlsFromEnvironment(const EnvLookup& env) {
  DockerEngineTls tls;
  auto cert_path = env("DOCKER_CERT_PATH");
  auto verify = env("DOCKER_TLS_VERIFY");
  tls.verify = verify.has_value() && !verify->empty();
  std::string dir;
  if (cert_path.has_value() && !cert_path->empty()) {
    dir = *cert_path;
  } else if (tls.verify) {
    auto home = env("HOME");
    dir = (home.has_value() ? *home : std::string()) + "/.docker";
  } else {
    return tls;  // plain HTTP
  }
  tls.enabled = true;
  auto pick = [&](const char* name) {
    std::string path = dir + "/" + name;
    return FileExists(path) ? path : std::string();
  };
  tls.ca_file = pick("ca.pem");
  tls.cert_file = pick("cert.pem");
  tls.key_file = pick("key.pem");
  return tls;
}

absl::Status LoadIntoDockerEngine(const std::string& docker_host, const TarReader& read_tar,
                                  std::string* loaded_message, const DockerEngineTls& tls) {
  absl::StatusOr<EngineEndpoint> ep = ParseDockerHost(docker_host, tls);
  if (!ep.ok()) return ep.status();
  std::unique_ptr<CURL, CurlDeleter> curl(curl_easy_init());
  if (!curl) return absl::InternalError("docker engine: cannot initialise libcurl");
  CURL* c = curl.get();

  std::string url = ep->base_url + "/images/load";
  char error_buffer[CURL_ERROR_SIZE] = {0};
  ResponseState response;
  UploadState upload{&read_tar, absl::OkStatus()};
  curl_slist* raw_headers = nullptr;
  // Chunked: the archive's size is unknown until the export ends. No "Expect: 100-continue":
  // engines accept the body at once and the wait would only add a second.
  for (const char* h : {"Content-Type: application/x-tar", "Transfer-Encoding: chunked",
                        "Expect:"}) {
    raw_headers = curl_slist_append(raw_headers, h);
  }
  std::unique_ptr<curl_slist, SlistDeleter> headers(raw_headers);

  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  if (!ep->socket_path.empty()) {
    curl_easy_setopt(c, CURLOPT_UNIX_SOCKET_PATH, ep->socket_path.c_str());
    curl_easy_setopt(c, CURLOPT_NOPROXY, "*");  // a local socket never goes through a proxy
  }
  curl_easy_setopt(c, CURLOPT_POST, 1L);
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers.get());
  curl_easy_setopt(c, CURLOPT_READFUNCTION, OnUploadWanted);
  curl_easy_setopt(c, CURLOPT_READDATA, &upload);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, OnResponseBytes);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &response);
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, error_buffer);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, kConnectTimeoutSeconds);
  curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
  curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, kStallSeconds);
  curl_easy_setopt(c, CURLOPT_USERAGENT, "slipway/" SLIPWAY_VERSION);
  if (tls.enabled) {
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, tls.verify ? 1L : 0L);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, tls.verify ? 2L : 0L);
    if (!tls.ca_file.empty()) curl_easy_setopt(c, CURLOPT_CAINFO, tls.ca_file.c_str());
    if (!tls.cert_file.empty()) curl_easy_setopt(c, CURLOPT_SSLCERT, tls.cert_file.c_str());
    if (!tls.key_file.empty()) curl_easy_setopt(c, CURLOPT_SSLKEY, tls.key_file.c_str());
  }

  CURLcode rc = curl_easy_perform(c);
  if (!upload.read_error.ok()) return upload.read_error;
  if (!response.partial.empty()) {
    HandleLine(response.partial, &response);
    response.partial.clear();
  }
  const std::string where = "docker engine " + docker_host;
  if (rc != CURLE_OK) {
    std::string detail = error_buffer[0] != '\0' ? error_buffer : curl_easy_strerror(rc);
    return absl::UnavailableError(absl::StrCat(where, ": ", detail));
  }
  long http_status = 0;
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &http_status);
  if (http_status < 200 || http_status >= 300) {
    return absl::InternalError(absl::StrCat(where, ": HTTP ", http_status, " from /images/load: ",
                                            ErrorBodyMessage(response.raw)));
  }
  // Docker answers 200 and reports a failed load inside the stream.
  if (!response.engine_error.empty()) {
    return absl::InternalError(absl::StrCat(where, ": ", response.engine_error));
  }
  if (loaded_message != nullptr) *loaded_message = absl::StrJoin(response.messages, "\n");
  return absl::OkStatus();
}

absl::Status LoadStoredImage(Connection& conn, const std::string& ref,
                             const std::vector<std::string>& repo_tags,
                             const std::string& docker_host, std::string* loaded_message,
                             const DockerEngineTls& tls) {
  v1::ExportImageRequest request;
  request.set_ref(ref);
  request.set_format(v1::DOCKER_COMBINED);
  for (const auto& tag : repo_tags) request.add_repo_tags(tag);
  ExportStream stream(conn, request);
  TarReader read = [&stream](char* buf, size_t cap) { return stream.Read(buf, cap); };
  absl::Status status = LoadIntoDockerEngine(docker_host, read, loaded_message, tls);
  // A failed load leaves the export mid-stream; the destructor would cancel it too, but say so.
  if (!status.ok()) stream.Cancel();
  return status;
}

}  // namespace slipway::client
