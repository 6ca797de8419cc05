// `slipway build` against the real slipwayd: cache behaviour, errors, stages, base images from
// the store and from a registry. (Filesystem equivalence with buildah: tests/builddiff.)

#include <chrono>
#include <filesystem>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "grpcpp/grpcpp.h"
#include "nlohmann/json.hpp"
#include "slipway/v1/slipway.grpc.pb.h"
#include "tests/e2e/e2e_fixture.h"
#include "tests/support/registry_process.h"

namespace slipway::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

// The --json output of one build, parsed.
struct BuildOutput {
  int exit_code = -1;
  std::string digest;
  std::map<std::string, std::string> state_by_instruction;  // final state of each step
  int files_uploaded = -1;
  int64_t bytes_sent = -1;
  std::string all;
};

BuildOutput Parse(const ProcessResult& r) {
  BuildOutput out;
  out.exit_code = r.exit_code;
  out.all = r.out + r.err;
  for (absl::string_view line : absl::StrSplit(r.out, '\n', absl::SkipEmpty())) {
    auto j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (!j.is_object()) continue;
    const std::string type = j.value("type", "");
    if (type == "event" && j.value("state", "") != "started") {
      out.state_by_instruction[j.value("instruction", "")] = j.value("state", "");
    } else if (type == "context") {
      out.files_uploaded = j.value("files_uploaded", -1);
      out.bytes_sent = j.value("bytes_sent", int64_t{-1});
    } else if (type == "result") {
      out.digest = j.value("digest", "");
    }
  }
  return out;
}

class ClientBuildTest : public ClientTest {
 protected:
  void SetUp() override {
    ClientTest::SetUp();
    ctx_ = dir_.Sub("ctx");
    WriteFile(ctx_ + "/a.txt", "alpha\n");
    WriteFile(ctx_ + "/b/one.txt", "one\n");
    WriteFile(ctx_ + "/b/two.txt", "two\n");
  }

  BuildOutput Build(const std::string& dockerfile, std::vector<std::string> extra = {}) {
    WriteFile(dir_.Sub("Dockerfile"), dockerfile);
    std::vector<std::string> args{"build", "--json", "-f", dir_.Sub("Dockerfile"),
                                  "--source-date-epoch", "1700000000"};
    args.insert(args.end(), extra.begin(), extra.end());
    args.push_back(ctx_);
    return Parse(Slipway(args));
  }

  // The layer digests of a stored manifest, read from the store's OCI layout on disk.
  std::vector<std::string> Layers(const std::string& digest) {
    std::string hex = digest.substr(digest.find(':') + 1);
    auto j = nlohmann::json::parse(ReadFile(server_->data_dir() + "/blobs/sha256/" + hex),
                                   nullptr, false);
    std::vector<std::string> out;
    if (!j.is_object()) return out;
    for (const auto& l : j["layers"]) out.push_back(l.value("digest", ""));
    return out;
  }

  // The config JSON of a stored manifest.
  nlohmann::json Config(const std::string& digest) {
    auto hex = [](const std::string& d) { return d.substr(d.find(':') + 1); };
    auto manifest = nlohmann::json::parse(
        ReadFile(server_->data_dir() + "/blobs/sha256/" + hex(digest)), nullptr, false);
    if (!manifest.is_object()) return nullptr;
    const std::string config = manifest["config"].value("digest", "");
    return nlohmann::json::parse(ReadFile(server_->data_dir() + "/blobs/sha256/" + hex(config)),
                                 nullptr, false);
  }

  std::string ctx_;
};

std::vector<std::string> HistoryTimes(const nlohmann::json& config) {
  std::vector<std::string> times;
  if (!config.is_object() || !config.contains("history")) return times;
  for (const auto& h : config["history"]) times.push_back(h.value("created", ""));
  return times;
}

constexpr char kTwoLinkedCopies[] =
    "FROM scratch\n"
    "COPY --link a.txt /a.txt\n"
    "COPY --link b/ /b/\n"
    "ENV MODE=test\n"
    "CMD [\"/a.txt\"]\n";

