#ifndef SLIPWAY_SERVER_SCAN_SCAN_CONFIG_H_
#define SLIPWAY_SERVER_SCAN_SCAN_CONFIG_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "nlohmann/json.hpp"

namespace slipway::scan {

// Finding severities, lowest first.
enum class Severity { kLow = 1, kMedium = 2, kHigh = 3, kCritical = 4 };

// "low", "medium", "high", "critical" (any case) → Severity; "none" → nullopt inside an engaged
// outer optional meaning "no finding of any severity is allowed". INVALID_ARGUMENT otherwise.
// The outer optional is empty for "" (no severity limit).
struct SeverityLimit {
  bool any_finding_fails = false;     // "none": every finding (unknown included) fails
  std::optional<Severity> max;        // findings above this fail
  bool active() const { return any_finding_fails || max.has_value(); }
};
absl::StatusOr<SeverityLimit> ParseSeverityLimit(const std::string& text);
std::string SeverityLimitName(const SeverityLimit& limit);

// One hook: a program run against a materialized image (exec), or a scanner service the image
// is POSTed to (http).
struct HookConfig {
  enum class Type { kExec, kHttp };
  std::string name;                // unique; results are recorded under it
  Type type = Type::kExec;
  // http only: the scanner service. The Docker 25 combined tarball is POSTed here
  // (Content-Type application/x-tar) with X-Slipway-Digest and X-Slipway-Image headers. 2xx =
  // passed, 409/422 = failed (findings); the response body is the report. Anything else, or no
  // answer within the timeout, fails closed.
  std::string url;
  // argv template. Placeholders, replaced inside any argument: {archive} (Docker 25 combined
  // tarball), {oci_dir} (OCI image layout directory), {image} (the ref asked for, else the
  // digest), {digest} (the manifest digest), {report} (where the hook writes its report).
  std::vector<std::string> argv;
  absl::Duration timeout = absl::Minutes(10);
  int64_t memory_limit_bytes = 0;  // RLIMIT_AS of the hook; 0 = none
  // Variables copied from slipwayd's environment (only if set there). Everything else is
  // dropped, so registry credentials and tokens never reach a hook. PATH defaults to a fixed
  // safe value when not allowed through; HOME is the hook's private work directory.
  std::vector<std::string> env_allow;
  // On timeout the hook fails (closed) unless this is set: then a timeout counts as passed with
  // a message saying so.
  bool pass_on_timeout = false;
  std::string version;                       // static scanner version, or
  std::vector<std::string> version_command;  // argv whose first output line is the version
  int64_t max_report_bytes = 16 << 20;       // larger reports are refused (not stored)
  std::string report_media_type;             // default: application/json
};

// Which scans a push needs. Stricter-wins when a request adds its own (see Stricter).
enum class Require { kNone = 0, kAny = 1, kAll = 2 };
struct GatePolicy {
  Require require = Require::kNone;
  SeverityLimit max_severity;
  // Scanners the gate considers: default every configured hook. Names here may also be
  // scanners that only ever report through RecordScan.
  std::vector<std::string> scanners;
};
absl::StatusOr<Require> ParseRequire(const std::string& text);  // none | any | all
const char* RequireName(Require r);

struct ScanConfig {
  std::vector<HookConfig> hooks;
  GatePolicy push_gate;
  // Where images are materialized for hooks; "" = <data-dir>/scan-work.
  std::string work_dir;
  // The token file a RecordScan caller must present (metadata x-slipway-record-scan-token);
  // "" = RecordScan is refused for everyone.
  std::string record_scan_token_file;
  // Attach stored scan reports to every pushed image as OCI referrers.
  bool attach_reports_on_push = false;
};

// The config file's "scan" object → ScanConfig. INVALID_ARGUMENT naming `where` and the key
// (e.g. `config.json: key "scan.hooks[1].timeout": ...`) for unknown keys, wrong types, bad
// values, duplicate hook names, an empty argv, an unknown placeholder, or a gate scanner list
// naming nothing.
absl::StatusOr<ScanConfig> ParseScanConfig(const nlohmann::json& value, const std::string& where);

}  // namespace slipway::scan

#endif  // SLIPWAY_SERVER_SCAN_SCAN_CONFIG_H_
