// The Build stream protocol over an in-process channel, a real store and index, and a scripted
// builder that reads the received context (the native builder is tested on its own).
#include <grpcpp/grpcpp.h>

#include <ctime>
#include <memory>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "prometheus/registry.h"
#include "server/build/builder.h"
#include "server/service/slipway_service.h"
#include "storage/digest.h"
#include "tests/support/stored_image.h"
#include "tests/support/temp_dir.h"

namespace slipway {
namespace {

// Reads "input.txt" from the context, reports one step and returns a stored image.
class ScriptedBuilder : public build::Builder {
 public:
  absl::StatusOr<v1::Image> Build(const build::BuildRequest& request,
                                  build::BuildObserver& observer) override {
    calls++;
    lease_id = request.lease_id;
    if (!fail.ok()) return fail;
    auto input = request.context->ReadFile("input.txt", 1 << 20);
    if (!input.ok()) return input.status();
    context_input = *input;
    v1::BuildEvent ev;
    ev.set_step(1);
    ev.set_total_steps(1);
    ev.set_instruction("COPY input.txt /");
    ev.set_state(v1::BuildEvent::DONE);
    observer.OnEvent(ev);
    v1::BuildLog log;
    log.set_step(1);
    log.set_line("hello from the builder");
    observer.OnLog(log);
    return image;
  }
  int calls = 0;
  std::string lease_id;
  std::string context_input;
  absl::Status fail;
  v1::Image image;
};

class BuildHandlerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto store = FsBlobStore::Create(FsBlobStoreOptions{dir_.path()});
    ASSERT_TRUE(store.ok()) << store.status();
    blobs_ = *std::move(store);
    SqliteImageIndexOptions index_options;
    index_options.path = dir_.Sub("index.db");
    auto index = OpenSqliteImageIndex(index_options);
    ASSERT_TRUE(index.ok()) << index.status();
    index_ = *std::move(index);
    gc_ = std::make_unique<GarbageCollector>(
        *blobs_, *index_, [] { return static_cast<int64_t>(std::time(nullptr)); });
    metrics_ = std::make_unique<ServerMetrics>(registry_);
    builder_.image.mutable_manifest()->set_digest(Sha256Of("manifest").ToString());
    Start(&builder_);
  }
  void Start(build::Builder* builder) {
    if (server_) server_->Shutdown();
    SlipwayServiceOptions options;
    options.builder = builder;
    service_ = std::make_unique<SlipwayService>(options, *blobs_, *index_, *gc_, *metrics_);
    grpc::ServerBuilder sb;
    sb.RegisterService(service_.get());
    server_ = sb.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    stub_ = v1::Slipway::NewStub(server_->InProcessChannel(grpc::ChannelArguments()));
  }
  void TearDown() override {
    if (server_) server_->Shutdown();
  }

  static v1::BuildClientMessage Spec(std::vector<std::string> tags = {"app:1"}) {
    v1::BuildClientMessage m;
    m.mutable_spec()->set_dockerfile("FROM scratch\nCOPY input.txt /\n");
    for (auto& t : tags) m.mutable_spec()->add_tags(t);
    return m;
  }
  static v1::BuildClientMessage Entries(const std::string& content) {
    v1::BuildClientMessage m;
    auto* e = m.mutable_entries()->add_entries();
    e->set_path("input.txt");
    e->set_type(v1::ContextEntry::FILE);
    e->set_mode(0644);
    e->set_size(static_cast<int64_t>(content.size()));
    e->set_digest(Sha256Of(content).ToString());
    return m;
  }