TEST_F(ClientBuildTest, RebuildHitsTheCacheAndSendsNothing) {
  BuildOutput first = Build(kTwoLinkedCopies, {"-t", "demo/app:1"});
  ASSERT_EQ(first.exit_code, 0) << first.all;
  ASSERT_THAT(first.digest, ::testing::StartsWith("sha256:"));
  EXPECT_EQ(first.files_uploaded, 3);
  EXPECT_EQ(first.state_by_instruction["COPY --link a.txt /a.txt"], "done") << first.all;
  EXPECT_EQ(Layers(first.digest).size(), 2u);

  BuildOutput second = Build(kTwoLinkedCopies, {"-t", "demo/app:1"});
  ASSERT_EQ(second.exit_code, 0) << second.all;
  EXPECT_EQ(second.files_uploaded, 0);
  EXPECT_EQ(second.state_by_instruction["COPY --link a.txt /a.txt"], "cached");
  EXPECT_EQ(second.state_by_instruction["COPY --link b/ /b/"], "cached");
  // SOURCE_DATE_EPOCH fixes every timestamp: the same inputs give the same image.
  EXPECT_EQ(second.digest, first.digest);

  ProcessResult images = Slipway({"images"});
  EXPECT_THAT(images.out, HasSubstr("demo/app:1"));
}

// Without SOURCE_DATE_EPOCH too, a rebuild that hits the cache for every step makes the very
// same image, as BuildKit and buildah do: history keeps the times the layers were built. After
// a change, the steps before it keep their times and the image takes the new one.
TEST_F(ClientBuildTest, FullyCachedRebuildMakesTheSameImageWithoutSourceDateEpoch) {
  WriteFile(dir_.Sub("Dockerfile"),
            "FROM scratch\nENV A=1\nCOPY a.txt /a.txt\nLABEL x=y\nCOPY b/ /b/\n"
            "CMD [\"/a.txt\"]\n");
  auto build = [&] {
    return Parse(Slipway({"build", "--json", "-f", dir_.Sub("Dockerfile"), ctx_}));
  };
  // Times have second resolution: each build starts in a later second than the one before.
  auto next_second = [] { std::this_thread::sleep_for(std::chrono::milliseconds(1100)); };
  BuildOutput first = build();
  ASSERT_EQ(first.exit_code, 0) << first.all;
  const nlohmann::json first_config = Config(first.digest);
  const std::vector<std::string> first_times = HistoryTimes(first_config);
  ASSERT_EQ(first_times.size(), 5u) << first_config.dump();
  for (const auto& t : first_times) EXPECT_EQ(t, first_config.value("created", "")) << t;

  next_second();
  BuildOutput second = build();
  ASSERT_EQ(second.exit_code, 0) << second.all;
  EXPECT_EQ(second.state_by_instruction["COPY b/ /b/"], "cached");
  EXPECT_EQ(second.digest, first.digest) << Config(second.digest).dump();

  next_second();
  WriteFile(ctx_ + "/b/two.txt", "two, changed\n");
  BuildOutput third = build();
  ASSERT_EQ(third.exit_code, 0) << third.all;
  EXPECT_EQ(third.state_by_instruction["COPY a.txt /a.txt"], "cached");
  EXPECT_EQ(third.state_by_instruction["COPY b/ /b/"], "done");
  ASSERT_NE(third.digest, first.digest);
  const nlohmann::json third_config = Config(third.digest);
  const std::vector<std::string> third_times = HistoryTimes(third_config);
  ASSERT_EQ(third_times.size(), 5u);
  // ENV, COPY a.txt and LABEL: as first built. COPY b/ and CMD after it: this build's time.
  EXPECT_EQ(third_times[0], first_times[0]);
  EXPECT_EQ(third_times[1], first_times[1]);
  EXPECT_EQ(third_times[2], first_times[2]);
  EXPECT_GT(third_times[3], first_times[3]);  // RFC 3339 UTC strings order like the times
  EXPECT_EQ(third_times[4], third_times[3]);
  EXPECT_EQ(third_config.value("created", ""), third_times[3]);
}

// Unlike kaniko, a miss does not make every later step miss: with --link, the second COPY
// does not depend on the first, so changing a.txt rebuilds only the first layer.
TEST_F(ClientBuildTest, OneMissDoesNotStopLaterStepsFromHitting) {
  BuildOutput first = Build(kTwoLinkedCopies);
  ASSERT_EQ(first.exit_code, 0) << first.all;
  WriteFile(ctx_ + "/a.txt", "alpha, changed\n");
  BuildOutput second = Build(kTwoLinkedCopies);
  ASSERT_EQ(second.exit_code, 0) << second.all;
  EXPECT_EQ(second.files_uploaded, 1);
  EXPECT_EQ(second.state_by_instruction["COPY --link a.txt /a.txt"], "done");
  EXPECT_EQ(second.state_by_instruction["COPY --link b/ /b/"], "cached");
  auto before = Layers(first.digest), after = Layers(second.digest);
  ASSERT_EQ(before.size(), 2u);
  ASSERT_EQ(after.size(), 2u);
  EXPECT_NE(before[0], after[0]);
  EXPECT_EQ(before[1], after[1]);
}

