#ifndef SLIPWAY_SERVER_SCAN_GATE_H_
#define SLIPWAY_SERVER_SCAN_GATE_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "server/scan/scan_config.h"
#include "storage/image_index.h"

namespace slipway::scan {

// The server's policy tightened by a request's own: the stronger requirement (all > any >
// none) and the lower severity limit win. A request can never loosen the server's policy.
GatePolicy Stricter(const GatePolicy& server, Require request_require,
                    const SeverityLimit& request_limit);

// Whether one recorded result satisfies the policy's severity limit and passed. When it does
// not, `why` says why (e.g. "failed (exit 1)", "2 high findings above max severity medium").
bool ResultPasses(const ScanResultRecord& r, const SeverityLimit& limit, std::string* why);

// OK when the recorded `results` of `manifest` satisfy `policy`: kNone always; kAny when at
// least one of the policy's scanners (default: `configured_hooks`) has a passing result; kAll
// when every one of them has. FAILED_PRECONDITION otherwise, naming the digest and each missing
// or failing scanner with the reason, e.g.
//   push gate: sha256:… has no passing scan from "trivy" (failed (exit 1)) and "grype" (never
//   scanned); run `slipway scan` first
// FAILED_PRECONDITION too when the policy requires scans but names no scanner at all.
absl::Status CheckGate(const GatePolicy& policy, const std::vector<std::string>& configured_hooks,
                       const Digest& manifest, const std::vector<ScanResultRecord>& results);

}  // namespace slipway::scan

#endif  // SLIPWAY_SERVER_SCAN_GATE_H_
