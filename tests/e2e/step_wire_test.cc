// What the CI step puts on the wire: the real `slipway` binary (PLUGIN_* variables, push-only
// from the store) against an in-process recording Slipway server on a unix socket. The real
// slipwayd refuses the ECR/GAR/ACR credential kinds, so only a recorder can show that every
// flavour's credential reaches the server intact, that secrets stay out of the step's output,
// and that PLUGIN_PUSH_RETRY repeats whole pushes only for transient failures.
#include <grpcpp/grpcpp.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"
#include "slipway/v1/slipway.grpc.pb.h"
#include "tests/support/subprocess.h"
#include "tests/support/temp_dir.h"

extern char** environ;

namespace slipway::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using Env = std::map<std::string, std::string>;

constexpr char kDigest[] =
    "sha256:6f1c3bd3e0d1c8a7c1b9a8e7f6d5c4b3a29180716f5e4d3c2b1a09f8e7d6c5b4";
constexpr char kConfigDigest[] =
    "sha256:0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9";
constexpr char kLayerDigest[] =
    "sha256:1111111111111111111111111111111111111111111111111111111111111111";

// How the recorder fails a push: the RPC status alone (a request-wide problem, no result), or
// a TargetResult with the code followed by the same RPC status, as the real Push handler does
// when its single target fails (PushMany: the result only, the RPC succeeds).
enum class FailAs { kRpcStatus, kTargetResult };

// A Slipway server that implements only what a push-only step calls (GetImage, TagImage, Push,
// PushMany) and records a copy of every request. Thread-safe: gRPC calls it from its threads,
// the test reads the records after the client exited.
class RecordingSlipway final : public v1::Slipway::Service {
 public:
  // `ref` (a store tag or the digest) resolves to the test image.
  void AddStoreRef(const std::string& ref) {
    absl::MutexLock lock(&mu_);
    store_refs_.push_back(ref);
  }

  // The first `calls` Push/PushMany calls fail with `code`. For PushMany, `failing_targets`
  // (indexes) fail and the others succeed; empty means every target fails.
  void FailPushes(int calls, grpc::StatusCode code, FailAs as,
                  std::vector<int> failing_targets = {}) {
    absl::MutexLock lock(&mu_);
    fail_calls_ = calls;
    fail_code_ = code;
    fail_as_ = as;
    failing_targets_ = std::move(failing_targets);
  }

  std::vector<v1::GetImageRequest> get_image_requests() const {
    absl::MutexLock lock(&mu_);
    return get_image_;
  }
  std::vector<v1::TagImageRequest> tag_requests() const {
    absl::MutexLock lock(&mu_);
    return tag_;
  }
  std::vector<v1::PushRequest> push_requests() const {
    absl::MutexLock lock(&mu_);
    return push_;
  }
  std::vector<v1::PushManyRequest> push_many_requests() const {
    absl::MutexLock lock(&mu_);
    return push_many_;
  }

  grpc::Status GetImage(grpc::ServerContext*, const v1::GetImageRequest* request,
                        v1::Image* response) override {
    absl::MutexLock lock(&mu_);
    get_image_.push_back(*request);
    if (!Known(request->ref())) {
      // The real handler's wording (ResolveRef).
      return grpc::Status(grpc::StatusCode::NOT_FOUND,
                          absl::StrCat("ref: no image \"", request->ref(), "\" in the store"));
    }
    FillImage(response);
    return grpc::Status::OK;
  }

  grpc::Status TagImage(grpc::ServerContext*, const v1::TagImageRequest* request,
                        v1::Image* response) override {
    absl::MutexLock lock(&mu_);
    tag_.push_back(*request);
    if (!Known(request->ref())) {
      return grpc::Status(grpc::StatusCode::NOT_FOUND,
                          absl::StrCat("ref: no image \"", request->ref(), "\" in the store"));
    }
    store_refs_.push_back(request->tag());
    FillImage(response);
    return grpc::Status::OK;
  }

  grpc::Status Push(grpc::ServerContext*, const v1::PushRequest* request,
                    grpc::ServerWriter<v1::PushProgress>* writer) override {
    bool fail;
    grpc::StatusCode code;
    FailAs as;
    {
      absl::MutexLock lock(&mu_);
      push_.push_back(*request);
      fail = static_cast<int>(push_.size() + push_many_.size()) <= fail_calls_;
      code = fail_code_;
      as = fail_as_;
      if (!Known(request->ref())) {
        return grpc::Status(grpc::StatusCode::NOT_FOUND,
                            absl::StrCat("ref: no image \"", request->ref(), "\" in the store"));
      }
    }
    const std::string message = FailureMessage(code);
    if (fail && as == FailAs::kRpcStatus) return grpc::Status(code, message);
    WriteBlob(writer, 0);
    v1::PushProgress done;
    FillResult(0, request->target(), fail ? code : grpc::StatusCode::OK, message,
               done.mutable_target_done());
    writer->Write(done);
    return fail ? grpc::Status(code, message) : grpc::Status::OK;
  }

