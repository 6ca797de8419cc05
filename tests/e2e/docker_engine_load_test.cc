// Loading stored images into a Docker Engine API: the real slipway binary and the client
// library against a real engine (Debian's podman serving the Docker API on a unix socket), plus
// a loopback HTTP server for what podman does not do (tcp://, Docker's in-stream errors).
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <mutex>
#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "client/connection.h"
#include "client/docker_engine.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/e2e/e2e_fixture.h"
#include "tests/support/http_wire.h"
#include "tests/support/loopback_server.h"
#include "tests/support/podman_service.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_http_server.h"

namespace slipway {
namespace {

using ::testing::HasSubstr;
using testing::EngineResponse;
using testing::PodmanService;
using testing::ProcessResult;

// A TarReader over a string, handing out at most `step` bytes per call (so the upload spans
// several chunks).
client::TarReader StringReader(std::string data, size_t step = 1000) {
  auto state = std::make_shared<std::pair<std::string, size_t>>(std::move(data), 0);
  return [state, step](char* buf, size_t cap) -> absl::StatusOr<size_t> {
    size_t n = std::min({cap, step, state->first.size() - state->second});
    std::copy_n(state->first.data() + state->second, n, buf);
    state->second += n;
    return n;
  };
}

// The config digest of the OCI layout's only manifest: Docker's (and podman's) image ID.
std::string LayoutConfigDigest(const std::string& layout) {
  auto blob = [&](const std::string& digest) {
    return nlohmann::json::parse(testing::ReadFile(layout + "/blobs/sha256/" + digest.substr(7)));
  };
  auto index = nlohmann::json::parse(testing::ReadFile(layout + "/index.json"));
  return blob(index["manifests"][0]["digest"])["config"]["digest"];
}

// The entry of GET /images/json whose RepoTags hold `tag` (null when none).
nlohmann::json FindEngineImage(const PodmanService& engine, const std::string& tag) {
  EngineResponse r = engine.Get("/images/json");
  EXPECT_EQ(r.status, 200) << r.body;
  auto images = nlohmann::json::parse(r.body, nullptr, /*allow_exceptions=*/false);
  if (!images.is_array()) return nullptr;
  for (const auto& image : images) {
    if (!image.contains("RepoTags") || !image["RepoTags"].is_array()) continue;
    for (const auto& t : image["RepoTags"]) {
      if (t == tag) return image;
    }
  }
  return nullptr;
}

class DockerEngineLoadTest : public testing::ClientTest {
 protected:
  // Imports the offline busybox layout as `tag`; returns its config digest.
  std::string ImportTestImage(const std::string& tag) {
    testing::MakeOciLayout(dir_.Sub("oci"));
    ProcessResult r = Slipway({"import", dir_.Sub("oci"), "--tag", tag});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return LayoutConfigDigest(dir_.Sub("oci"));
  }

