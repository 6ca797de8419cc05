// End-to-end: the real slipwayd and slipway binaries on a temp data dir and a temp socket.
#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>
#include <sys/stat.h>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "slipway/v1/slipway.grpc.pb.h"
#include "tests/e2e/e2e_fixture.h"
#include "tests/support/slipwayd_process.h"
#include "tests/support/subprocess.h"
#include "tests/support/temp_dir.h"

namespace slipway {
namespace {

using ::testing::HasSubstr;
using testing::ProcessResult;
using testing::RunProcess;
using testing::SlipwaydOptions;
using testing::SlipwaydProcess;
using testing::TempDir;


std::unique_ptr<grpc::ClientContext> Ctx(const std::string& token = "") {
  auto ctx = std::make_unique<grpc::ClientContext>();
  ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  if (!token.empty()) ctx->AddMetadata("authorization", "Bearer " + token);
  return ctx;
}

TEST(ServerE2eTest, VersionPrints) {
  ProcessResult r = RunProcess({SLIPWAYD_BIN, "--version"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_THAT(r.out, HasSubstr("slipwayd "));
}

TEST(ServerE2eTest, BadFlagIsAUsageError) {
  ProcessResult r = RunProcess({SLIPWAYD_BIN, "--no-such-flag", "1"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("--no-such-flag"));
}

TEST(ServerE2eTest, ListImagesOnEmptyStoreAndSocketMode) {
  auto server = testing::StartSlipwayd();
  ASSERT_NE(server, nullptr);
  auto stub = v1::Slipway::NewStub(server->UnixChannel());
  v1::ListImagesResponse response;
  grpc::Status s = stub->ListImages(Ctx().get(), v1::ListImagesRequest(), &response);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(response.images_size(), 0);

  struct stat st;
  std::string path = server->address().substr(strlen("unix://"));
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0660u);
}

TEST(ServerE2eTest, UnknownRefIsNotFoundAndBadRefNamesTheField) {
  auto server = testing::StartSlipwayd();
  ASSERT_NE(server, nullptr);
  auto stub = v1::Slipway::NewStub(server->UnixChannel());
  v1::GetImageRequest request;
  v1::Image image;
  request.set_ref("nosuch:1");
  grpc::Status s = stub->GetImage(Ctx().get(), request, &image);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND) << s.error_message();
  request.set_ref("sha256:nothex");
  s = stub->GetImage(Ctx().get(), request, &image);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("ref"));
  request.set_ref("");
  s = stub->GetImage(Ctx().get(), request, &image);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("ref"));
}

TEST(ServerE2eTest, UnimplementedRpcsSayWhenTheyLand) {
  auto server = testing::StartSlipwayd();
  ASSERT_NE(server, nullptr);
  auto stub = v1::Slipway::NewStub(server->UnixChannel());
  {
    auto ctx = Ctx();
    auto stream = stub->Build(ctx.get());
    stream->WritesDone();
    grpc::Status s = stream->Finish();
    // The native builder has landed: a stream without a BuildSpec is refused by name.
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_THAT(s.error_message(), HasSubstr("spec"));
  }
  {
    auto ctx = Ctx();
    v1::PushRequest request;
    request.set_ref("app:1");
    auto reader = stub->Push(ctx.get(), request);
    v1::PushProgress progress;
    while (reader->Read(&progress)) {
    }
    grpc::Status s = reader->Finish();
    // The push engine has landed: a request without a target is refused by name.
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_THAT(s.error_message(), HasSubstr("target"));
  }
  {
    auto ctx = Ctx();
    auto reader = stub->PushMany(ctx.get(), v1::PushManyRequest());
    v1::PushProgress progress;
    while (reader->Read(&progress)) {
    }
    grpc::Status s = reader->Finish();
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_THAT(s.error_message(), HasSubstr("targets"));
  }
  {
    v1::ScanResponse response;
    grpc::Status s = stub->Scan(Ctx().get(), v1::ScanRequest(), &response);
    // Scan hooks have landed: a request without a ref is refused by name.
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_THAT(s.error_message(), HasSubstr("ref"));
  }
}

TEST(ServerE2eTest, TcpListenerWithoutTokenRefusesToStart) {
  TempDir dir;
  ProcessResult r = RunProcess({SLIPWAYD_BIN, "--data-dir", dir.Sub("data"), "--listen",
                                "127.0.0.1:0", "--metrics-listen", ""},
                               {}, absl::Seconds(30));
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_THAT(r.err, HasSubstr("auth token"));
}

TEST(ServerE2eTest, NonLoopbackTcpWithoutTlsRefusesToStart) {
  TempDir dir;
  testing::WriteFile(dir.Sub("token"), "t0ken\n");
  ProcessResult r =
      RunProcess({SLIPWAYD_BIN, "--data-dir", dir.Sub("data"), "--listen", "0.0.0.0:0",
                  "--auth-token-file", dir.Sub("token"), "--metrics-listen", ""},
                 {}, absl::Seconds(30));
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_THAT(r.err, HasSubstr("TLS"));
}

TEST(ServerE2eTest, TcpListenerRequiresTheBearerToken) {
  TempDir dir;
  testing::WriteFile(dir.Sub("token"), "right-token\n");
  SlipwaydOptions options;
  options.extra_args = {"--listen", "127.0.0.1:0", "--auth-token-file", dir.Sub("token")};
  auto server = testing::StartSlipwayd(options);
  ASSERT_NE(server, nullptr);
  ASSERT_NE(server->tcp_port(), 0) << server->Log();
  auto channel = grpc::CreateChannel(absl::StrCat("127.0.0.1:", server->tcp_port()),
                                     grpc::InsecureChannelCredentials());
  auto stub = v1::Slipway::NewStub(channel);
  v1::ListImagesResponse response;
  EXPECT_EQ(stub->ListImages(Ctx().get(), v1::ListImagesRequest(), &response).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(
      stub->ListImages(Ctx("wrong-token").get(), v1::ListImagesRequest(), &response).error_code(),
      grpc::StatusCode::UNAUTHENTICATED);
  grpc::Status ok = stub->ListImages(Ctx("right-token").get(), v1::ListImagesRequest(), &response);
  EXPECT_TRUE(ok.ok()) << ok.error_message();
  // Health on TCP is authenticated too.
  EXPECT_FALSE(testing::CheckHealth(channel, "", absl::Seconds(5)).ok());
  EXPECT_TRUE(testing::CheckHealth(channel, "right-token", absl::Seconds(5)).ok());
  // The unix socket relies on file permissions: no token needed.
  auto unix_stub = v1::Slipway::NewStub(server->UnixChannel());
  EXPECT_TRUE(unix_stub->ListImages(Ctx().get(), v1::ListImagesRequest(), &response).ok());
  // The token never reaches the log.
  EXPECT_THAT(server->Log(), ::testing::Not(HasSubstr("right-token")));
  EXPECT_THAT(server->Log(), ::testing::Not(HasSubstr("wrong-token")));
}

TEST(ServerE2eTest, SigtermDrainsAndExitsZero) {
  auto server = testing::StartSlipwayd();
  ASSERT_NE(server, nullptr);
  std::string socket = server->address().substr(strlen("unix://"));
  ProcessResult result;
  ASSERT_TRUE(server->Terminate(absl::Seconds(60), &result)) << server->Log();
  EXPECT_EQ(result.exit_code, 0) << server->Log();
  EXPECT_THAT(server->Log(), HasSubstr("draining"));
  struct stat st;
  EXPECT_NE(::stat(socket.c_str(), &st), 0) << "socket file left behind";
}

TEST(ServerE2eTest, SecondServerOnTheSameDataDirFails) {
  auto first = testing::StartSlipwayd();
  ASSERT_NE(first, nullptr);
  TempDir dir;
  ProcessResult r = RunProcess({SLIPWAYD_BIN, "--data-dir", first->data_dir(), "--listen",
                                "unix://" + dir.Sub("second.sock"), "--metrics-listen", ""},
                               {}, absl::Seconds(30));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("in use by another slipwayd"));
}

TEST(ServerE2eTest, MetricsServeRpcCounters) {
  auto server = testing::StartSlipwayd();
  ASSERT_NE(server, nullptr);
  ASSERT_NE(server->metrics_port(), 0) << server->Log();
  auto stub = v1::Slipway::NewStub(server->UnixChannel());
  v1::ListImagesResponse response;
  ASSERT_TRUE(stub->ListImages(Ctx().get(), v1::ListImagesRequest(), &response).ok());
  v1::ScanResponse scan;
  stub->Scan(Ctx().get(), v1::ScanRequest(), &scan);
  ProcessResult r =
      RunProcess({"/usr/bin/curl", "-sS", "--max-time", "10",
                  absl::StrCat("http://127.0.0.1:", server->metrics_port(), "/metrics")});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("slipway_rpc_requests_total{code=\"OK\",method=\"ListImages\"} 1"));
  EXPECT_THAT(r.out,
              HasSubstr("slipway_rpc_requests_total{code=\"INVALID_ARGUMENT\",method=\"Scan\"} 1"));
  EXPECT_THAT(r.out, HasSubstr("slipway_rpc_duration_seconds_bucket{method=\"ListImages\""));
  EXPECT_THAT(r.out, HasSubstr("slipway_store_bytes"));
  EXPECT_THAT(r.out, HasSubstr("slipway_rpc_in_flight{method=\"ListImages\"} 0"));
}