  grpc::Status PushMany(grpc::ServerContext*, const v1::PushManyRequest* request,
                        grpc::ServerWriter<v1::PushProgress>* writer) override {
    bool fail;
    grpc::StatusCode code;
    FailAs as;
    std::vector<int> failing;
    {
      absl::MutexLock lock(&mu_);
      push_many_.push_back(*request);
      fail = static_cast<int>(push_.size() + push_many_.size()) <= fail_calls_;
      code = fail_code_;
      as = fail_as_;
      failing = failing_targets_;
      if (!Known(request->ref())) {
        return grpc::Status(grpc::StatusCode::NOT_FOUND,
                            absl::StrCat("ref: no image \"", request->ref(), "\" in the store"));
      }
    }
    const std::string message = FailureMessage(code);
    if (fail && as == FailAs::kRpcStatus) return grpc::Status(code, message);
    for (int i = 0; i < request->targets_size(); ++i) {
      WriteBlob(writer, i);
      const bool this_fails =
          fail && (failing.empty() ||
                   std::find(failing.begin(), failing.end(), i) != failing.end());
      v1::PushProgress done;
      FillResult(i, request->targets(i), this_fails ? code : grpc::StatusCode::OK, message,
                 done.mutable_target_done());
      writer->Write(done);
    }
    return grpc::Status::OK;  // per-target failures live in the results
  }

 private:
  bool Known(const std::string& ref) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (ref == kDigest) return true;
    return std::find(store_refs_.begin(), store_refs_.end(), ref) != store_refs_.end();
  }

  // What the real GetImage answers for a stored single-platform image (ToProto(ImageRecord)).
  void FillImage(v1::Image* image) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    image->mutable_manifest()->set_media_type("application/vnd.oci.image.manifest.v1+json");
    image->mutable_manifest()->set_digest(kDigest);
    image->mutable_manifest()->set_size(401);
    image->set_config_digest(kConfigDigest);
    for (const auto& r : store_refs_) image->add_tags(r);
    image->set_total_size(401 + 560 + 2048);
    v1::Descriptor* layer = image->add_layers();
    layer->set_media_type("application/vnd.oci.image.layer.v1.tar+gzip");
    layer->set_digest(kLayerDigest);
    layer->set_size(2048);
    image->set_created_unix(1700000000);
    image->mutable_platform()->set_os("linux");
    image->mutable_platform()->set_architecture("amd64");
  }

  static std::string FailureMessage(grpc::StatusCode code) {
    return code == grpc::StatusCode::PERMISSION_DENIED
               ? "registry refused the credentials (recorder)"
               : "registry kept failing after retries (recorder)";
  }

  static void WriteBlob(grpc::ServerWriter<v1::PushProgress>* writer, int target) {
    v1::PushProgress msg;
    v1::BlobProgress* b = msg.mutable_blob();
    b->set_target_index(target);
    b->set_digest(kLayerDigest);
    b->set_size(2048);
    b->set_state(v1::BlobProgress::UPLOADED);
    b->set_bytes_sent(2048);
    writer->Write(msg);
  }

  // The final per-target message the real handler sends (push_handlers.cc ToProto).
  static void FillResult(int index, const v1::PushTarget& target, grpc::StatusCode code,
                         const std::string& message, v1::TargetResult* out) {
    out->set_target_index(index);
    out->set_registry(target.registry());
    out->set_repository(target.repository());
    out->set_code(static_cast<int>(code));
    if (code != grpc::StatusCode::OK) {
      out->set_message(message);
      return;
    }
    out->set_manifest_digest(kDigest);
    out->set_bytes_sent(2048 + 560 + 401);
    out->set_blobs_uploaded(2);
    out->set_duration_ms(15);
  }

  mutable absl::Mutex mu_;
  std::vector<std::string> store_refs_ ABSL_GUARDED_BY(mu_);
  int fail_calls_ ABSL_GUARDED_BY(mu_) = 0;
  grpc::StatusCode fail_code_ ABSL_GUARDED_BY(mu_) = grpc::StatusCode::UNAVAILABLE;
  FailAs fail_as_ ABSL_GUARDED_BY(mu_) = FailAs::kRpcStatus;
  std::vector<int> failing_targets_ ABSL_GUARDED_BY(mu_);
  std::vector<v1::GetImageRequest> get_image_ ABSL_GUARDED_BY(mu_);
  std::vector<v1::TagImageRequest> tag_ ABSL_GUARDED_BY(mu_);
  std::vector<v1::PushRequest> push_ ABSL_GUARDED_BY(mu_);
  std::vector<v1::PushManyRequest> push_many_ ABSL_GUARDED_BY(mu_);
};

// Differences between two messages, field by field ("" when equal).
std::string Diff(const google::protobuf::Message& want, const google::protobuf::Message& got) {
  std::string report;
  google::protobuf::util::MessageDifferencer d;
  d.ReportDifferencesToString(&report);
  return d.Compare(want, got) ? "" : report;
}

