#ifndef SLIPWAY_SERVER_SCAN_HTTP_HOOK_H_
#define SLIPWAY_SERVER_SCAN_HTTP_HOOK_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "server/scan/scan_config.h"
#include "storage/digest.h"

namespace slipway::scan {

struct HttpHookResult {
  bool passed = false;
  int http_status = 0;     // 0 when no response came
  std::string message;     // why it failed
  bool report_written = false;
  bool timed_out = false;
  absl::Duration duration;
};

// POSTs `archive` (streamed from the file, never held whole) to hook.url with
// Content-Type application/x-tar, X-Slipway-Digest and X-Slipway-Image, within hook.timeout.
// The response body goes to `report_path` (at most hook.max_report_bytes; a longer body is cut
// off, the report discarded and the result failed). 2xx → passed; 409 / 422 → failed
// (findings); any other status, a transport error or the timeout → failed closed, with the
// reason in `message`. Errors only for local trouble (the archive cannot be read).
absl::StatusOr<HttpHookResult> RunHttpHook(const HookConfig& hook, const std::string& archive,
                                           const Digest& digest, const std::string& image,
                                           const std::string& report_path);

}  // namespace slipway::scan

#endif  // SLIPWAY_SERVER_SCAN_HTTP_HOOK_H_