  struct Outcome {
    grpc::Status status;
    std::vector<std::string> needed;
    std::vector<v1::BuildServerMessage> messages;
  };
  // Runs one Build; `send` = the bytes uploaded for the needed digest.
  Outcome Run(const v1::BuildClientMessage& spec, const std::string& content,
              const std::string& send) {
    Outcome out;
    grpc::ClientContext ctx;
    auto stream = stub_->Build(&ctx);
    v1::BuildClientMessage m = spec;
    stream->Write(m);
    stream->Write(Entries(content));
    m.Clear();
    m.mutable_context_end();
    stream->Write(m);
    v1::BuildServerMessage in;
    if (stream->Read(&in) && in.has_need()) {
      for (const auto& d : in.need().digests()) {
        out.needed.push_back(d);
        v1::BuildClientMessage chunk;
        chunk.mutable_chunk()->set_digest(d);
        chunk.mutable_chunk()->set_data(send);
        stream->Write(chunk);
      }
      m.Clear();
      m.mutable_upload_done();
      stream->Write(m);
      stream->WritesDone();
      while (stream->Read(&in)) out.messages.push_back(in);
    } else {
      stream->WritesDone();
    }
    out.status = stream->Finish();
    return out;
  }

  testing::TempDir dir_;
  std::unique_ptr<FsBlobStore> blobs_;
  std::unique_ptr<ImageIndex> index_;
  std::unique_ptr<GarbageCollector> gc_;
  prometheus::Registry registry_;
  std::unique_ptr<ServerMetrics> metrics_;
  ScriptedBuilder builder_;
  std::unique_ptr<SlipwayService> service_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<v1::Slipway::Stub> stub_;
};

TEST_F(BuildHandlerTest, FullProtocolThenNothingToSendTheSecondTime) {
  const std::string content = "context file content";
  Outcome first = Run(Spec(), content, content);
  ASSERT_TRUE(first.status.ok()) << first.status.error_message();
  EXPECT_EQ(first.needed, std::vector<std::string>{Sha256Of(content).ToString()});
  EXPECT_EQ(builder_.context_input, content);
  ASSERT_EQ(first.messages.size(), 3u);
  EXPECT_TRUE(first.messages[0].has_event());
  EXPECT_EQ(first.messages[1].log().line(), "hello from the builder");
  ASSERT_TRUE(first.messages[2].has_result());
  EXPECT_EQ(first.messages[2].result().image().manifest().digest(),
            Sha256Of("manifest").ToString());
  // The lease ended with the build.
  EXPECT_EQ(index_->AddToLease(builder_.lease_id, {}).code(), absl::StatusCode::kNotFound);

  Outcome second = Run(Spec(), content, "");
  ASSERT_TRUE(second.status.ok()) << second.status.error_message();
  EXPECT_TRUE(second.needed.empty());
  EXPECT_EQ(builder_.calls, 2);
}

TEST_F(BuildHandlerTest, BadSpecAndWrongBytesFailBeforeTheBuilder) {
  v1::BuildClientMessage no_dockerfile = Spec();
  no_dockerfile.mutable_spec()->clear_dockerfile();
  Outcome a = Run(no_dockerfile, "x", "x");
  EXPECT_EQ(a.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(a.status.error_message().find("spec.dockerfile"), std::string::npos);

  Outcome b = Run(Spec({"app:1", "UPPER:case"}), "x", "x");
  EXPECT_EQ(b.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(b.status.error_message().find("spec.tags[1]"), std::string::npos)
      << b.status.error_message();

  const std::string content = "the real bytes";
  Outcome c = Run(Spec(), content, std::string(content.size(), '?'));
  EXPECT_EQ(c.status.error_code(), grpc::StatusCode::DATA_LOSS) << c.status.error_message();
  EXPECT_FALSE(blobs_->Contains(Sha256Of(content)));
  EXPECT_EQ(builder_.calls, 0);
}

TEST_F(BuildHandlerTest, BuilderErrorsMapToStatusAndNullBuilderIsUnimplemented) {
  builder_.fail = absl::InvalidArgumentError("Dockerfile:2: unknown instruction FOO");
  Outcome failed = Run(Spec(), "x", "x");
  EXPECT_EQ(failed.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(failed.status.error_message().find("Dockerfile:2"), std::string::npos);

  Start(nullptr);
  Outcome none = Run(Spec(), "x", "x");
  EXPECT_EQ(none.status.error_code(), grpc::StatusCode::UNIMPLEMENTED);
  EXPECT_NE(none.status.error_message().find("native builder not configured"),
            std::string::npos);
}

}  // namespace
}  // namespace slipway