v1::RegistryCredential Basic(const std::string& registry, const std::string& user,
                             const std::string& pass) {
  v1::RegistryCredential c;
  c.set_registry(registry);
  c.mutable_basic()->set_username(user);
  c.mutable_basic()->set_password(pass);
  return c;
}

v1::PushTarget Target(const std::string& registry, const std::string& repository,
                      std::vector<std::string> tags, const v1::RegistryCredential* credential) {
  v1::PushTarget t;
  t.set_registry(registry);
  t.set_repository(repository);
  for (const auto& tag : tags) t.add_tags(tag);
  if (credential != nullptr) *t.mutable_credential() = *credential;
  return t;
}

std::vector<std::string> Lines(const std::string& text) {
  return absl::StrSplit(text, '\n', absl::SkipEmpty());
}

class StepWireTest : public ::testing::Test {
 protected:
  void SetUp() override {
    socket_ = dir_.Sub("recorder.sock");
    grpc::ServerBuilder builder;
    builder.AddListeningPort("unix://" + socket_, grpc::InsecureServerCredentials());
    builder.RegisterService(&recorder_);
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr) << "cannot listen on unix://" << socket_;
  }

  void TearDown() override {
    if (server_) server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(5));
  }

  // The environment a step runs with: ours minus anything that could steer it (PLUGIN_*,
  // DRONE_*, the client's token/TLS variables), plus SLIPWAY_ADDR and `env`. The working
  // directory is the temp dir, so no stray ".tags" file is read.
  Env StepEnv(const Env& env) {
    Env full;
    for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
      std::string name(*e, std::strchr(*e, '=') ? std::strchr(*e, '=') - *e : std::strlen(*e));
      if (absl::StartsWithIgnoreCase(name, "PLUGIN_") || absl::StartsWith(name, "DRONE_") ||
          absl::StartsWith(name, "SLIPWAY_") || absl::StartsWith(name, "DOCKER_") ||
          absl::StartsWith(name, "GCR_")) {
        full[name] = "";  // RunProcess: empty unsets
      }
    }
    for (const auto& [k, v] : env) full[k] = v;
    full["SLIPWAY_ADDR"] = "unix://" + socket_;
    return full;
  }

  // The step as CI runs it: `slipway` with no arguments (or `args`), push-only.
  ProcessResult Step(Env env, std::vector<std::string> args = {}) {
    env["PLUGIN_PUSH_ONLY"] = "true";
    args.insert(args.begin(), SLIPWAY_BIN);
    // cd into the temp dir through /bin/sh would need quoting; env -C does it directly.
    std::vector<std::string> argv = {"/usr/bin/env", "-C", dir_.path()};
    argv.insert(argv.end(), args.begin(), args.end());
    return RunProcess(argv, StepEnv(env), absl::Seconds(60));
  }

  // Every secret must be absent from the step's output and from its --print-settings output,
  // where the credential line shows "***" instead.
  void ExpectSecretsHidden(const Env& env, const ProcessResult& run,
                           const std::vector<std::string>& secrets) {
    ProcessResult printed = Step(env, {"step", "--print-settings"});
    EXPECT_EQ(printed.exit_code, 0) << printed.err;
    EXPECT_THAT(printed.out, HasSubstr("credential: "));
    EXPECT_THAT(printed.out, HasSubstr("***"));
    for (const auto& secret : secrets) {
      EXPECT_THAT(run.out, Not(HasSubstr(secret))) << "secret in the step's stdout";
      EXPECT_THAT(run.err, Not(HasSubstr(secret))) << "secret in the step's stderr";
      EXPECT_THAT(printed.out, Not(HasSubstr(secret))) << "secret in --print-settings";
      EXPECT_THAT(printed.err, Not(HasSubstr(secret))) << "secret in --print-settings stderr";
    }
  }

  TempDir dir_;
  std::string socket_;
  RecordingSlipway recorder_;
  std::unique_ptr<grpc::Server> server_;
};

// ---------------------------------------------------------------------------------------------
// One target per flavour: the recorded PushRequest is exactly what the settings say.

struct FlavourCase {
  std::string name;
  Env env;
  std::string store_ref;   // the store tag the step resolves
  v1::PushTarget want;     // the whole target, credential included, compared field by field
  std::vector<std::string> secrets;
  std::string printed_kind;  // "credential: <kind> ..." in --print-settings
};

// Failure messages name the case, not its bytes.
void PrintTo(const FlavourCase& c, std::ostream* os) { *os << c.name; }

// A realistic service-account key: quotes, escaped newlines inside private_key, real newlines
// and indentation between fields.
constexpr char kGarJsonKey[] = R"({
  "type": "service_account",
  "project_id": "my-project-123",
  "private_key_id": "3f2a9c0d1e8b7a6f5e4d3c2b1a0f9e8d7c6b5a49",
  "private_key": "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7Vj+q\nZ2x\"quoted\"+/=\n-----END PRIVATE KEY-----\n",
  "client_email": "pusher@my-project-123.iam.gserviceaccount.com",
  "client_id": "109876543210987654321",
  "auth_uri": "https://accounts.google.com/o/oauth2/auth",
  "token_uri": "https://oauth2.googleapis.com/token"
})";

