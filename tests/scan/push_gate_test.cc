// The push gate through the real Push / PushMany / Scan / RecordScan handlers (in-process
// gRPC) against real docker-registry processes; "nothing uploaded" is checked by asking the
// registry itself.
#include <grpcpp/grpcpp.h>

#include <ctime>

#include "gmock/gmock.h"
#include "nlohmann/json.hpp"
#include "prometheus/registry.h"
#include "server/push/fan_out.h"
#include "server/push/push_metrics.h"
#include "server/registry/retry.h"
#include "server/service/slipway_service.h"
#include "storage/garbage_collector.h"
#include "tests/scan/scan_fixture.h"
#include "tests/support/registry_process.h"

namespace slipway::scan {
namespace {

using ::slipway::testing::RegistryProcess;
using ::slipway::testing::RunCommand;
using ::slipway::testing::ShellQuote;
using ::testing::HasSubstr;

class PushGateTest : public ScanTest {
 protected:
  void SetUp() override {
    ScanTest::SetUp();
    if (HasFatalFailure()) return;
    registry_ = RegistryProcess::Start();
    ASSERT_NE(registry_, nullptr);
    gc_ = std::make_unique<GarbageCollector>(
        *blobs_, *index_, [] { return static_cast<int64_t>(std::time(nullptr)); });
    metrics_ = std::make_unique<ServerMetrics>(prom_);
    push_metrics_ = std::make_unique<push::PushMetrics>(prom_);
    push::PushEngineOptions options;
    options.retry.max_attempts = 2;
    options.retry.initial_backoff = absl::Milliseconds(20);
    engine_ = std::make_unique<push::PushEngine>(options, *blobs_, *index_, clock_,
                                                 push_metrics_.get());
    pass_ = Script("pass.sh", "exit 0");
    fail_ = Script("fail.sh", "echo 'found CVE-2024-0001'; exit 1");
    high_ = Script("high.sh", R"(cat > "$1" <<'JSON'
{"SchemaVersion": 2, "Results": [{"Target": "t", "Vulnerabilities": [{"Severity": "HIGH"}]}]}
JSON
exit 0)");
  }
  void TearDown() override {
    if (server_) server_->Shutdown();
  }

  // (Re)starts the service with `hooks` and the server policy `gate`.
  void StartService(std::vector<HookConfig> hooks, GatePolicy gate,
                    const std::string& record_token = "") {
    if (server_) server_->Shutdown();
    server_.reset();
    service_.reset();
    scanner_ = hooks.empty() ? nullptr : MakeScanner(std::move(hooks));
    SlipwayServiceOptions options;
    options.scanner = scanner_.get();
    options.push_gate = std::move(gate);
    options.record_scan_token = record_token;
    service_ = std::make_unique<SlipwayService>(options, *blobs_, *index_, *gc_, *metrics_,
                                                engine_.get());
    grpc::ServerBuilder builder;
    builder.RegisterService(service_.get());
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    stub_ = v1::Slipway::NewStub(server_->InProcessChannel(grpc::ChannelArguments()));
  }

  v1::PushTarget Target(const std::string& repo) {
    v1::PushTarget t;
    t.set_registry(registry_->host());
    t.set_repository(repo);
    t.add_tags("v1");
    t.mutable_tls()->set_insecure_http(true);
    return t;
  }

  grpc::Status Push(const std::string& repo, const v1::ScanGate& gate = {},
                    bool attach_reports = false) {
    v1::PushRequest request;
    request.set_ref("scan/app:v1");
    *request.mutable_target() = Target(repo);
    *request.mutable_gate() = gate;
    request.set_attach_scan_reports(attach_reports);
    grpc::ClientContext ctx;
    auto reader = stub_->Push(&ctx, request);
    v1::PushProgress msg;
    while (reader->Read(&msg)) {
    }
    return reader->Finish();
  }

  grpc::Status PushMany(const std::vector<std::string>& repos) {
    v1::PushManyRequest request;
    request.set_ref("scan/app:v1");
    for (const auto& r : repos) *request.add_targets() = Target(r);
    grpc::ClientContext ctx;
    auto reader = stub_->PushMany(&ctx, request);
    v1::PushProgress msg;
    while (reader->Read(&msg)) {
      if (msg.has_target_done()) EXPECT_EQ(msg.target_done().code(), 0) << msg.target_done().message();
    }
    return reader->Finish();
  }

