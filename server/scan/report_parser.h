#ifndef SLIPWAY_SERVER_SCAN_REPORT_PARSER_H_
#define SLIPWAY_SERVER_SCAN_REPORT_PARSER_H_

#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "storage/image_index.h"

namespace slipway::scan {

struct SeverityCounts {
  int64_t critical = 0, high = 0, medium = 0, low = 0, unknown = 0;
  int64_t total() const { return critical + high + medium + low + unknown; }
};

// Counts findings per severity in a scanner report:
//  - Trivy JSON: Results[].Vulnerabilities[].Severity (CRITICAL/HIGH/MEDIUM/LOW/UNKNOWN),
//    plus Results[].Misconfigurations[] and Results[].Secrets[] when present;
//  - SARIF 2.1: runs[].results[]: properties.severity (or properties["security-severity"], a
//    CVSS-like number: >= 9 critical, >= 7 high, >= 4 medium, > 0 low) when present, else the
//    level: error → high, warning → medium, note → low, none/absent → unknown.
// nullopt when the text is JSON in neither shape, or not JSON at all (a report in another
// format is stored, just not summarised). Never throws.
std::optional<SeverityCounts> SummarizeReport(absl::string_view text);

// Reads `path` (at most `max_bytes`; the caller has checked the size) and summarises it.
// nullopt as above or when the file cannot be read.
std::optional<SeverityCounts> SummarizeReportFile(const std::string& path, int64_t max_bytes);

// Copies `counts` into the result's severity summary and marks the summary known.
void SetSummary(const SeverityCounts& counts, ScanResultRecord* result);

}  // namespace slipway::scan

#endif  // SLIPWAY_SERVER_SCAN_REPORT_PARSER_H_