std::vector<FlavourCase> FlavourCases() {
  std::vector<FlavourCase> cases;
  {
    const std::string host = "123456789012.dkr.ecr.eu-west-1.amazonaws.com";
    FlavourCase c;
    c.name = "ecr";
    c.env = {{"PLUGIN_REGISTRY", host},
             {"PLUGIN_REPO", host + "/team/app"},
             {"PLUGIN_TAGS", "1.4.2,latest"},
             {"PLUGIN_REGION", "eu-west-1"},
             {"PLUGIN_ACCESS_KEY", "AKIAIOSFODNN7EXAMPLE"},
             {"PLUGIN_SECRET_KEY", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYzEXAMPLEKEY"},
             {"PLUGIN_SESSION_TOKEN", "FwoGZXIvYXdzEBYaDSessionToken//+=Example"},
             {"PLUGIN_ASSUME_ROLE", "arn:aws:iam::123456789012:role/ci-push"},
             {"PLUGIN_EXTERNAL_ID", "ext-id-7f3e \"quoted\""},
             {"PLUGIN_CREATE_REPOSITORY", "true"}};
    c.store_ref = host + "/team/app:1.4.2";
    v1::RegistryCredential cred;
    cred.set_registry(host);
    auto* ecr = cred.mutable_ecr();
    ecr->set_region("eu-west-1");
    ecr->set_access_key("AKIAIOSFODNN7EXAMPLE");
    ecr->set_secret_key("wJalrXUtnFEMI/K7MDENG+bPxRfiCYzEXAMPLEKEY");
    ecr->set_session_token("FwoGZXIvYXdzEBYaDSessionToken//+=Example");
    ecr->set_assume_role("arn:aws:iam::123456789012:role/ci-push");
    ecr->set_external_id("ext-id-7f3e \"quoted\"");
    ecr->set_create_repository(true);
    c.want = Target(host, "team/app", {"1.4.2", "latest"}, &cred);
    c.secrets = {ecr->secret_key(), ecr->session_token(), ecr->external_id()};
    c.printed_kind = "credential: ecr region=eu-west-1";
    cases.push_back(c);
  }
  {
    FlavourCase c;
    c.name = "gar";
    // A host-less repo: LOCATION names the registry, which prefixes the repo.
    c.env = {{"PLUGIN_REPO", "my-project-123/images/app"},
             {"PLUGIN_TAGS", "v7"},
             {"PLUGIN_JSON_KEY", kGarJsonKey},
             {"PLUGIN_LOCATION", "europe-west4"}};
    const std::string host = "europe-west4-docker.pkg.dev";
    c.store_ref = host + "/my-project-123/images/app:v7";
    v1::RegistryCredential cred;
    cred.set_registry(host);
    cred.mutable_gar()->set_json_key(kGarJsonKey);
    cred.mutable_gar()->set_location("europe-west4");
    c.want = Target(host, "my-project-123/images/app", {"v7"}, &cred);
    c.secrets = {kGarJsonKey, "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7Vj+q"};
    c.printed_kind = "credential: gar location=europe-west4";
    cases.push_back(c);
  }
  {
    FlavourCase c;
    c.name = "gar_base64";
    // Harness passes the key base64-encoded; the server gets the JSON.
    const std::string key = R"({"type":"service_account","private_key":"-----BEGIN PRIVATE KEY-----\nAbC\n-----END PRIVATE KEY-----\n","client_email":"b64@p.iam.gserviceaccount.com"})";
    c.env = {{"PLUGIN_REGISTRY", "us-docker.pkg.dev"},
             {"PLUGIN_REPO", "p/r/app"},
             {"PLUGIN_TAGS", "v1"},
             {"PLUGIN_JSON_KEY", absl::Base64Escape(key)}};
    c.store_ref = "us-docker.pkg.dev/p/r/app:v1";
    v1::RegistryCredential cred;
    cred.set_registry("us-docker.pkg.dev");
    cred.mutable_gar()->set_json_key(key);
    c.want = Target("us-docker.pkg.dev", "p/r/app", {"v1"}, &cred);
    c.secrets = {key, c.env["PLUGIN_JSON_KEY"]};
    c.printed_kind = "credential: gar";
    cases.push_back(c);
  }
  {
    FlavourCase c;
    c.name = "acr";
    const std::string host = "myregistry.azurecr.io";
    c.env = {{"PLUGIN_REGISTRY", host},
             {"PLUGIN_REPO", "team/app"},
             {"PLUGIN_TAGS", "2024.06.01"},
             {"PLUGIN_CLIENT_ID", "0f8fad5b-d9cb-469f-a165-70867728950e"},
             {"PLUGIN_CLIENT_SECRET", "Q~8Qx.s3cr3t_Value-With~Tilde$and:colon"},
             {"PLUGIN_TENANT_ID", "7c9e6679-7425-40de-944b-e07fc1f90ae7"}};
    c.store_ref = host + "/team/app:2024.06.01";
    v1::RegistryCredential cred;
    cred.set_registry(host);
    cred.mutable_acr()->set_client_id("0f8fad5b-d9cb-469f-a165-70867728950e");
    cred.mutable_acr()->set_client_secret("Q~8Qx.s3cr3t_Value-With~Tilde$and:colon");
    cred.mutable_acr()->set_tenant_id("7c9e6679-7425-40de-944b-e07fc1f90ae7");
    c.want = Target(host, "team/app", {"2024.06.01"}, &cred);
    c.secrets = {"Q~8Qx.s3cr3t_Value-With~Tilde$and:colon"};
    c.printed_kind = "credential: acr client_id=0f8fad5b";
    cases.push_back(c);
  }
  {
    FlavourCase c;
    c.name = "basic";
    const std::string host = "registry.example.com:5443";
    // Spaces (leading and trailing too), quotes, '$', ':', a backslash and non-ASCII text.
    const std::string user = "ci bot \"deploy\" $USER ü";
    const std::string pass = " p@ss: w$rd \"dq\" 'sq' \\back ✓ 密码 ";
    c.env = {{"PLUGIN_REPO", host + "/team/app"},
             {"PLUGIN_TAGS", "1.0"},
             {"PLUGIN_USERNAME", user},
             {"PLUGIN_PASSWORD", pass}};
    c.store_ref = host + "/team/app:1.0";
    v1::RegistryCredential cred = Basic(host, user, pass);
    c.want = Target(host, "team/app", {"1.0"}, &cred);
    c.secrets = {pass, "w$rd \"dq\" 'sq'"};
    c.printed_kind = "credential: basic user=ci bot \"deploy\" $USER ü";
    cases.push_back(c);
  }
  {
    FlavourCase c;
    c.name = "docker_hub_alias";
    // Docker Hub's legacy spelling for the registry; the DOCKER_* aliases for the pair.
    c.env = {{"PLUGIN_REGISTRY", "https://index.docker.io/v1/"},
             {"PLUGIN_REPO", "team/app"},
             {"DOCKER_USERNAME", "hubuser"},
             {"DOCKER_PASSWORD", "dckr_pat_Hub$Token:With Space"}};
    c.store_ref = "team/app:latest";
    v1::RegistryCredential cred = Basic("docker.io", "hubuser", "dckr_pat_Hub$Token:With Space");
    c.want = Target("docker.io", "team/app", {"latest"}, &cred);
    c.secrets = {"dckr_pat_Hub$Token:With Space"};
    c.printed_kind = "credential: basic user=hubuser";
    cases.push_back(c);
  }
  return cases;
}

class StepWireFlavourTest : public StepWireTest,
                            public ::testing::WithParamInterface<FlavourCase> {};

TEST_P(StepWireFlavourTest, CredentialReachesTheServerIntact) {
  const FlavourCase& c = GetParam();
  recorder_.AddStoreRef(c.store_ref);
  ProcessResult run = Step(c.env);
  ASSERT_FALSE(run.timed_out);
  ASSERT_EQ(run.exit_code, 0) << "stdout:\n" << run.out << "\nstderr:\n" << run.err;

  // The step resolved its store tag, then pushed the digest it got, once, as one target.
  auto gets = recorder_.get_image_requests();
  ASSERT_FALSE(gets.empty());
  EXPECT_EQ(gets.front().ref(), c.store_ref);
  EXPECT_TRUE(recorder_.push_many_requests().empty());
  auto pushes = recorder_.push_requests();
  ASSERT_EQ(pushes.size(), 1u);
  EXPECT_EQ(pushes[0].ref(), kDigest);
  EXPECT_FALSE(pushes[0].attach_scan_reports());
  EXPECT_EQ(Diff(c.want, pushes[0].target()), "") << "the recorded target differs";
  // The oneof by name, so a wrong kind reads plainly.
  EXPECT_EQ(pushes[0].target().credential().kind_case(), c.want.credential().kind_case());

  EXPECT_THAT(run.out, HasSubstr(absl::StrCat("==> done (push-only")));
  EXPECT_THAT(run.out, HasSubstr(kDigest));
  ExpectSecretsHidden(c.env, run, c.secrets);
  ProcessResult printed = Step(c.env, {"step", "--print-settings"});
  EXPECT_THAT(printed.out, HasSubstr(c.printed_kind));
  // No RPC was made by --print-settings.
  EXPECT_EQ(recorder_.push_requests().size(), 1u);
}

INSTANTIATE_TEST_SUITE_P(Flavours, StepWireFlavourTest, ::testing::ValuesIn(FlavourCases()),
                         [](const ::testing::TestParamInfo<FlavourCase>& info) {
                           return info.param.name;
                         });

// PLUGIN_SOURCE_IMAGE: the stored image is retagged with the step's tags, then pushed.
TEST_F(StepWireTest, SourceImageIsRetaggedThenPushedWithItsCredential) {
  recorder_.AddStoreRef("local/built:ci");
  const std::string host = "myregistry.azurecr.io";
  Env env = {{"PLUGIN_SOURCE_IMAGE", "local/built:ci"},
             {"PLUGIN_REGISTRY", host},
             {"PLUGIN_REPO", "team/app"},
             {"PLUGIN_TAGS", "a,b"},
             {"PLUGIN_CLIENT_ID", "cid"},
             {"PLUGIN_CLIENT_SECRET", "csecret-Value-1"},
             {"PLUGIN_TENANT_ID", "tid"}};
  ProcessResult run = Step(env);
  ASSERT_EQ(run.exit_code, 0) << run.out << run.err;
  auto tags = recorder_.tag_requests();
  ASSERT_EQ(tags.size(), 2u);
  EXPECT_EQ(tags[0].ref(), kDigest);
  EXPECT_EQ(tags[0].tag(), host + "/team/app:a");
  EXPECT_EQ(tags[1].tag(), host + "/team/app:b");
  auto pushes = recorder_.push_requests();
  ASSERT_EQ(pushes.size(), 1u);
  v1::RegistryCredential cred;
  cred.set_registry(host);
  cred.mutable_acr()->set_client_id("cid");
  cred.mutable_acr()->set_client_secret("csecret-Value-1");
  cred.mutable_acr()->set_tenant_id("tid");
  EXPECT_EQ(Diff(Target(host, "team/app", {"a", "b"}, &cred), pushes[0].target()), "");
  ExpectSecretsHidden(env, run, {"csecret-Value-1"});
}

// ---------------------------------------------------------------------------------------------
// PLUGIN_DESTINATIONS: one PushMany. The step's credential goes to the main target and to every
// destination on its registry; a destination on another registry gets none (the server's auth
// file may supply one) — the documented contract of PushTargets.

TEST_F(StepWireTest, DestinationsFanOutInOnePushManyWithTheirCredentials) {
  const std::string a = "reg-a.example.com";
  const std::string b = "reg-b.example.com:5000";
  recorder_.AddStoreRef(a + "/team/app:1.0");
  const std::string pass = "fan out: p\"a$s ✓";
  Env env = {{"PLUGIN_REPO", a + "/team/app"},
             {"PLUGIN_TAGS", "1.0,latest"},
             {"PLUGIN_USERNAME", "fan user"},
             {"PLUGIN_PASSWORD", pass},
             {"PLUGIN_DESTINATIONS", a + "/mirror/app:stable, " + b + "/other/app"}};
  ProcessResult run = Step(env);
  ASSERT_EQ(run.exit_code, 0) << run.out << run.err;
  EXPECT_TRUE(recorder_.push_requests().empty());
  auto many = recorder_.push_many_requests();
  ASSERT_EQ(many.size(), 1u);
  EXPECT_EQ(many[0].ref(), kDigest);
  const v1::RegistryCredential cred = Basic(a, "fan user", pass);
  const std::vector<v1::PushTarget> want = {
      Target(a, "team/app", {"1.0", "latest"}, &cred),
      Target(a, "mirror/app", {"stable"}, &cred),
      Target(b, "other/app", {"1.0", "latest"}, nullptr)};
  ASSERT_EQ(many[0].targets_size(), static_cast<int>(want.size()));
  for (size_t i = 0; i < want.size(); ++i) {
    EXPECT_EQ(Diff(want[i], many[0].targets(static_cast<int>(i))), "") << "target " << i;
  }
  // Every pushed name is reported.
  for (const std::string& image : {a + "/team/app:1.0", a + "/team/app:latest",
                                   a + "/mirror/app:stable", b + "/other/app:1.0"}) {
    EXPECT_THAT(run.out, HasSubstr(image));
  }
  ExpectSecretsHidden(env, run, {pass});
}

// PLUGIN_CONFIG (a docker config.json) names credentials per host: a destination on such a host
// is pushed with them, as kaniko and the docker plugin would (one config.json for every push).
TEST_F(StepWireTest, DestinationsOnOtherRegistriesGetTheirDockerConfigCredential) {
  const std::string a = "reg-a.example.com";
  const std::string b = "reg-b.example.com:5000";
  const std::string c = "reg-c.example.com";
  recorder_.AddStoreRef(a + "/team/app:1.0");
  const std::string config = absl::StrCat(
      R"({"auths":{")", b, R"(":{"auth":")", absl::Base64Escape("bee user:pa:ss $B ✓"),
      R"("},"https://)", c, R"(/v2/":{"identitytoken":"idtok-C-Secret"}}})");
  Env env = {{"PLUGIN_REPO", a + "/team/app"},
             {"PLUGIN_TAGS", "1.0"},
             {"PLUGIN_USERNAME", "a-user"},
             {"PLUGIN_PASSWORD", "a-pass-Secret"},
             {"PLUGIN_CONFIG", config},
             {"PLUGIN_DESTINATIONS", b + "/other/app," + c + "/third/app," +
                                         "reg-d.example.com/anon/app"}};
  ProcessResult run = Step(env);
  ASSERT_EQ(run.exit_code, 0) << run.out << run.err;
  auto many = recorder_.push_many_requests();
  ASSERT_EQ(many.size(), 1u);
  const v1::RegistryCredential cred_a = Basic(a, "a-user", "a-pass-Secret");
  const v1::RegistryCredential cred_b = Basic(b, "bee user", "pa:ss $B ✓");
  v1::RegistryCredential cred_c;
  cred_c.set_registry(c);
  cred_c.set_token("idtok-C-Secret");
  const std::vector<v1::PushTarget> want = {
      Target(a, "team/app", {"1.0"}, &cred_a), Target(b, "other/app", {"1.0"}, &cred_b),
      Target(c, "third/app", {"1.0"}, &cred_c),
      Target("reg-d.example.com", "anon/app", {"1.0"}, nullptr)};
  ASSERT_EQ(many[0].targets_size(), static_cast<int>(want.size()));
  for (size_t i = 0; i < want.size(); ++i) {
    EXPECT_EQ(Diff(want[i], many[0].targets(static_cast<int>(i))), "") << "target " << i;
  }
  ExpectSecretsHidden(env, run, {"a-pass-Secret", "pa:ss $B", "idtok-C-Secret"});
}

