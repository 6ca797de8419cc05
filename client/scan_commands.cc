// slipway scan / record-scan: the Scan and RecordScan RPCs for CI logs.

#include <cstdlib>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/strip.h"
#include "client/commands.h"
#include "client/scan_flow.h"
#include "storage/file_util.h"

namespace slipway::client {
namespace {

bool ReadInto(const std::string& path, std::string* out) {
  absl::StatusOr<std::string> text = ReadFileToString(path);
  if (!text.ok()) return false;
  *out = *std::move(text);
  return true;
}

}  // namespace

int RunScan(Connection& conn, const std::vector<std::string>& raw) {
  Args args = SplitArgs(raw, {"--scanner"}, {});
  if (!args.error.empty()) return Usage("scan: " + args.error);
  if (args.positional.size() != 1) return Usage("scan: want REF [--scanner NAME]...");
  std::vector<std::string> scanners;
  for (const auto& [name, value] : args.flags) {
    if (name == "--scanner") scanners.push_back(value);
  }
  absl::StatusOr<v1::ScanResponse> scanned = ScanImage(conn, args.positional[0], scanners);
  if (!scanned.ok()) return FailStatus(scanned.status());
  const v1::ScanResponse& response = *scanned;
  std::cout << "scan of " << response.manifest_digest() << ": "
            << (response.passed() ? "PASSED" : "FAILED") << "\n";
  for (const auto& r : response.results()) PrintHookResult(std::cout, r);
  return response.passed() ? kExitOk : kExitFailed;
}

int RunRecordScan(Connection& conn, const std::vector<std::string>& raw) {
  Args args = SplitArgs(raw,
                        {"--scanner", "--version", "--exit-code", "--report", "--media-type",
                         "--message", "--token-file", "--critical", "--high", "--medium", "--low",
                         "--unknown"},
                        {"--passed", "--failed"});
  if (!args.error.empty()) return Usage("record-scan: " + args.error);
  if (args.positional.size() != 1) {
    return Usage("record-scan: want REF --scanner NAME --passed|--failed [--report FILE]");
  }
  v1::RecordScanRequest request;
  request.set_ref(args.positional[0]);
  int verdicts = 0;
  std::string token_file;
  for (const auto& [name, value] : args.flags) {
    int n = 0;
    bool is_count = name == "--critical" || name == "--high" || name == "--medium" ||
                    name == "--low" || name == "--unknown" || name == "--exit-code";
    if (is_count && !absl::SimpleAtoi(value, &n)) {
      return Usage(absl::StrCat("record-scan: ", name, ": \"", value, "\" is not a number"));
    }
    if (name == "--scanner") request.set_scanner(value);
    if (name == "--version") request.set_scanner_version(value);
    if (name == "--exit-code") request.set_exit_code(n);
    if (name == "--media-type") request.set_report_media_type(value);
    if (name == "--message") request.set_message(value);
    if (name == "--token-file") token_file = value;
    if (name == "--passed") request.set_passed(true), ++verdicts;
    if (name == "--failed") request.set_passed(false), ++verdicts;
    if (name == "--critical") request.mutable_summary()->set_critical(n);
    if (name == "--high") request.mutable_summary()->set_high(n);
    if (name == "--medium") request.mutable_summary()->set_medium(n);
    if (name == "--low") request.mutable_summary()->set_low(n);
    if (name == "--unknown") request.mutable_summary()->set_unknown(n);
    if (name == "--report" && !ReadInto(value, request.mutable_report())) {
      return Fail("record-scan", "--report: cannot read " + value);
    }
  }
  if (request.scanner().empty()) return Usage("record-scan: --scanner is required");
  if (verdicts != 1) return Usage("record-scan: give exactly one of --passed or --failed");
  std::string token;
  if (token_file.empty()) {
    if (const char* f = std::getenv("SLIPWAY_RECORD_SCAN_TOKEN_FILE")) token_file = f;
  }
  if (!token_file.empty()) {
    std::string text;
    if (!ReadInto(token_file, &text)) {
      return Fail("record-scan", "cannot read the record-scan token file " + token_file);
    }
    token = std::string(absl::StripAsciiWhitespace(text.substr(0, text.find('\n'))));
  } else if (const char* t = std::getenv("SLIPWAY_RECORD_SCAN_TOKEN")) {
    token = t;
  }
  if (token.empty()) {
    return Usage("record-scan: needs the record-scan token (--token-file, "
                 "SLIPWAY_RECORD_SCAN_TOKEN_FILE or SLIPWAY_RECORD_SCAN_TOKEN)");
  }
  auto ctx = conn.NewContext(300);
  ctx->AddMetadata("x-slipway-record-scan-token", token);
  v1::RecordScanResponse response;
  grpc::Status status = conn.stub().RecordScan(ctx.get(), request, &response);
  if (!status.ok()) return FailRpc("RecordScan", status);
  std::cout << "recorded scan of " << response.manifest_digest() << "\n";
  PrintHookResult(std::cout, response.result());
  return kExitOk;
}

}  // namespace slipway::client
