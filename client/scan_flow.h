#ifndef SLIPWAY_CLIENT_SCAN_FLOW_H_
#define SLIPWAY_CLIENT_SCAN_FLOW_H_

#include <ostream>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "client/connection.h"
#include "slipway/v1/slipway.pb.h"

namespace slipway::client {

// Runs the server's scan hooks (`scanners`, empty = all) on the stored `ref`. A failing scan is
// a response with passed = false, not an error. Errors: the RPC's code with "Scan: <message>"
// (NOT_FOUND ref or scanner, FAILED_PRECONDITION no hooks configured, ...).
absl::StatusOr<v1::ScanResponse> ScanImage(Connection& conn, const std::string& ref,
                                           const std::vector<std::string>& scanners);

// "critical=N high=N medium=N low=N unknown=N".
std::string SeveritySummaryText(const v1::SeveritySummary& summary);

// One scanner's verdict line, then its report and message lines if any.
void PrintHookResult(std::ostream& out, const v1::HookResult& result);

}  // namespace slipway::client

#endif  // SLIPWAY_CLIENT_SCAN_FLOW_H_