TEST(ServerE2eTest, RequestIdEchoedAndLogged) {
  auto server = testing::StartSlipwayd();
  ASSERT_NE(server, nullptr);
  auto stub = v1::Slipway::NewStub(server->UnixChannel());
  auto ctx = Ctx();
  ctx->AddMetadata("x-request-id", "e2e-req-42");
  v1::ListImagesResponse response;
  ASSERT_TRUE(stub->ListImages(ctx.get(), v1::ListImagesRequest(), &response).ok());
  auto it = ctx->GetServerInitialMetadata().find("x-request-id");
  ASSERT_NE(it, ctx->GetServerInitialMetadata().end());
  EXPECT_EQ(std::string(it->second.data(), it->second.size()), "e2e-req-42");
  EXPECT_THAT(server->Log(), HasSubstr("[req=e2e-req-42] ListImages OK"));
}

TEST(ClientE2eTest, ImagesTagRmAndErrors) {
  auto server = testing::StartSlipwayd();
  ASSERT_NE(server, nullptr);
  std::map<std::string, std::string> env = {{"SLIPWAY_ADDR", server->address()}};
  ProcessResult r = RunProcess({SLIPWAY_BIN, "images"}, env);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("TAG"));
  r = RunProcess({SLIPWAY_BIN, "images", "--json"}, env);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("{"));
  r = RunProcess({SLIPWAY_BIN, "tag", "nosuch:1", "other:2"}, env);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("slipway: TagImage: "));
  r = RunProcess({SLIPWAY_BIN, "rm", "nosuch:1"}, env);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("slipway: DeleteImage: "));
  r = RunProcess({SLIPWAY_BIN, "tag", "only-one"}, env);
  EXPECT_EQ(r.exit_code, 2);
  r = RunProcess({SLIPWAY_BIN, "frobnicate"}, env);
  EXPECT_EQ(r.exit_code, 2);
  r = RunProcess({SLIPWAY_BIN, "gc", "--dry-run"}, env);
  EXPECT_EQ(r.exit_code, 0) << r.err;
}