  std::unique_ptr<client::Connection> Connect() {
    client::ConnectionSettings settings;
    settings.address = server_->address();
    auto conn = client::Connection::Open(settings);
    EXPECT_TRUE(conn.ok()) << conn.status();
    return conn.ok() ? *std::move(conn) : nullptr;
  }
};

TEST_F(DockerEngineLoadTest, StoredImageLoadsWithItsTagsAndConfigDigestAsImageId) {
  auto engine = PodmanService::Start();
  ASSERT_NE(engine, nullptr);
  const std::string tag = "registry.example.com/demo/busybox:v1";
  std::string config_digest = ImportTestImage(tag);
  ASSERT_THAT(config_digest, ::testing::StartsWith("sha256:"));
  ASSERT_TRUE(FindEngineImage(*engine, tag).is_null()) << "the engine starts empty";

  // The binary, with the image's own tags.
  ProcessResult r = Slipway({"load", tag, "--docker-host", engine->docker_host()});
  ASSERT_EQ(r.exit_code, 0) << r.err << "\npodman log:\n" << engine->Log();
  EXPECT_THAT(r.out, HasSubstr("Loaded image"));
  EXPECT_THAT(r.out, HasSubstr(tag));
  nlohmann::json image = FindEngineImage(*engine, tag);
  ASSERT_FALSE(image.is_null()) << engine->Get("/images/json").body;
  EXPECT_EQ(image["Id"], config_digest);

  // The library call the CI step makes, naming the image afresh (repo_tags).
  auto conn = Connect();
  ASSERT_NE(conn, nullptr);
  const std::string other = "registry.example.com/team/app:2";
  std::string message;
  absl::Status status =
      client::LoadStoredImage(*conn, tag, {other}, engine->docker_host(), &message);
  ASSERT_TRUE(status.ok()) << status;
  EXPECT_THAT(message, HasSubstr(other));
  image = FindEngineImage(*engine, other);
  ASSERT_FALSE(image.is_null()) << engine->Get("/images/json").body;
  EXPECT_EQ(image["Id"], config_digest);

  // DOCKER_HOST is what the binary uses without --docker-host.
  const std::string third = "registry.example.com/team/app:3";
  r = Slipway({"load", tag, "--tag", third}, {{"DOCKER_HOST", engine->docker_host()}});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  image = FindEngineImage(*engine, third);
  ASSERT_FALSE(image.is_null()) << engine->Get("/images/json").body;
  EXPECT_EQ(image["Id"], config_digest);
}

TEST_F(DockerEngineLoadTest, EngineRefusalIsPassedOnWithTheEngineMessage) {
  auto engine = PodmanService::Start();
  ASSERT_NE(engine, nullptr);
  std::string garbage(200000, '\0');
  for (size_t i = 0; i < garbage.size(); ++i) garbage[i] = static_cast<char>((i * 7919) % 251);
  std::string message = "untouched";
  absl::Status status = client::LoadIntoDockerEngine(engine->docker_host(),
                                                     StringReader(garbage, 65536), &message);
  ASSERT_EQ(status.code(), absl::StatusCode::kInternal) << status;
  EXPECT_THAT(status.message(), HasSubstr(engine->docker_host()));
  // podman's own words for an archive in no format it knows.
  EXPECT_THAT(status.message(), HasSubstr("payload does not match any of the supported image"));
  EXPECT_EQ(message, "untouched");
  EngineResponse images = engine->Get("/images/json");
  EXPECT_EQ(images.body.find("RepoTags\":[\""), std::string::npos) << images.body;
}

TEST_F(DockerEngineLoadTest, ExportAndSourceFailuresComeBackUnchanged) {
  auto engine = PodmanService::Start();
  ASSERT_NE(engine, nullptr);
  auto conn = Connect();
  ASSERT_NE(conn, nullptr);
  absl::Status status =
      client::LoadStoredImage(*conn, "nothing/here:1", {}, engine->docker_host(), nullptr);
  EXPECT_EQ(status.code(), absl::StatusCode::kNotFound) << status;
  EXPECT_THAT(status.message(), HasSubstr("ExportImage: "));

  // A failing source aborts the upload and its error is returned as is.
  int calls = 0;
  client::TarReader failing = [&calls](char* buf, size_t cap) -> absl::StatusOr<size_t> {
    if (++calls == 1) {
      std::fill_n(buf, std::min<size_t>(cap, 512), '\0');
      return std::min<size_t>(cap, 512);
    }
    return absl::DataLossError("source broke at byte 512");
  };
  status = client::LoadIntoDockerEngine(engine->docker_host(), failing, nullptr);
  EXPECT_EQ(status, absl::DataLossError("source broke at byte 512"));
  // The engine survives an aborted upload.
  EXPECT_EQ(engine->Get("/_ping").body, "OK");
}

TEST_F(DockerEngineLoadTest, UnreachableEngineFailsNamingTheHost) {
  ImportTestImage("demo/busybox:v1");
  const std::string host = "unix://" + dir_.Sub("no-engine/docker.sock");
  ProcessResult r = Slipway({"load", "demo/busybox:v1", "--docker-host", host});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("slipway: load: docker engine " + host));

  absl::Status status = client::LoadIntoDockerEngine(host, StringReader("x"), nullptr);
  EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable) << status;
  EXPECT_THAT(status.message(), HasSubstr(host));

  // A TCP port nobody listens on (tcpmux, unused on test machines): connection refused.
  status = client::LoadIntoDockerEngine("tcp://127.0.0.1:1", StringReader("x"), nullptr);
  EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable) << status;
  EXPECT_THAT(status.message(), HasSubstr("tcp://127.0.0.1:1"));

  for (const std::string bad : {"ssh://user@host", "unix://relative.sock", "tcp://", "docker"}) {
    status = client::LoadIntoDockerEngine(bad, StringReader("x"), nullptr);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << bad << ": " << status;
    EXPECT_THAT(status.message(), HasSubstr("\"" + bad + "\"")) << status;
  }
  r = Slipway({"load", "demo/busybox:v1"}, {{"DOCKER_HOST", "ssh://user@host"}});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("ssh://user@host"));
}