TEST_F(ClientBuildTest, NoCacheRebuildsEveryLayerToTheSameBytes) {
  BuildOutput first = Build(kTwoLinkedCopies);
  ASSERT_EQ(first.exit_code, 0) << first.all;
  BuildOutput second = Build(kTwoLinkedCopies, {"--no-cache"});
  ASSERT_EQ(second.exit_code, 0) << second.all;
  EXPECT_EQ(second.state_by_instruction["COPY --link a.txt /a.txt"], "done");
  EXPECT_EQ(second.state_by_instruction["COPY --link b/ /b/"], "done");
  // Layers are deterministic: rebuilt from scratch, they are byte for byte the same.
  EXPECT_EQ(Layers(second.digest), Layers(first.digest));
}

// zstd on request: layers typed tar+zstd that zstd itself decompresses; the gzip build of
// the same files stays cached apart. zstd with Docker media types is refused up front.
TEST_F(ClientBuildTest, ZstdLayersOnRequest) {
  BuildOutput gzip = Build(kTwoLinkedCopies);
  ASSERT_EQ(gzip.exit_code, 0) << gzip.all;
  BuildOutput zstd = Build(kTwoLinkedCopies, {"--compression", "zstd"});
  ASSERT_EQ(zstd.exit_code, 0) << zstd.all;
  EXPECT_EQ(zstd.state_by_instruction["COPY --link a.txt /a.txt"], "done");
  std::string hex = zstd.digest.substr(7);
  auto manifest = nlohmann::json::parse(
      ReadFile(server_->data_dir() + "/blobs/sha256/" + hex), nullptr, false);
  ASSERT_TRUE(manifest.is_object());
  for (const auto& layer : manifest["layers"]) {
    EXPECT_EQ(layer.value("mediaType", ""), "application/vnd.oci.image.layer.v1.tar+zstd");
    std::string digest = layer.value("digest", "");
    ProcessResult t = RunProcess(
        {"/bin/sh", "-c", "zstd -dc '" + server_->data_dir() + "/blobs/sha256/" +
                              digest.substr(7) + "' | tar -tf -"},
        {}, absl::Seconds(30));
    EXPECT_EQ(t.exit_code, 0) << t.err;
  }
  EXPECT_NE(Layers(zstd.digest), Layers(gzip.digest));
  BuildOutput again = Build(kTwoLinkedCopies);
  EXPECT_EQ(again.state_by_instruction["COPY --link a.txt /a.txt"], "cached");
  EXPECT_EQ(Layers(again.digest), Layers(gzip.digest));

  BuildOutput refused = Build(kTwoLinkedCopies, {"--compression", "zstd", "--format", "docker"});
  EXPECT_NE(refused.exit_code, 0);
  EXPECT_THAT(refused.all, HasSubstr("zstd"));
}

TEST_F(ClientBuildTest, CacheSurvivesARestart) {
  SlipwaydOptions options;
  options.data_dir = dir_.Sub("data");  // ours: it outlives each slipwayd
  server_ = StartSlipwayd(options);
  ASSERT_NE(server_, nullptr);
  env_ = {{"SLIPWAY_ADDR", server_->address()}};
  BuildOutput first = Build(kTwoLinkedCopies);
  ASSERT_EQ(first.exit_code, 0) << first.all;
  server_.reset();  // kills the first slipwayd
  server_ = StartSlipwayd(options);
  ASSERT_NE(server_, nullptr);
  env_ = {{"SLIPWAY_ADDR", server_->address()}};
  BuildOutput second = Build(kTwoLinkedCopies);
  ASSERT_EQ(second.exit_code, 0) << second.all;
  EXPECT_EQ(second.files_uploaded, 0);
  EXPECT_EQ(second.state_by_instruction["COPY --link a.txt /a.txt"], "cached");
  EXPECT_EQ(second.digest, first.digest);
}

