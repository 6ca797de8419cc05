// Report summaries (Trivy JSON, SARIF), the scan config parser and the gate policy.
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/scan/gate.h"
#include "server/scan/report_parser.h"
#include "server/scan/scan_config.h"

namespace slipway::scan {
namespace {

using ::testing::HasSubstr;

TEST(ReportParserTest, SarifLevelsAndSeverityProperties) {
  auto c = SummarizeReport(R"({"version": "2.1.0", "runs": [
    {"results": [{"level": "error"}, {"level": "warning"}, {"level": "note"}, {},
                 {"level": "error", "properties": {"severity": "critical"}},
                 {"properties": {"security-severity": "9.8"}},
                 {"properties": {"security-severity": 5.0}}]},
    {"results": []}]})");
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->critical, 2);
  EXPECT_EQ(c->high, 1);
  EXPECT_EQ(c->medium, 2);
  EXPECT_EQ(c->low, 1);
  EXPECT_EQ(c->unknown, 1);
}

TEST(ReportParserTest, NotAReportIsNoSummary) {
  EXPECT_FALSE(SummarizeReport("not json").has_value());
  EXPECT_FALSE(SummarizeReport("[1,2]").has_value());
  EXPECT_FALSE(SummarizeReport(R"({"other": 1})").has_value());
  auto empty_trivy = SummarizeReport(R"({"SchemaVersion": 2})");
  ASSERT_TRUE(empty_trivy.has_value());
  EXPECT_EQ(empty_trivy->total(), 0);
  // Malformed inner shapes are skipped, never a crash.
  auto odd = SummarizeReport(R"({"Results": [1, {"Vulnerabilities": 3},
                                 {"Vulnerabilities": [{"Severity": 5}]}]})");
  ASSERT_TRUE(odd.has_value());
  EXPECT_EQ(odd->unknown, 1);
}

nlohmann::json Parse(const char* text) { return nlohmann::json::parse(text); }

TEST(ScanConfigTest, ParsesHooksAndGate) {
  auto c = ParseScanConfig(Parse(R"({
    "hooks": [{"name": "trivy", "argv": ["trivy", "image", "--input", "{archive}",
                                         "--output", "{report}"],
               "timeout": "5m", "memory_limit": 1073741824, "env_allow": ["TRIVY_CACHE_DIR"],
               "on_timeout": "pass", "version_command": ["trivy", "--version"],
               "max_report_bytes": 1000}],
    "push_gate": {"require": "all", "max_severity": "high"},
    "record_scan_token_file": "/etc/slipway/scan.token"})"),
                           "config.json");
  ASSERT_TRUE(c.ok()) << c.status();
  ASSERT_EQ(c->hooks.size(), 1u);
  EXPECT_EQ(c->hooks[0].timeout, absl::Minutes(5));
  EXPECT_EQ(c->hooks[0].memory_limit_bytes, 1073741824);
  EXPECT_TRUE(c->hooks[0].pass_on_timeout);
  EXPECT_EQ(c->hooks[0].max_report_bytes, 1000);
  EXPECT_EQ(c->push_gate.require, Require::kAll);
  EXPECT_EQ(*c->push_gate.max_severity.max, Severity::kHigh);
  EXPECT_EQ(c->record_scan_token_file, "/etc/slipway/scan.token");
  auto http = ParseScanConfig(
      Parse(R"({"hooks": [{"name": "svc", "type": "http", "url": "http://127.0.0.1:8080/scan"}],
                "attach_reports_on_push": true})"),
      "config.json");
  ASSERT_TRUE(http.ok()) << http.status();
  EXPECT_EQ(http->hooks[0].type, HookConfig::Type::kHttp);
  EXPECT_EQ(http->hooks[0].url, "http://127.0.0.1:8080/scan");
  EXPECT_TRUE(http->attach_reports_on_push);
}

