#include "server/scan/gate.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace slipway::scan {

GatePolicy Stricter(const GatePolicy& server, Require request_require,
                    const SeverityLimit& request_limit) {
  GatePolicy out = server;
  if (static_cast<int>(request_require) > static_cast<int>(out.require)) {
    out.require = request_require;
  }
  if (request_limit.any_finding_fails) {
    out.max_severity.any_finding_fails = true;
  } else if (request_limit.max &&
             (!out.max_severity.max || *request_limit.max < *out.max_severity.max)) {
    out.max_severity.max = request_limit.max;
  }
  // A severity limit alone still needs a scan to check it against.
  if (out.max_severity.active() && out.require == Require::kNone) out.require = Require::kAll;
  return out;
}

bool ResultPasses(const ScanResultRecord& r, const SeverityLimit& limit, std::string* why) {
  if (!r.passed) {
    *why = r.exit_code >= 0 ? absl::StrCat("failed (exit ", r.exit_code, ")") : "failed";
    if (!r.message.empty()) absl::StrAppend(why, ": ", r.message);
    return false;
  }
  if (!limit.active()) return true;
  if (!r.summary_known) {
    *why = absl::StrCat("no severity summary to check against max severity ",
                        SeverityLimitName(limit));
    return false;
  }
  if (limit.any_finding_fails) {
    int64_t total = r.critical + r.high + r.medium + r.low + r.unknown;
    if (total > 0) {
      *why = absl::StrCat(total, " findings where max severity none allows none");
      return false;
    }
    return true;
  }
  struct Level {
    Severity severity;
    int64_t count;
    const char* name;
  };
  const Level levels[] = {{Severity::kCritical, r.critical, "critical"},
                          {Severity::kHigh, r.high, "high"},
                          {Severity::kMedium, r.medium, "medium"},
                          {Severity::kLow, r.low, "low"}};
  std::vector<std::string> over;
  for (const Level& l : levels) {
    if (l.severity > *limit.max && l.count > 0) over.push_back(absl::StrCat(l.count, " ", l.name));
  }
  if (over.empty()) return true;
  *why = absl::StrCat(absl::StrJoin(over, ", "), " findings above max severity ",
                      SeverityLimitName(limit));
  return false;
}

absl::Status CheckGate(const GatePolicy& policy, const std::vector<std::string>& configured_hooks,
                       const Digest& manifest, const std::vector<ScanResultRecord>& results) {
  if (policy.require == Require::kNone) return absl::OkStatus();
  const std::vector<std::string>& scanners =
      policy.scanners.empty() ? configured_hooks : policy.scanners;
  if (scanners.empty()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "push gate: ", manifest.ToString(), " needs a passing scan (require ",
        RequireName(policy.require), ") but the server has no scanners configured"));
  }
  std::vector<std::string> problems;
  int passing = 0;
  for (const std::string& name : scanners) {
    auto it = std::find_if(results.begin(), results.end(),
                           [&](const ScanResultRecord& r) { return r.scanner == name; });
    if (it == results.end()) {
      problems.push_back(absl::StrCat("\"", name, "\" (never scanned)"));
      continue;
    }
    std::string why;
    if (ResultPasses(*it, policy.max_severity, &why)) {
      ++passing;
    } else {
      problems.push_back(absl::StrCat("\"", name, "\" (", why, ")"));
    }
  }
  if (policy.require == Require::kAny && passing > 0) return absl::OkStatus();
  if (policy.require == Require::kAll && problems.empty()) return absl::OkStatus();
  return absl::FailedPreconditionError(absl::StrCat(
      "push gate: ", manifest.ToString(), " has no passing scan from ",
      policy.require == Require::kAny ? "any of " : "", absl::StrJoin(problems, " and "),
      "; nothing was pushed (run `slipway scan` first)"));
}

}  // namespace slipway::scan