// Bad Dockerfiles: the error names the file and line; no image, no tag.
TEST_F(ClientBuildTest, BadDockerfilesNameFileAndLineAndStoreNoImage) {
  struct Case {
    std::string dockerfile;
    std::string expected;
  };
  const std::vector<Case> cases = {
      {"FROM scratch\nCOPY a.txt /a\nFROMM scratch\n", "Dockerfile:3:"},
      {"FROM scratch\nCOPY <<EOF /x\nnever ends\n", "Dockerfile:2:"},
      {"FROM scratch\nSHELL [\"/bin/sh\", \n", "Dockerfile:2:"},
      {"FROM scratch\nCOPY a.txt /a\nCOPY nothere.txt /x\n", "nothere.txt"},
      {"FROM localhost/absent:1\nCOPY a.txt /a\n", "Dockerfile:1:"},
  };
  auto blob_count = [this] {
    int n = 0;
    for (const auto& e :
         std::filesystem::directory_iterator(server_->data_dir() + "/blobs/sha256")) {
      (void)e;
      ++n;
    }
    return n;
  };
  for (size_t i = 0; i < cases.size(); ++i) {
    const Case& c = cases[i];
    const int blobs_before = blob_count();
    BuildOutput out = Build(c.dockerfile, {"-t", "demo/bad:1"});
    EXPECT_NE(out.exit_code, 0) << c.dockerfile;
    EXPECT_THAT(out.all, HasSubstr(c.expected)) << c.dockerfile;
    // The first three cannot parse: refused before any context file is uploaded.
    if (i < 3) EXPECT_EQ(blob_count(), blobs_before) << c.dockerfile;
  }
  ProcessResult images = Slipway({"images"});
  EXPECT_EQ(images.exit_code, 0);
  EXPECT_THAT(images.out, Not(HasSubstr("demo/bad")));
}

// --target builds only what the target needs: the broken stage is never attempted. Stages run
// in parallel; COPY --from by name and by index.
TEST_F(ClientBuildTest, TargetSkipsStagesItDoesNotNeed) {
  const std::string dockerfile =
      "FROM localhost/never-there:1 AS broken\n"
      "COPY a.txt /a\n"
      "FROM scratch AS one\n"
      "COPY a.txt /from-one.txt\n"
      "FROM scratch AS two\n"
      "COPY b/ /bdir/\n"
      "FROM scratch AS final\n"
      "COPY --from=one /from-one.txt /x/\n"
      "COPY --from=2 /bdir /y\n"
      "WORKDIR /work\n"
      "COPY a.txt rel.txt\n";
  BuildOutput out = Build(dockerfile, {"--target", "final", "-t", "demo/multi:1"});
  ASSERT_EQ(out.exit_code, 0) << out.all;
  EXPECT_THAT(out.all, Not(HasSubstr("never-there")));
  // umoci, an independent unpacker, sees the files where Docker's rules put them.
  const std::string tar = dir_.Sub("multi.tar");
  ProcessResult r = Slipway({"export", "demo/multi:1", "--format", "oci", "-o", tar});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string layout = dir_.Sub("layout");
  r = RunProcess({FindProgram("skopeo"), "copy", "oci-archive:" + tar, "oci:" + layout + ":img"},
                 {}, absl::Seconds(60));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = RunProcess({FindProgram("umoci"), "unpack", "--image", layout + ":img",
                  dir_.Sub("bundle")}, {}, absl::Seconds(60));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string rootfs = dir_.Sub("bundle") + "/rootfs";
  EXPECT_EQ(ReadFile(rootfs + "/x/from-one.txt"), "alpha\n");
  EXPECT_EQ(ReadFile(rootfs + "/y/one.txt"), "one\n");
  EXPECT_EQ(ReadFile(rootfs + "/y/two.txt"), "two\n");
  EXPECT_EQ(ReadFile(rootfs + "/work/rel.txt"), "alpha\n");
}