  grpc::Status Scan(v1::ScanResponse* response) {
    v1::ScanRequest request;
    request.set_ref("scan/app:v1");
    grpc::ClientContext ctx;
    return stub_->Scan(&ctx, request, response);
  }

  // What the registry holds, asked over its HTTP API.
  std::string Catalog() {
    auto r = RunCommand("curl -s --max-time 20 " + ShellQuote(registry_->url() + "/v2/_catalog"));
    EXPECT_EQ(r.exit_code, 0) << r.output;
    return r.output;
  }
  bool HasManifest(const std::string& repo) {
    auto r = RunCommand(
        "curl -s -o /dev/null -w '%{http_code}' --max-time 20 -H 'Accept: "
        "application/vnd.oci.image.manifest.v1+json' " +
        ShellQuote(registry_->url() + "/v2/" + repo + "/manifests/" +
                   image().manifest.digest.ToString()));
    return r.output == "200";
  }

  std::unique_ptr<RegistryProcess> registry_;
  std::unique_ptr<GarbageCollector> gc_;
  prometheus::Registry prom_;
  std::unique_ptr<ServerMetrics> metrics_;
  std::unique_ptr<push::PushMetrics> push_metrics_;
  registry::RealClock clock_;
  std::unique_ptr<push::PushEngine> engine_;
  std::unique_ptr<Scanner> scanner_;
  std::unique_ptr<SlipwayService> service_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<v1::Slipway::Stub> stub_;
  std::string pass_, fail_, high_;
};

TEST_F(PushGateTest, PolicyNonePushesUnscanned) {
  StartService({Hook("pass", {pass_})}, GatePolicy{});
  grpc::Status s = Push("gate/none");
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_TRUE(HasManifest("gate/none"));
}

TEST_F(PushGateTest, RequireAnyRefusesUnscannedThenPushesAfterAPassingScan) {
  GatePolicy any;
  any.require = Require::kAny;
  StartService({Hook("fail", {fail_}), Hook("pass", {pass_})}, any);
  grpc::Status s = Push("gate/any");
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_THAT(s.error_message(), HasSubstr(image().manifest.digest.ToString()));
  EXPECT_THAT(s.error_message(), HasSubstr("\"pass\" (never scanned)"));
  s = PushMany({"gate/any-a", "gate/any-b"});
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_THAT(Catalog(), HasSubstr("\"repositories\":[]"));

  v1::ScanResponse scan;
  s = Scan(&scan);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_FALSE(scan.passed());  // "fail" failed…
  EXPECT_EQ(scan.manifest_digest(), image().manifest.digest.ToString());
  ASSERT_EQ(scan.results_size(), 2);
  EXPECT_THAT(scan.results(0).message(), HasSubstr("found CVE-2024-0001"));
  s = Push("gate/any");  // …but "any" needs one passing scanner
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_TRUE(HasManifest("gate/any"));
}

TEST_F(PushGateTest, RequireAllNamesTheFailingScannerAndUploadsNothing) {
  GatePolicy all;
  all.require = Require::kAll;
  StartService({Hook("pass", {pass_}), Hook("fail", {fail_})}, all);
  v1::ScanResponse scan;
  ASSERT_TRUE(Scan(&scan).ok());
  grpc::Status s = Push("gate/all");
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_THAT(s.error_message(), HasSubstr("\"fail\" (failed (exit 1)"));
  EXPECT_THAT(s.error_message(), Not(HasSubstr("\"pass\"")));
  s = PushMany({"gate/all-a", "gate/all-b"});
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_THAT(Catalog(), HasSubstr("\"repositories\":[]"));
  EXPECT_FALSE(HasManifest("gate/all"));

  // Once every scanner passes, both Push and PushMany go through.
  StartService({Hook("pass", {pass_}), Hook("fail", {pass_})}, all);
  ASSERT_TRUE(Scan(&scan).ok());
  EXPECT_TRUE(scan.passed());
  s = PushMany({"gate/all-a", "gate/all-b"});
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_TRUE(HasManifest("gate/all-a"));
  EXPECT_TRUE(HasManifest("gate/all-b"));
}

// A request can tighten the server's policy (here from none to a maximum severity) but never
// loosen it.
TEST_F(PushGateTest, RequestMaxSeverityIsStricterThanTheServer) {
  StartService({Hook("trivy", {high_, "{report}"})}, GatePolicy{});
  v1::ScanResponse scan;
  ASSERT_TRUE(Scan(&scan).ok());
  ASSERT_EQ(scan.results_size(), 1);
  EXPECT_TRUE(scan.results(0).passed());
  EXPECT_EQ(scan.results(0).summary().high(), 1);
  EXPECT_FALSE(scan.results(0).report().digest().empty());

  v1::ScanGate medium;
  medium.set_max_severity("medium");
  grpc::Status s = Push("gate/sev", medium);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_THAT(s.error_message(), HasSubstr("1 high findings above max severity medium"));
  EXPECT_THAT(Catalog(), HasSubstr("\"repositories\":[]"));

  v1::ScanGate high;
  high.set_max_severity("high");
  s = Push("gate/sev", high);
  ASSERT_TRUE(s.ok()) << s.error_message();

  v1::ScanGate bad;
  bad.set_max_severity("dire");
  s = Push("gate/sev", bad);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("gate.max_severity"));

