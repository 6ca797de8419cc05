#ifndef SLIPWAY_SERVER_BUILD_URL_SOURCE_H_
#define SLIPWAY_SERVER_BUILD_URL_SOURCE_H_

#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace slipway::build {

// ADD <url>: one remote file, downloaded the way Docker does it (never unpacked).

struct UrlDownloadRequest {
  std::string url;               // http:// or https://
  std::string checksum;          // "sha256:<hex>" (ADD --checksum) or empty
  std::string staging_dir;       // created; receives the file; the caller removes it
  int64_t max_bytes = int64_t{16} << 30;  // larger bodies fail with RESOURCE_EXHAUSTED
  absl::Duration timeout = absl::Minutes(30);
  absl::Duration connect_timeout = absl::Seconds(30);
  // Extra trust anchors (PEM file) for https; empty = the system bundle. TLS is always verified.
  std::string ca_file;
};

struct DownloadedUrl {
  std::string path;        // the downloaded file, inside staging_dir
  std::string file_name;   // last component of the URL path (query and fragment dropped),
                           // empty when the path ends in "/"
  int64_t size = 0;
  std::string digest;      // "sha256:<hex>" of the content
  // From the Last-Modified header, when present and parseable (Docker sets the file's mtime
  // from it).
  std::optional<int64_t> last_modified_unix_nanos;
};

// Whether an ADD source is a URL Slipway downloads (http:// or https://, case-insensitive).
bool IsHttpUrl(absl::string_view source);

// The last component of the URL's path: "http://h/a/b.tar.gz?x=1" → "b.tar.gz".
std::string UrlFileName(absl::string_view url);

// Streams the body of a GET (following up to 5 redirects) to a file in staging_dir while
// hashing it; TLS verification is always on, plain http is allowed (as Docker allows it).
// Errors name the URL without its query: INVALID_ARGUMENT for a malformed URL or checksum, or a
// checksum mismatch (naming both digests); NOT_FOUND for 404/410; UNAVAILABLE for 5xx and
// transport failures; FAILED_PRECONDITION for other statuses; RESOURCE_EXHAUSTED above
// max_bytes. On error no file is left in staging_dir. Thread-safe.
absl::StatusOr<DownloadedUrl> DownloadUrl(const UrlDownloadRequest& request);

}  // namespace slipway::build

#endif  // SLIPWAY_SERVER_BUILD_URL_SOURCE_H_