// ECR fan-out: destinations in the same ECR registry all carry the full ECR credential.
TEST_F(StepWireTest, EcrDestinationsOnTheSameRegistryCarryTheEcrCredential) {
  const std::string host = "123456789012.dkr.ecr.us-east-2.amazonaws.com";
  recorder_.AddStoreRef(host + "/svc/api:9");
  Env env = {{"PLUGIN_REGISTRY", host},
             {"PLUGIN_REPO", "svc/api"},
             {"PLUGIN_TAGS", "9"},
             {"PLUGIN_ACCESS_KEY", "AKIAFANOUTEXAMPLE"},
             {"PLUGIN_SECRET_KEY", "fanOutSecretKey/+=EXAMPLE"},
             {"PLUGIN_DESTINATIONS", host + "/svc/api-mirror:9," + host + "/svc/api-dr"}};
  ProcessResult run = Step(env);
  ASSERT_EQ(run.exit_code, 0) << run.out << run.err;
  auto many = recorder_.push_many_requests();
  ASSERT_EQ(many.size(), 1u);
  v1::RegistryCredential cred;
  cred.set_registry(host);
  cred.mutable_ecr()->set_region("us-east-2");  // from the registry host
  cred.mutable_ecr()->set_access_key("AKIAFANOUTEXAMPLE");
  cred.mutable_ecr()->set_secret_key("fanOutSecretKey/+=EXAMPLE");
  const std::vector<v1::PushTarget> want = {Target(host, "svc/api", {"9"}, &cred),
                                            Target(host, "svc/api-mirror", {"9"}, &cred),
                                            Target(host, "svc/api-dr", {"9"}, &cred)};
  ASSERT_EQ(many[0].targets_size(), 3);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(Diff(want[i], many[0].targets(i)), "") << "target " << i;
  ExpectSecretsHidden(env, run, {"fanOutSecretKey/+=EXAMPLE"});
}