  // Server policy max severity medium: a request asking for nothing cannot loosen it.
  GatePolicy strict;
  strict.require = Require::kAll;
  strict.max_severity = *ParseSeverityLimit("medium");
  StartService({Hook("trivy", {high_, "{report}"})}, strict);
  s = Push("gate/sev2");
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_FALSE(HasManifest("gate/sev2"));
}

// RecordScan needs the record-scan token; a recorded passing scan from an external scanner
// satisfies a gate that names it.
TEST_F(PushGateTest, RecordScanNeedsItsPermissionAndFeedsTheGate) {
  GatePolicy external;
  external.require = Require::kAll;
  external.scanners = {"external"};
  StartService({}, external, "record-secret-9d1");
  v1::RecordScanRequest request;
  request.set_ref("scan/app:v1");
  request.set_scanner("external");
  request.set_scanner_version("1.2.3");
  request.set_passed(true);
  request.set_report(R"({"runs": [{"results": [{"level": "note"}]}]})");
  v1::RecordScanResponse response;
  {
    grpc::ClientContext ctx;
    grpc::Status s = stub_->RecordScan(&ctx, request, &response);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  }
  {
    grpc::ClientContext ctx;
    ctx.AddMetadata("x-slipway-record-scan-token", "wrong");
    grpc::Status s = stub_->RecordScan(&ctx, request, &response);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  }
  grpc::Status s = Push("gate/external");
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_THAT(s.error_message(), HasSubstr("\"external\" (never scanned)"));
  {
    grpc::ClientContext ctx;
    ctx.AddMetadata("x-slipway-record-scan-token", "record-secret-9d1");
    s = stub_->RecordScan(&ctx, request, &response);
    ASSERT_TRUE(s.ok()) << s.error_message();
  }
  EXPECT_EQ(response.manifest_digest(), image().manifest.digest.ToString());
  EXPECT_EQ(response.result().summary().low(), 1);
  EXPECT_FALSE(response.result().report().digest().empty());
  auto recorded = index_->ScanResults(image().manifest.digest);
  ASSERT_TRUE(recorded.ok());
  ASSERT_EQ(recorded->size(), 1u);
  EXPECT_EQ((*recorded)[0].source, "recorded");
  EXPECT_EQ((*recorded)[0].scanner_version, "1.2.3");
  s = Push("gate/external");
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_TRUE(HasManifest("gate/external"));

  // Without a configured token RecordScan is refused for everyone.
  StartService({}, external, "");
  grpc::ClientContext ctx;
  ctx.AddMetadata("x-slipway-record-scan-token", "record-secret-9d1");
  s = stub_->RecordScan(&ctx, request, &response);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED);
}

