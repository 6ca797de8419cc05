#include "client/scan_flow.h"

#include "absl/strings/str_format.h"
#include "client/commands.h"
#include "client/rpc_status.h"

namespace slipway::client {

absl::StatusOr<v1::ScanResponse> ScanImage(Connection& conn, const std::string& ref,
                                           const std::vector<std::string>& scanners) {
  v1::ScanRequest request;
  request.set_ref(ref);
  for (const auto& s : scanners) request.add_scanners(s);
  v1::ScanResponse response;
  auto ctx = conn.NewContext();
  grpc::Status status = conn.stub().Scan(ctx.get(), request, &response);
  if (!status.ok()) return FromRpc(status, "Scan: ");
  return response;
}

std::string SeveritySummaryText(const v1::SeveritySummary& s) {
  return absl::StrFormat("critical=%d high=%d medium=%d low=%d unknown=%d", s.critical(),
                         s.high(), s.medium(), s.low(), s.unknown());
}

void PrintHookResult(std::ostream& out, const v1::HookResult& r) {
  out << absl::StrFormat("%-20s %-8s exit=%-4d %s  %s%s  %.2fs\n", r.scanner(),
                         r.passed() ? "PASSED" : "FAILED", r.exit_code(),
                         SeveritySummaryText(r.summary()),
                         r.scanner_version().empty() ? "" : "version=", r.scanner_version(),
                         r.duration_ms() / 1000.0);
  if (!r.report().digest().empty()) {
    out << "  report: " << r.report().digest() << " (" << HumanSize(r.report().size()) << ", "
        << r.report().media_type() << ")\n";
  }
  if (!r.message().empty()) out << "  " << r.message() << "\n";
}

}  // namespace slipway::client