// ---------------------------------------------------------------------------------------------
// PLUGIN_PUSH_RETRY: whole pushes again, only for UNAVAILABLE / DEADLINE_EXCEEDED.

class StepWireRetryTest : public StepWireTest {
 protected:
  Env RetryEnv(const std::string& retries) {
    recorder_.AddStoreRef("registry.example.com/team/app:1.0");
    Env env = {{"PLUGIN_REPO", "registry.example.com/team/app"},
               {"PLUGIN_TAGS", "1.0"},
               {"PLUGIN_USERNAME", "retry-user"},
               {"PLUGIN_PASSWORD", "retry-pass-Secret"}};
    if (!retries.empty()) env["PLUGIN_PUSH_RETRY"] = retries;
    return env;
  }

  // Every attempt sent the same request: the whole push is repeated, not a part of it.
  void ExpectIdenticalPushes(size_t want) {
    auto pushes = recorder_.push_requests();
    ASSERT_EQ(pushes.size(), want);
    for (size_t i = 1; i < pushes.size(); ++i) {
      EXPECT_EQ(Diff(pushes[0], pushes[i]), "") << "attempt " << i + 1;
    }
  }

  // The step failed with exit 1 and exactly one stderr line naming the cause.
  static void ExpectOneLineFailure(const ProcessResult& run, const std::string& cause) {
    EXPECT_FALSE(run.timed_out);
    EXPECT_EQ(run.exit_code, 1) << run.out << run.err;
    std::vector<std::string> lines = Lines(run.err);
    ASSERT_EQ(lines.size(), 1u) << run.err;
    EXPECT_TRUE(absl::StartsWith(lines[0], "slipway: push")) << lines[0];
    EXPECT_THAT(lines[0], HasSubstr(cause));
    EXPECT_THAT(run.out + run.err, Not(HasSubstr("retry-pass-Secret")));
  }
};