// What podman does not cover: tcp:// addresses, and Docker's way of failing a load (HTTP 200,
// then an errorDetail line). The server checks what an engine checks of the request.
TEST(DockerEngineHttpTest, TcpHostGetsAChunkedTarPostAndInStreamErrorsFail) {
  absl::Mutex mu;
  std::vector<std::string> problems;
  std::string received;
  std::string answer;
  auto server = testing::TestHttpServer::Start([&](const testing::HttpRequest& req) {
    absl::MutexLock lock(&mu);
    auto header = [&](const char* name) {
      return testing::http::FindHeader(req.head.headers, name).value_or("");
    };
    if (req.head.method != "POST") problems.push_back("method " + req.head.method);
    if (req.path() != "/images/load") problems.push_back("path " + req.path());
    if (header("Content-Type") != "application/x-tar")
      problems.push_back("content-type " + header("Content-Type"));
    if (header("Transfer-Encoding") != "chunked")
      problems.push_back("transfer-encoding " + header("Transfer-Encoding"));
    received = req.body;
    testing::HttpResponse resp;
    resp.headers = {{"Content-Type", "application/json"}};
    resp.body = answer;
    resp.framing = testing::HttpResponse::kChunked;
    return resp;
  });
  ASSERT_TRUE(server.ok()) << server.status();
  const std::string host = absl::StrCat("tcp://127.0.0.1:", (*server)->port());
  std::string tar(300000, 'a');
  for (size_t i = 0; i < tar.size(); ++i) tar[i] = static_cast<char>('a' + i % 26);

  {
    absl::MutexLock lock(&mu);
    answer = "{\"stream\":\"Loaded image: example.com/app:1\\n\"}\n"
             "{\"stream\":\"Loaded image ID: sha256:abc\\n\"}";  // no final newline
  }
  std::string message;
  absl::Status status = client::LoadIntoDockerEngine(host, StringReader(tar, 4096), &message);
  ASSERT_TRUE(status.ok()) << status;
  EXPECT_EQ(message, "Loaded image: example.com/app:1\nLoaded image ID: sha256:abc");
  {
    absl::MutexLock lock(&mu);
    EXPECT_THAT(problems, ::testing::IsEmpty());
    EXPECT_TRUE(received == tar) << "received " << received.size() << " bytes, sent " << tar.size();
    answer = "{\"status\":\"Loading layer\",\"progressDetail\":{\"current\":1}}\n"
             "{\"errorDetail\":{\"message\":\"write /var/lib/docker/tmp: no space left on "
             "device\"},\"error\":\"no space left\"}\n";
  }
  status = client::LoadIntoDockerEngine(host, StringReader(tar, 4096), &message);
  EXPECT_EQ(status.code(), absl::StatusCode::kInternal) << status;
  EXPECT_THAT(status.message(), HasSubstr(host));
  EXPECT_THAT(status.message(), HasSubstr("no space left on device"));
}

// The upload streams: the engine has most of the first MiB before the source is asked for the
// second. A client that gathered the archive first would leave the reader waiting (bounded)
// for bytes the engine never gets, and the load would fail.
TEST(DockerEngineHttpTest, TheArchiveIsStreamedNotGatheredFirst) {
  constexpr size_t kPiece = 1 << 20;
  std::atomic<size_t> engine_got{0};
  auto server = testing::LoopbackServer::Start(
      [&](testing::http::Conn& conn, const std::atomic<bool>&) {
        auto head = testing::http::ReadRequestHead(conn);
        if (!head.ok()) return;
        auto framing = testing::http::RequestFraming(*head);
        if (!framing.ok()) return;
        absl::Status read = testing::http::ReadBody(
            conn, *framing, [&](absl::string_view wire, bool payload) {
              if (payload) engine_got += wire.size();
              return true;
            });
        if (!read.ok()) return;
        std::string body = "{\"stream\":\"Loaded image: streamed:1\\n\"}\n";
        (void)conn.WriteAll(absl::StrCat("HTTP/1.1 200 OK\r\nContent-Length: ", body.size(),
                                         "\r\nConnection: close\r\n\r\n", body));
      });
  ASSERT_TRUE(server.ok()) << server.status();

  size_t produced = 0;
  bool waited_ok = false;
  client::TarReader reader = [&](char* buf, size_t cap) -> absl::StatusOr<size_t> {
    if (produced == kPiece) {
      // Bounded: 10 s for the engine to see at least half of what was produced.
      for (int i = 0; i < 1000 && engine_got.load() < kPiece / 2; ++i) {
        absl::SleepFor(absl::Milliseconds(10));
      }
      if (engine_got.load() < kPiece / 2) {
        return absl::FailedPreconditionError(
            absl::StrCat("the engine had ", engine_got.load(), " bytes of the first MiB"));
      }
      waited_ok = true;
    }
    size_t limit = produced < kPiece ? kPiece : 2 * kPiece;
    size_t n = std::min(cap, limit - produced);
    std::fill_n(buf, n, 't');
    produced += n;
    return n;
  };
  std::string message;
  absl::Status status = client::LoadIntoDockerEngine(
      absl::StrCat("tcp://127.0.0.1:", (*server)->port()), reader, &message);
  ASSERT_TRUE(status.ok()) << status;
  EXPECT_TRUE(waited_ok);
  EXPECT_EQ(engine_got.load(), 2 * kPiece);
  EXPECT_EQ(message, "Loaded image: streamed:1");
}

