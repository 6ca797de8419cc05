// Scan and RecordScan: proto ⇄ the scanner (server/scan/), and the push gate's check.

#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "server/common/auth.h"
#include "server/common/status_mapping.h"
#include "server/registry/registry_client.h"
#include "server/registry/retry.h"
#include "server/scan/gate.h"
#include "server/scan/referrer.h"
#include "server/scan/report_parser.h"
#include "server/scan/scanner.h"
#include "server/service/rpc_scope.h"
#include "server/service/slipway_service.h"
#include "storage/status_macros.h"

namespace slipway {
namespace {

// RecordScan reports larger than this are refused; gRPC's default message limit (4 MiB) is
// lower anyway, this keeps the bound explicit.
constexpr int64_t kMaxRecordedReportBytes = 16 << 20;
constexpr char kRecordScanTokenHeader[] = "x-slipway-record-scan-token";

void ToProto(const ScanResultRecord& r, v1::HookResult* out) {
  out->set_scanner(r.scanner);
  out->set_scanner_version(r.scanner_version);
  out->set_passed(r.passed);
  out->set_exit_code(r.exit_code);
  v1::SeveritySummary* s = out->mutable_summary();
  s->set_critical(static_cast<int32_t>(r.critical));
  s->set_high(static_cast<int32_t>(r.high));
  s->set_medium(static_cast<int32_t>(r.medium));
  s->set_low(static_cast<int32_t>(r.low));
  s->set_unknown(static_cast<int32_t>(r.unknown));
  if (r.report) {
    out->mutable_report()->set_media_type(r.report->media_type);
    out->mutable_report()->set_digest(r.report->digest.ToString());
    out->mutable_report()->set_size(r.report->size);
  }
  out->set_message(r.message);
  out->set_duration_ms(r.duration_ms);
}

bool ValidScannerName(const std::string& name) {
  if (name.empty() || name.size() > 128) return false;
  for (char c : name) {
    if (!absl::ascii_isalnum(c) && c != '-' && c != '_' && c != '.') return false;
  }
  return true;
}

}  // namespace

grpc::Status SlipwayService::Scan(grpc::ServerContext* context, const v1::ScanRequest* request,
                                  v1::ScanResponse* response) {
  RpcScope scope("Scan", context, metrics_, request_ids_, *log_);
  auto image = ResolveRef(request->ref());
  if (!image.ok()) return scope.Finish(image.status());
  if (options_.scanner == nullptr) {
    return scope.Finish(
        absl::FailedPreconditionError("Scan: this server has no scan hooks configured"));
  }
  scan::ScanOptions options;
  options.image_name = absl::StartsWith(request->ref(), "sha256:") ? "" : request->ref();
  for (const auto& name : request->scanners()) options.scanners.push_back(name);
  auto outcome = options_.scanner->Scan(*image, options);
  if (!outcome.ok()) return scope.Finish(outcome.status());
  response->set_manifest_digest(outcome->manifest.ToString());
  response->set_passed(outcome->passed);
  for (const auto& r : outcome->results) {
    ToProto(r, response->add_results());
    scope.log().info("[req={}] scan {} with {}: {}{}", scope.id(), outcome->manifest.ToString(),
                     r.scanner, r.passed ? "passed" : "FAILED",
                     r.message.empty() ? "" : " (" + r.message + ")");
  }
  if (!outcome->timed_out.empty()) {
    // The contract: a hook past its timeout fails the call (the result is recorded already).
    return scope.Finish(absl::DeadlineExceededError(absl::StrCat(
        "scan of ", outcome->manifest.ToString(), ": hook \"", outcome->timed_out.front(),
        "\" ran past its timeout and was killed (fail closed); its failed result is recorded")));
  }
  return scope.Finish(absl::OkStatus());
}

grpc::Status SlipwayService::RecordScan(grpc::ServerContext* context,
                                        const v1::RecordScanRequest* request,
                                        v1::RecordScanResponse* response) {
  RpcScope scope("RecordScan", context, metrics_, request_ids_, *log_);
  if (options_.record_scan_token.empty()) {
    return scope.Finish(absl::PermissionDeniedError(
        "RecordScan: this server accepts no recorded scans (no record_scan_token_file set)"));
  }
  const auto& md = context->client_metadata();
  auto it = md.find(kRecordScanTokenHeader);
  if (it == md.end() ||
      !BearerTokenMatches(absl::StrCat("Bearer ", absl::string_view(it->second.data(),
                                                                    it->second.size())),
                          options_.record_scan_token)) {
    return scope.Finish(absl::PermissionDeniedError(absl::StrCat(
        "RecordScan: the caller lacks the record-scan permission (", kRecordScanTokenHeader,
        " metadata missing or wrong)")));
  }
  if (!ValidScannerName(request->scanner())) {
    return scope.Finish(absl::InvalidArgumentError(
        "scanner: must be 1-128 characters of letters, digits, '-', '_' and '.'"));
  }
  auto image = ResolveRef(request->ref());
  if (!image.ok()) return scope.Finish(image.status());
  ScanResultRecord r;
  r.manifest = image->manifest.digest;
  r.scanner = request->scanner();
  r.scanner_version = request->scanner_version();
  r.passed = request->passed();
  r.exit_code = request->exit_code();
  r.message = request->message();
  r.source = "recorded";
  if (!request->report().empty()) {
    if (static_cast<int64_t>(request->report().size()) > kMaxRecordedReportBytes) {
      return scope.Finish(absl::ResourceExhaustedError(
          absl::StrCat("report: ", request->report().size(), " bytes is over the limit of ",
                       kMaxRecordedReportBytes)));
    }
    auto stored = blobs_.PutSmall(request->report());
    if (!stored.ok()) return scope.Finish(stored.status());
    r.report = Descriptor{request->report_media_type().empty() ? "application/json"
                                                               : request->report_media_type(),
                          stored->digest, stored->size, {}};
  }
  if (request->has_summary()) {
    r.summary_known = true;
    r.critical = request->summary().critical();
    r.high = request->summary().high();
    r.medium = request->summary().medium();
    r.low = request->summary().low();
    r.unknown = request->summary().unknown();
  } else if (!request->report().empty()) {
    if (auto counts = scan::SummarizeReport(request->report())) {
      scan::SetSummary(*counts, &r);
    }
  }
  absl::Status s = index_.RecordScanResult(r);
  if (!s.ok()) return scope.Finish(s);
  response->set_manifest_digest(r.manifest.ToString());
  ToProto(r, response->mutable_result());
  scope.log().info("[req={}] recorded scan of {} by {}: {}", scope.id(), r.manifest.ToString(),
                   r.scanner, r.passed ? "passed" : "failed");
  return scope.Finish(absl::OkStatus());
}

absl::Status SlipwayService::CheckPushGate(const ImageRecord& image,
                                           const v1::ScanGate& gate) const {
  scan::Require require = scan::Require::kNone;
  if (gate.require() == v1::ScanGate::ANY) require = scan::Require::kAny;
  if (gate.require() == v1::ScanGate::ALL) require = scan::Require::kAll;
  auto limit = scan::ParseSeverityLimit(gate.max_severity());
  if (!limit.ok()) return WithField(limit.status(), "gate.max_severity");
  scan::GatePolicy policy = scan::Stricter(options_.push_gate, require, *limit);
  if (policy.require == scan::Require::kNone) return absl::OkStatus();
  std::vector<std::string> hooks;
  if (options_.scanner != nullptr) hooks = options_.scanner->hook_names();
  auto results = index_.ScanResults(image.manifest.digest);
  if (!results.ok()) return results.status();
  return scan::CheckGate(policy, hooks, image.manifest.digest, *results);
}

absl::Status SlipwayService::AttachScanReports(const ImageRecord& image,
                                               const push::PushTarget& target,
                                               absl::Time deadline) const {
  SLIPWAY_ASSIGN_OR_RETURN(auto results, index_.ScanResults(image.manifest.digest));
  bool any = false;
  for (const auto& r : results) any = any || r.report.has_value();
  if (!any) return absl::OkStatus();
  registry::RealClock clock;
  registry::RegistryClientOptions o;
  o.registry = target.registry;
  o.credentials = target.credentials;
  o.tls = target.tls;
  o.plain_http = target.plain_http;
  SLIPWAY_ASSIGN_OR_RETURN(auto client, registry::RegistryClient::Create(o, clock));
  registry::CallOptions call;
  if (deadline != absl::InfiniteFuture()) call.deadline = deadline;
  for (const auto& r : results) {
    if (!r.report) continue;
    auto attached = scan::AttachReportAsReferrer(*client, blobs_, target.repository,
                                                 image.manifest, r, call);
    if (!attached.ok()) {
      return absl::Status(attached.status().code(),
                          absl::StrCat("pushed, but attaching the \"", r.scanner,
                                       "\" scan report as a referrer failed: ",
                                       attached.status().message()));
    }
    log_->info("attached the {} scan report of {} to {}/{} as {}", r.scanner,
               image.manifest.digest.ToString(), target.registry, target.repository,
               attached->ToString());
  }
  return absl::OkStatus();
}

}  // namespace slipway