TEST(ScanConfigTest, BadConfigNamesTheKey) {
  struct Case {
    const char* json;
    const char* want;
  };
  const Case cases[] = {
      {R"({"hooks": [{"name": "a"}]})", "scan.hooks[0].argv\": is required"},
      {R"({"hooks": [{"name": "a", "argv": ["x", "{nope}"]}]})",
       "scan.hooks[0].argv[1]\": unknown placeholder {nope}"},
      {R"({"hooks": [{"name": "a", "argv": ["x"]}, {"name": "a", "argv": ["y"]}]})",
       "scan.hooks[1].name\": duplicate hook name"},
      {R"({"hooks": [{"name": "a", "argv": ["x"], "timeout": "soon"}]})",
       "scan.hooks[0].timeout"},
      {R"({"hooks": [{"name": "a", "argv": ["x"], "typo": 1}]})", "\"scan.hooks[0].typo\""},
      {R"({"hooks": [{"name": "a", "type": "http", "argv": ["x"]}]})",
       "scan.hooks[0].url\": is required for an http hook"},
      {R"({"hooks": [{"name": "a", "type": "http", "url": "http://x/", "argv": ["x"]}]})",
       "scan.hooks[0].argv\": is for exec hooks only"},
      {R"({"hooks": [{"name": "a", "type": "ftp", "argv": ["x"]}]})", "is not a hook type"},
      {R"({"push_gate": {"require": "most"}})", "scan.push_gate.require"},
      {R"({"push_gate": {"max_severity": "severe"}})", "scan.push_gate.max_severity"},
      {R"({"bogus": true})", "unknown key \"scan.bogus\""},
  };
  for (const Case& c : cases) {
    auto r = ParseScanConfig(Parse(c.json), "config.json");
    EXPECT_TRUE(absl::IsInvalidArgument(r.status())) << c.json;
    EXPECT_THAT(r.status().message(), HasSubstr(c.want)) << c.json;
    EXPECT_THAT(r.status().message(), HasSubstr("config.json")) << c.json;
  }
}

ScanResultRecord Result(const std::string& scanner, bool passed, int64_t high = 0,
                        int64_t critical = 0) {
  ScanResultRecord r;
  r.scanner = scanner;
  r.passed = passed;
  r.exit_code = passed ? 0 : 1;
  r.summary_known = true;
  r.high = high;
  r.critical = critical;
  return r;
}

TEST(GateTest, PoliciesAndStricterWins) {
  const Digest d = Sha256Of("m");
  const std::vector<std::string> hooks = {"a", "b"};
  GatePolicy none;
  EXPECT_TRUE(CheckGate(none, hooks, d, {}).ok());

  GatePolicy any;
  any.require = Require::kAny;
  EXPECT_TRUE(CheckGate(any, hooks, d, {Result("a", false), Result("b", true)}).ok());
  absl::Status s = CheckGate(any, hooks, d, {Result("a", false)});
  EXPECT_TRUE(absl::IsFailedPrecondition(s));
  EXPECT_THAT(s.message(), HasSubstr(d.ToString()));
  EXPECT_THAT(s.message(), HasSubstr("\"a\" (failed (exit 1))"));
  EXPECT_THAT(s.message(), HasSubstr("\"b\" (never scanned)"));

  GatePolicy all;
  all.require = Require::kAll;
  EXPECT_FALSE(CheckGate(all, hooks, d, {Result("a", true)}).ok());
  EXPECT_TRUE(CheckGate(all, hooks, d, {Result("a", true), Result("b", true)}).ok());

  // A request tightens: any → all; no limit → high.
  GatePolicy strict = Stricter(any, Require::kAll, *ParseSeverityLimit("medium"));
  EXPECT_EQ(strict.require, Require::kAll);
  s = CheckGate(strict, hooks, d, {Result("a", true, 2), Result("b", true)});
  EXPECT_THAT(s.message(), HasSubstr("2 high findings above max severity medium"));
  // …and never loosens.
  GatePolicy kept = Stricter(all, Require::kNone, *ParseSeverityLimit(""));
  EXPECT_EQ(kept.require, Require::kAll);
  // A severity limit alone requires scans.
  EXPECT_EQ(Stricter(none, Require::kNone, *ParseSeverityLimit("high")).require, Require::kAll);
  GatePolicy crit = Stricter(none, Require::kNone, *ParseSeverityLimit("high"));
  EXPECT_FALSE(CheckGate(crit, hooks, d, {Result("a", true, 5, 1), Result("b", true)}).ok());
  EXPECT_TRUE(CheckGate(crit, hooks, d, {Result("a", true, 5, 0), Result("b", true)}).ok());

  // No scanners at all: refused with a reason.
  s = CheckGate(all, {}, d, {});
  EXPECT_THAT(s.message(), HasSubstr("no scanners configured"));
}

}  // namespace
}  // namespace slipway::scan