// FROM an image the store lacks: pulled from a registry that requires credentials, supplied
// by the operator's auth file; the password never shows in the log.
TEST_F(ClientBuildTest, FromPullsFromARegistryWithCredentials) {
  RegistryProcessOptions options;
  options.basic_auth = true;
  auto registry = RegistryProcess::Start(options);
  ASSERT_NE(registry, nullptr);
  const std::string base_digest = MakeOciLayout(dir_.Sub("oci"));
  ProcessResult r = RunProcess(
      {FindProgram("skopeo"), "copy", "--dest-tls-verify=false", "--dest-creds",
       options.username + ":" + options.password, "oci:" + dir_.Sub("oci") + ":v1",
       "docker://" + registry->host() + "/base/busybox:v1"},
      {}, absl::Seconds(120));
  ASSERT_EQ(r.exit_code, 0) << r.err;

  const std::string config = dir_.Sub("docker-config.json");
  WriteFile(config, absl::StrCat(R"({"auths": {")", registry->host(), R"(": {"auth": ")",
                                 absl::Base64Escape(options.username + ":" + options.password),
                                 R"("}}})"));
  SlipwaydOptions with_file;
  with_file.extra_args = {"--registry-auth-file", config};
  server_ = StartSlipwayd(with_file);
  ASSERT_NE(server_, nullptr);
  env_ = {{"SLIPWAY_ADDR", server_->address()}};

  BuildOutput out = Build(absl::StrCat("FROM ", registry->host(), "/base/busybox:v1\n",
                                       "COPY a.txt /a.txt\n"),
                          {"-t", "demo/onbase:1"});
  ASSERT_EQ(out.exit_code, 0) << out.all;
  std::vector<std::string> layers = Layers(out.digest);
  ASSERT_GE(layers.size(), 2u);
  EXPECT_THAT(server_->Log(), Not(HasSubstr(options.password)));
  // The pulled base is kept in the store under its name: with the registry gone, the same
  // build still works, entirely from the store and the cache.
  const std::string host = registry->host();
  registry.reset();
  BuildOutput again = Build(absl::StrCat("FROM ", host, "/base/busybox:v1\n",
                                         "COPY a.txt /a.txt\n"),
                            {"-t", "demo/onbase:1"});
  ASSERT_EQ(again.exit_code, 0) << again.all;
  EXPECT_EQ(again.digest, out.digest);
  EXPECT_EQ(again.state_by_instruction["COPY a.txt /a.txt"], "cached");
}

// Runs the Build RPC directly (the CLI has no credential flags: those arrive with the step
// client) for a Dockerfile that needs no context: spec, an empty listing, UploadDone.
grpc::Status BuildWithoutContext(SlipwaydProcess& server, const v1::BuildSpec& spec,
                                 std::string* digest) {
  auto stub = v1::Slipway::NewStub(server.UnixChannel());
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(120));
  auto stream = stub->Build(&ctx);
  v1::BuildClientMessage msg;
  *msg.mutable_spec() = spec;
  stream->Write(msg);
  msg.Clear();
  msg.mutable_context_end();
  stream->Write(msg);
  v1::BuildServerMessage in;
  if (stream->Read(&in) && in.has_need()) {
    msg.Clear();
    msg.mutable_upload_done();
    stream->Write(msg);
  }
  stream->WritesDone();
  while (stream->Read(&in)) {
    if (in.has_result()) *digest = in.result().image().manifest().digest();
  }
  return stream->Finish();
}

// FROM pulls with the credentials the request carries for that registry (and only for it);
// wrong ones fail with the registry's verdict and the Dockerfile line; the password never
// reaches the log.
TEST_F(ClientBuildTest, FromUsesTheRequestsBaseCredentials) {
  RegistryProcessOptions options;
  options.basic_auth = true;
  auto registry = RegistryProcess::Start(options);
  ASSERT_NE(registry, nullptr);
  MakeOciLayout(dir_.Sub("oci"));
  ProcessResult r = RunProcess(
      {FindProgram("skopeo"), "copy", "--dest-tls-verify=false", "--dest-creds",
       options.username + ":" + options.password, "oci:" + dir_.Sub("oci") + ":v1",
       "docker://" + registry->host() + "/base/busybox:v1"},
      {}, absl::Seconds(120));
  ASSERT_EQ(r.exit_code, 0) << r.err;

  v1::BuildSpec spec;
  spec.set_dockerfile(absl::StrCat("FROM ", registry->host(), "/base/busybox:v1\nLABEL built=yes\n"));
  spec.add_tags("demo/creds:1");
  auto* other = spec.add_base_credentials();  // for another registry: must not be used
  other->set_registry("registry.example.com");
  other->mutable_basic()->set_username("someone");
  other->mutable_basic()->set_password("not-this-one");
  auto* cred = spec.add_base_credentials();
  cred->set_registry(registry->host());
  cred->mutable_basic()->set_username(options.username);
  cred->mutable_basic()->set_password("wrong-Canary-91c2");
  std::string digest;
  grpc::Status s = BuildWithoutContext(*server_, spec, &digest);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAUTHENTICATED) << s.error_message();
  EXPECT_THAT(s.error_message(), HasSubstr("Dockerfile:1:"));

  cred->mutable_basic()->set_password(options.password);
  s = BuildWithoutContext(*server_, spec, &digest);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_THAT(digest, ::testing::StartsWith("sha256:"));
  EXPECT_THAT(Slipway({"images"}).out, HasSubstr("demo/creds:1"));
  EXPECT_THAT(server_->Log(), Not(HasSubstr(options.password)));
  EXPECT_THAT(server_->Log(), Not(HasSubstr("wrong-Canary-91c2")));
}

}  // namespace
}  // namespace slipway::testing