TEST_F(StepWireRetryTest, TransientRpcFailuresAreRetriedUntilThePushSucceeds) {
  recorder_.FailPushes(2, grpc::StatusCode::UNAVAILABLE, FailAs::kRpcStatus);
  ProcessResult run = Step(RetryEnv("2"));
  EXPECT_EQ(run.exit_code, 0) << run.out << run.err;
  ExpectIdenticalPushes(3);
  EXPECT_THAT(run.out, HasSubstr("retrying the push (1/2)"));
  EXPECT_THAT(run.out, HasSubstr("retrying the push (2/2)"));
  EXPECT_THAT(run.out, HasSubstr(kDigest));
}

TEST_F(StepWireRetryTest, TransientTargetResultsAreRetriedUntilThePushSucceeds) {
  recorder_.FailPushes(2, grpc::StatusCode::UNAVAILABLE, FailAs::kTargetResult);
  ProcessResult run = Step(RetryEnv("2"));
  EXPECT_EQ(run.exit_code, 0) << run.out << run.err;
  ExpectIdenticalPushes(3);
}

TEST_F(StepWireRetryTest, DeadlineExceededCountsAsTransient) {
  recorder_.FailPushes(1, grpc::StatusCode::DEADLINE_EXCEEDED, FailAs::kTargetResult);
  ProcessResult run = Step(RetryEnv("1"));
  EXPECT_EQ(run.exit_code, 0) << run.out << run.err;
  ExpectIdenticalPushes(2);
}