TEST(ClientE2eTest, UnreachableServerIsOneLineError) {
  TempDir dir;
  ProcessResult r =
      RunProcess({SLIPWAY_BIN, "images"}, {{"SLIPWAY_ADDR", "unix://" + dir.Sub("nobody.sock")}});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("slipway: ListImages: "));
}

TEST(ClientE2eTest, TokenFromEnvironmentOverTcp) {
  TempDir dir;
  testing::WriteFile(dir.Sub("token"), "cli-token\n");
  SlipwaydOptions options;
  options.extra_args = {"--listen", "127.0.0.1:0", "--auth-token-file", dir.Sub("token")};
  auto server = testing::StartSlipwayd(options);
  ASSERT_NE(server, nullptr);
  std::string addr = absl::StrCat("127.0.0.1:", server->tcp_port());
  ProcessResult r = RunProcess({SLIPWAY_BIN, "images"}, {{"SLIPWAY_ADDR", addr}});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("slipway: ListImages: "));
  r = RunProcess({SLIPWAY_BIN, "images"},
                 {{"SLIPWAY_ADDR", addr}, {"SLIPWAY_TOKEN_FILE", dir.Sub("token")}});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  r = RunProcess({SLIPWAY_BIN, "images"}, {{"SLIPWAY_ADDR", addr}, {"SLIPWAY_TOKEN", "cli-token"}});
  EXPECT_EQ(r.exit_code, 0) << r.err;
}

TEST(ClientE2eTest, TlsListenerWithTokenAndCa) {
  TempDir dir;
  // A self-signed certificate for 127.0.0.1, made by the openssl CLI (nobody here wrote it).
  ProcessResult gen =
      RunProcess({"/usr/bin/openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                  "-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
                  "-keyout", dir.Sub("key.pem"), "-out", dir.Sub("cert.pem")},
                 {}, absl::Seconds(60));
  ASSERT_EQ(gen.exit_code, 0) << gen.err;
  testing::WriteFile(dir.Sub("token"), "tls-token\n");
  SlipwaydOptions options;
  options.extra_args = {"--listen",   "127.0.0.1:0",       "--auth-token-file", dir.Sub("token"),
                        "--tls-cert", dir.Sub("cert.pem"), "--tls-key",         dir.Sub("key.pem")};
  auto server = testing::StartSlipwayd(options);
  ASSERT_NE(server, nullptr);
  ASSERT_NE(server->tcp_port(), 0) << server->Log();
  std::map<std::string, std::string> env = {
      {"SLIPWAY_ADDR", absl::StrCat("127.0.0.1:", server->tcp_port())},
      {"SLIPWAY_TLS", "1"},
      {"SLIPWAY_TLS_CA", dir.Sub("cert.pem")},
      {"SLIPWAY_TOKEN", "tls-token"}};
  ProcessResult r = RunProcess({SLIPWAY_BIN, "images"}, env);
  EXPECT_EQ(r.exit_code, 0) << r.err << server->Log();
  env["SLIPWAY_TOKEN"] = "wrong";
  r = RunProcess({SLIPWAY_BIN, "images"}, env);
  EXPECT_EQ(r.exit_code, 1);
  env["SLIPWAY_TOKEN"] = "tls-token";
  env["SLIPWAY_TLS"] = "";  // plain text against a TLS port fails
  r = RunProcess({SLIPWAY_BIN, "images"}, env);
  EXPECT_EQ(r.exit_code, 1);
}

TEST(FsckE2eTest, EmptyStoreIsClean) {
  TempDir dir;
  ProcessResult r = RunProcess({SLIPWAYD_BIN, "fsck", "--data-dir", dir.Sub("data")});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
}

}  // namespace
}  // namespace slipway