TEST(ResolveDockerHostTest, DockerHostElseTheDefaultSocketElseNotFound) {
  testing::TempDir dir;
  std::map<std::string, std::string> vars;
  client::EnvLookup env = [&vars](const std::string& name) -> std::optional<std::string> {
    auto it = vars.find(name);
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
  const std::string sock = dir.Sub("docker.sock");

  // No DOCKER_HOST, no socket: NOT_FOUND naming the path.
  auto host = client::ResolveDockerHost(env, sock);
  EXPECT_EQ(host.status().code(), absl::StatusCode::kNotFound) << host.status();
  EXPECT_THAT(host.status().message(), HasSubstr(sock));

  // A regular file is not an engine.
  testing::WriteFile(sock, "");
  host = client::ResolveDockerHost(env, sock);
  EXPECT_EQ(host.status().code(), absl::StatusCode::kNotFound) << host.status();
  ASSERT_EQ(::unlink(sock.c_str()), 0);

  // A listening unix socket is.
  int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  ASSERT_LT(sock.size(), sizeof(addr.sun_path));
  std::copy(sock.begin(), sock.end(), addr.sun_path);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  host = client::ResolveDockerHost(env, sock);
  ::close(fd);
  ASSERT_TRUE(host.ok()) << host.status();
  EXPECT_EQ(*host, "unix://" + sock);

  // DOCKER_HOST wins, as given; an empty one counts as unset.
  vars["DOCKER_HOST"] = "tcp://127.0.0.1:2375";
  host = client::ResolveDockerHost(env, sock);
  ASSERT_TRUE(host.ok()) << host.status();
  EXPECT_EQ(*host, "tcp://127.0.0.1:2375");
  vars["DOCKER_HOST"] = "";
  host = client::ResolveDockerHost(env, dir.Sub("absent.sock"));
  EXPECT_EQ(host.status().code(), absl::StatusCode::kNotFound) << host.status();
}

TEST(DockerTlsTest, CertPathAndVerifyFollowDockersClient) {
  testing::TempDir dir;
  testing::WriteFile(dir.Sub("certs/ca.pem"), "ca");
  testing::WriteFile(dir.Sub("certs/cert.pem"), "cert");
  testing::WriteFile(dir.Sub("certs/key.pem"), "key");
  std::map<std::string, std::string> vars;
  client::EnvLookup env = [&vars](const std::string& name) -> std::optional<std::string> {
    auto it = vars.find(name);
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
  EXPECT_FALSE(client::DockerTlsFromEnvironment(env).enabled);

  vars["DOCKER_CERT_PATH"] = dir.Sub("certs");
  client::DockerEngineTls tls = client::DockerTlsFromEnvironment(env);
  EXPECT_TRUE(tls.enabled);
  EXPECT_FALSE(tls.verify);
  EXPECT_EQ(tls.ca_file, dir.Sub("certs/ca.pem"));
  EXPECT_EQ(tls.cert_file, dir.Sub("certs/cert.pem"));
  EXPECT_EQ(tls.key_file, dir.Sub("certs/key.pem"));

  vars.clear();
  vars["DOCKER_TLS_VERIFY"] = "1";
  vars["HOME"] = dir.path();  // no .docker dir: TLS with the system store
  tls = client::DockerTlsFromEnvironment(env);
  EXPECT_TRUE(tls.enabled);
  EXPECT_TRUE(tls.verify);
  EXPECT_EQ(tls.ca_file, "");
}

}  // namespace
}  // namespace slipway