TEST_F(StepWireRetryTest, WithoutPushRetryOneTransientFailureFailsTheStep) {
  recorder_.FailPushes(1, grpc::StatusCode::UNAVAILABLE, FailAs::kRpcStatus);
  ProcessResult run = Step(RetryEnv(""));
  ExpectOneLineFailure(run, "registry kept failing after retries (recorder)");
  ExpectIdenticalPushes(1);
  EXPECT_THAT(run.out, Not(HasSubstr("retrying")));
}

TEST_F(StepWireRetryTest, WithoutPushRetryAFailedTargetFailsTheStep) {
  recorder_.FailPushes(1, grpc::StatusCode::UNAVAILABLE, FailAs::kTargetResult);
  ProcessResult run = Step(RetryEnv(""));
  ExpectOneLineFailure(run, "registry.example.com/team/app: UNAVAILABLE: registry kept failing");
  ExpectIdenticalPushes(1);
}

TEST_F(StepWireRetryTest, RetriesRunOutAfterPushRetryPlusOneAttempts) {
  recorder_.FailPushes(3, grpc::StatusCode::UNAVAILABLE, FailAs::kTargetResult);
  ProcessResult run = Step(RetryEnv("2"));
  ExpectOneLineFailure(run, "UNAVAILABLE");
  ExpectIdenticalPushes(3);
}

TEST_F(StepWireRetryTest, PermissionDeniedRpcIsNotRetried) {
  recorder_.FailPushes(5, grpc::StatusCode::PERMISSION_DENIED, FailAs::kRpcStatus);
  ProcessResult run = Step(RetryEnv("3"));
  ExpectOneLineFailure(run, "registry refused the credentials (recorder)");
  ExpectIdenticalPushes(1);
  EXPECT_THAT(run.out, Not(HasSubstr("retrying")));
}

TEST_F(StepWireRetryTest, PermissionDeniedTargetResultIsNotRetried) {
  recorder_.FailPushes(5, grpc::StatusCode::PERMISSION_DENIED, FailAs::kTargetResult);
  ProcessResult run = Step(RetryEnv("3"));
  ExpectOneLineFailure(run, "PERMISSION_DENIED: registry refused the credentials (recorder)");
  ExpectIdenticalPushes(1);
}

// PushMany: a transient per-target failure repeats the whole fan-out (every target again).
TEST_F(StepWireRetryTest, PushManyTransientTargetFailureRetriesTheWholeFanOut) {
  Env env = RetryEnv("1");
  env["PLUGIN_DESTINATIONS"] = "registry.example.com/mirror/app";
  recorder_.FailPushes(1, grpc::StatusCode::UNAVAILABLE, FailAs::kTargetResult, {1});
  ProcessResult run = Step(env);
  EXPECT_EQ(run.exit_code, 0) << run.out << run.err;
  auto many = recorder_.push_many_requests();
  ASSERT_EQ(many.size(), 2u);
  EXPECT_EQ(many[1].targets_size(), 2);
  EXPECT_EQ(Diff(many[0], many[1]), "");
}

// PushMany: one target refused (not transient), the other pushed: no retry.
TEST_F(StepWireRetryTest, PushManyWithAPermanentTargetFailureIsNotRetried) {
  Env env = RetryEnv("3");
  env["PLUGIN_DESTINATIONS"] = "registry.example.com/mirror/app";
  recorder_.FailPushes(5, grpc::StatusCode::PERMISSION_DENIED, FailAs::kTargetResult, {0});
  ProcessResult run = Step(env);
  ExpectOneLineFailure(run, "1 of 2 targets failed: registry.example.com/team/app: "
                            "PERMISSION_DENIED");
  EXPECT_EQ(recorder_.push_many_requests().size(), 1u);
}

}  // namespace
}  // namespace slipway::testing
