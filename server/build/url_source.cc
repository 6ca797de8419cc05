#include "server/build/url_source.h"

#include <curl/curl.h>
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <memory>
#include <system_error>
#include <utility>

#include "absl/cleanup/cleanup.h"
#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "server/registry/http_client.h"
#include "storage/digest.h"
#include "storage/file_util.h"
#include "storage/status_macros.h"

namespace slipway::build {
namespace {

absl::Status StatusForHttp(int status, const std::string& shown_url) {
  std::string message = absl::StrCat("ADD ", shown_url, ": GET returned HTTP ", status);
  if (status == 404 || status == 410) return absl::NotFoundError(message);
  if (status >= 500) return absl::UnavailableError(message);
  return absl::FailedPreconditionError(message);
}

}  // namespace

bool IsHttpUrl(absl::string_view source) {
  return absl::StartsWithIgnoreCase(source, "http://") ||
         absl::StartsWithIgnoreCase(source, "https://");
}

std::string UrlFileName(absl::string_view url) {
  size_t scheme_end = url.find("://");
  absl::string_view rest = scheme_end == absl::string_view::npos ? url : url.substr(scheme_end + 3);
  size_t cut = rest.find_first_of("?#");
  if (cut != absl::string_view::npos) rest = rest.substr(0, cut);
  size_t path_start = rest.find('/');
  if (path_start == absl::string_view::npos) return "";  // "http://host": no path at all
  absl::string_view path = rest.substr(path_start);
  return std::string(path.substr(path.rfind('/') + 1));
}

absl::StatusOr<DownloadedUrl> DownloadUrl(const UrlDownloadRequest& request) {
  const std::string shown_url = registry::RedactUrl(request.url);
  if (!IsHttpUrl(request.url)) {
    return absl::InvalidArgumentError(
        absl::StrCat("ADD ", shown_url, ": only http:// and https:// URLs are supported"));
  }
  std::optional<Digest> expected;
  if (!request.checksum.empty()) {
    absl::StatusOr<Digest> parsed = Digest::Parse(request.checksum);
    if (!parsed.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("ADD ", shown_url, ": --checksum: ",
                                                     parsed.status().message()));
    }
    expected = *parsed;
  }
  std::error_code ec;
  std::filesystem::create_directories(request.staging_dir, ec);
  if (ec) {
    return absl::InternalError(
        absl::StrCat("creating ", request.staging_dir, ": ", ec.message()));
  }

  registry::HttpClientOptions options;
  // Docker downloads plain http:// ADD sources too; https is always verified.
  options.allow_plain_http = true;
  options.tls.ca_file = request.ca_file;
  SLIPWAY_ASSIGN_OR_RETURN(std::unique_ptr<registry::HttpClient> client,
                           registry::HttpClient::Create(options));

  DownloadedUrl result;
  result.file_name = UrlFileName(request.url);
  result.path = request.staging_dir + "/download";
  int fd = ::open(result.path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return ErrnoStatus(errno, "create", result.path);
  bool keep_file = false;
  absl::Cleanup close_fd = [&] {
    if (fd >= 0) ::close(fd);
    if (!keep_file) ::unlink(result.path.c_str());
  };

  Sha256Hasher hasher;
  registry::HttpRequest http;
  http.method = "GET";
  http.url = request.url;
  http.timeout = request.timeout;
  http.connect_timeout = request.connect_timeout;
  http.on_body_start = [&](int, const registry::HeaderMap& headers) -> absl::Status {
    if (std::optional<std::string> modified = headers.Get("Last-Modified")) {
      // libcurl parses every HTTP date format (RFC 1123, 850, asctime).
      time_t seconds = curl_getdate(modified->c_str(), nullptr);
      if (seconds >= 0) result.last_modified_unix_nanos = int64_t{seconds} * 1000000000;
    }
    return absl::OkStatus();
  };
  http.sink = [&](absl::string_view piece) -> absl::Status {
    if (hasher.bytes() + static_cast<int64_t>(piece.size()) > request.max_bytes) {
      return absl::ResourceExhaustedError(absl::StrCat(
          "ADD ", shown_url, ": the download exceeds ", request.max_bytes, " bytes"));
    }
    hasher.Update(piece);
    return WriteAll(fd, piece, result.path);
  };
  absl::StatusOr<registry::HttpResponse> response =
      client->SendFollowingRedirects(std::move(http));
  if (!response.ok()) {
    return absl::Status(response.status().code(),
                        absl::StrCat("ADD ", shown_url, ": ", response.status().message()));
  }
  if (response->status < 200 || response->status >= 300) {
    return StatusForHttp(response->status, shown_url);
  }
  if (::fsync(fd) != 0) return ErrnoStatus(errno, "fsync", result.path);
  result.size = hasher.bytes();
  Digest actual = hasher.Finish();
  result.digest = actual.ToString();
  if (expected && *expected != actual) {
    return absl::InvalidArgumentError(
        absl::StrCat("ADD ", shown_url, ": checksum mismatch: expected ", expected->ToString(),
                     ", got ", result.digest));
  }
  keep_file = true;
  return result;
}

}  // namespace slipway::build
