#include "server/scan/http_hook.h"

#include <fcntl.h>
#include <unistd.h>

#include <filesystem>
#include <system_error>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "server/registry/http_client.h"
#include "storage/archive/byte_stream.h"
#include "storage/status_macros.h"

namespace slipway::scan {

absl::StatusOr<HttpHookResult> RunHttpHook(const HookConfig& hook, const std::string& archive,
                                           const Digest& digest, const std::string& image,
                                           const std::string& report_path) {
  std::error_code ec;
  const auto size = std::filesystem::file_size(archive, ec);
  if (ec) return absl::InternalError(absl::StrCat("http hook: ", archive, ": ", ec.message()));
  int fd = open(archive.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return absl::InternalError(absl::StrCat("http hook: cannot open ", archive));
  absl::Cleanup close_fd = [fd] { close(fd); };

  registry::HttpClientOptions options;
  options.allow_plain_http = true;  // an http:// URL in the operator's config is the opt-in
  SLIPWAY_ASSIGN_OR_RETURN(auto client, registry::HttpClient::Create(options));

  SLIPWAY_ASSIGN_OR_RETURN(auto report, FileByteSink::Create(report_path));
  int64_t report_bytes = 0;
  bool report_too_big = false;

  registry::HttpRequest request;
  request.method = "POST";
  request.url = hook.url;
  request.headers.Add("Content-Type", "application/x-tar");
  request.headers.Add("X-Slipway-Digest", digest.ToString());
  request.headers.Add("X-Slipway-Image", image);
  request.body_length = static_cast<int64_t>(size);
  request.body_reader = [fd](char* buf, size_t n) -> absl::StatusOr<size_t> {
    ssize_t got = read(fd, buf, n);
    if (got < 0) return absl::InternalError("http hook: reading the archive failed");
    return static_cast<size_t>(got);
  };
  request.timeout = hook.timeout;
  request.sink = [&](absl::string_view piece) -> absl::Status {
    report_bytes += static_cast<int64_t>(piece.size());
    if (report_bytes > hook.max_report_bytes) {
      report_too_big = true;
      return absl::ResourceExhaustedError("report over max_report_bytes");
    }
    return report->Write(piece);
  };

  HttpHookResult result;
  const absl::Time start = absl::Now();
  auto response = client->Send(request);
  result.duration = absl::Now() - start;
  if (!response.ok()) {
    std::filesystem::remove(report_path, ec);
    if (report_too_big) {
      result.message = absl::StrCat("report is over the limit of ", hook.max_report_bytes,
                                    " bytes (max_report_bytes); not stored");
    } else {
      result.timed_out = result.duration >= hook.timeout;
      result.message = absl::StrCat(
          result.timed_out ? absl::StrCat("timed out after ", absl::FormatDuration(hook.timeout),
                                          " (fail closed): ")
                           : "no answer (fail closed): ",
          registry::RedactUrl(hook.url), ": ", response.status().message());
    }
    return result;
  }
  result.http_status = response->status;
  if (response->status < 200 || response->status >= 300) {
    // Error bodies are buffered by the client (capped at 64 KiB): they are the report.
    SLIPWAY_RETURN_IF_ERROR(report->Write(response->body));
    report_bytes = static_cast<int64_t>(response->body.size());
  }
  SLIPWAY_RETURN_IF_ERROR(report->Close());
  result.report_written = report_bytes > 0;
  if (!result.report_written) std::filesystem::remove(report_path, ec);
  if (response->status >= 200 && response->status < 300) {
    result.passed = true;
  } else if (response->status == 409 || response->status == 422) {
    result.message = absl::StrCat("HTTP ", response->status, ": the scanner refused the image");
  } else {
    result.message = absl::StrCat("unexpected HTTP ", response->status, " from ",
                                  registry::RedactUrl(hook.url), " (fail closed)");
  }
  return result;
}

}  // namespace slipway::scan