// A hook past its timeout: Scan answers DEADLINE_EXCEEDED and the failed result is recorded,
// so the gate refuses.
TEST_F(PushGateTest, ScanTimeoutIsDeadlineExceededAndGateRefuses) {
  const std::string hang = Script("hang.sh", "sleep 300");
  HookConfig hook = Hook("slow", {hang});
  hook.timeout = absl::Seconds(1);
  GatePolicy all;
  all.require = Require::kAll;
  StartService({hook}, all);
  v1::ScanResponse scan;
  grpc::Status s = Scan(&scan);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED);
  EXPECT_THAT(s.error_message(), HasSubstr("\"slow\""));
  s = Push("gate/slow");
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_THAT(s.error_message(), HasSubstr("timed out"));
}

// The scan report attached on push as an OCI referrer. docker-registry has no referrers API,
// so the tag-schema fallback ("sha256-<hex>" holding an index) is what this checks, through
// the registry's own HTTP API.
TEST_F(PushGateTest, ReportIsAttachedAsAReferrerThroughTheTagSchemaFallback) {
  StartService({Hook("trivy", {high_, "{report}"})}, GatePolicy{});
  v1::ScanResponse scan;
  ASSERT_TRUE(Scan(&scan).ok());
  const std::string report_digest = scan.results(0).report().digest();
  ASSERT_FALSE(report_digest.empty());
  grpc::Status s = Push("ref/app", {}, /*attach_reports=*/true);
  ASSERT_TRUE(s.ok()) << s.error_message();
  s = Push("ref/app", {}, /*attach_reports=*/true);  // again: not listed twice
  ASSERT_TRUE(s.ok()) << s.error_message();

  auto get = [&](const std::string& path, const std::string& accept) {
    auto r = RunCommand("curl -s --max-time 20 -H " + ShellQuote("Accept: " + accept) + " " +
                        ShellQuote(registry_->url() + path));
    EXPECT_EQ(r.exit_code, 0) << r.output;
    return r.output;
  };
  const std::string subject = image().manifest.digest.ToString();
  // No referrers API here: the fallback is needed.
  auto api = RunCommand("curl -s -o /dev/null -w '%{http_code}' --max-time 20 " +
                        ShellQuote(registry_->url() + "/v2/ref/app/referrers/" + subject));
  EXPECT_EQ(api.output, "404");
  const std::string tag = "sha256-" + image().manifest.digest.hex();
  auto index = nlohmann::json::parse(
      get("/v2/ref/app/manifests/" + tag, "application/vnd.oci.image.index.v1+json"), nullptr,
      false);
  ASSERT_TRUE(index.is_object()) << index;
  ASSERT_EQ(index["manifests"].size(), 1u) << index;
  EXPECT_EQ(index["manifests"][0]["artifactType"], "application/vnd.slipway.scan.report.v1+json");
  const std::string artifact = index["manifests"][0]["digest"];
  auto manifest = nlohmann::json::parse(
      get("/v2/ref/app/manifests/" + artifact, "application/vnd.oci.image.manifest.v1+json"),
      nullptr, false);
  ASSERT_TRUE(manifest.is_object()) << manifest;
  EXPECT_EQ(manifest["subject"]["digest"], subject);
  EXPECT_EQ(manifest["artifactType"], "application/vnd.slipway.scan.report.v1+json");
  EXPECT_EQ(manifest["config"]["mediaType"], "application/vnd.oci.empty.v1+json");
  EXPECT_EQ(manifest["config"]["size"], 2);
  ASSERT_EQ(manifest["layers"].size(), 1u);
  EXPECT_EQ(manifest["layers"][0]["digest"], report_digest);
  EXPECT_EQ(manifest["annotations"]["dev.slipway.scan.scanner"], "trivy");
  // The report itself is in the registry, byte for byte.
  auto stored = blobs_->ReadSmall(*Digest::Parse(report_digest), 1 << 20);
  ASSERT_TRUE(stored.ok());
  EXPECT_EQ(get("/v2/ref/app/blobs/" + report_digest, "*/*"), *stored);
  // skopeo, as an independent reader, sees the same index under the fallback tag.
  auto sk = RunCommand("skopeo inspect --raw --tls-verify=false " +
                       ShellQuote("docker://" + registry_->host() + "/ref/app:" + tag));
  EXPECT_EQ(sk.exit_code, 0) << sk.output;
  EXPECT_THAT(sk.output, HasSubstr(artifact));
}

}  // namespace
}  // namespace slipway::scan
