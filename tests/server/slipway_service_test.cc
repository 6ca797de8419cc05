// The handlers over a real FsBlobStore and SQLite index, through an in-process gRPC channel.
#include "server/service/slipway_service.h"

#include <grpcpp/grpcpp.h>

#include <ctime>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "prometheus/registry.h"
#include "prometheus/text_serializer.h"
#include "tests/support/stored_image.h"
#include "tests/support/temp_dir.h"

namespace slipway {
namespace {

using ::testing::HasSubstr;

class SlipwayServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    FsBlobStoreOptions store_options;
    store_options.root = dir_.path();
    auto store = FsBlobStore::Create(store_options);
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
    SlipwayServiceOptions options;
    options.gc_grace_seconds = 0;
    service_ = std::make_unique<SlipwayService>(options, *blobs_, *index_, *gc_, *metrics_);
    grpc::ServerBuilder builder;
    builder.RegisterService(service_.get());
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    stub_ = v1::Slipway::NewStub(server_->InProcessChannel(grpc::ChannelArguments()));
  }
  void TearDown() override {
    if (server_) server_->Shutdown();
  }

  std::string Metrics() {
    prometheus::TextSerializer serializer;
    return serializer.Serialize(registry_.Collect());
  }

  testing::TempDir dir_;
  std::unique_ptr<FsBlobStore> blobs_;
  std::unique_ptr<ImageIndex> index_;
  std::unique_ptr<GarbageCollector> gc_;
  prometheus::Registry registry_;
  std::unique_ptr<ServerMetrics> metrics_;
  std::unique_ptr<SlipwayService> service_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<v1::Slipway::Stub> stub_;
};

TEST_F(SlipwayServiceTest, TagGetListAndDelete) {
  auto img = testing::PutStoredImage(*blobs_, *index_, "app");
  std::string digest = img.record.manifest.digest.ToString();

  v1::TagImageRequest tag;
  tag.set_ref(digest);
  tag.set_tag("app:1");
  v1::Image tagged;
  grpc::ClientContext c1;
  grpc::Status s = stub_->TagImage(&c1, tag, &tagged);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_THAT(tagged.tags(), ::testing::Contains("docker.io/library/app:1"));
  EXPECT_EQ(tagged.manifest().digest(), digest);
  EXPECT_EQ(tagged.layers_size(), 2);
  EXPECT_EQ(tagged.platform().architecture(), "amd64");

  for (const std::string& ref :
       std::vector<std::string>{"app:1", "docker.io/library/app:1", digest}) {
    v1::GetImageRequest get;
    get.set_ref(ref);
    v1::Image image;
    grpc::ClientContext c;
    s = stub_->GetImage(&c, get, &image);
    ASSERT_TRUE(s.ok()) << ref << ": " << s.error_message();
    EXPECT_EQ(image.manifest().digest(), digest);
  }

  v1::ListImagesResponse list;
  grpc::ClientContext c2;
  ASSERT_TRUE(stub_->ListImages(&c2, v1::ListImagesRequest(), &list).ok());
  ASSERT_EQ(list.images_size(), 1);

  // Untag by tag: the image stays.
  v1::DeleteImageRequest del;
  del.set_ref("app:1");
  v1::DeleteImageResponse deleted;
  grpc::ClientContext c3;
  s = stub_->DeleteImage(&c3, del, &deleted);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_THAT(deleted.untagged(), ::testing::ElementsAre("docker.io/library/app:1"));
  EXPECT_TRUE(deleted.deleted_digest().empty());
  grpc::ClientContext c4;
  s = stub_->DeleteImage(&c4, del, &deleted);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND);

  // Delete by digest: the record goes.
  del.set_ref(digest);
  v1::DeleteImageResponse gone;
  grpc::ClientContext c5;
  s = stub_->DeleteImage(&c5, del, &gone);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(gone.deleted_digest(), digest);
  v1::ListImagesResponse empty;
  grpc::ClientContext c6;
  ASSERT_TRUE(stub_->ListImages(&c6, v1::ListImagesRequest(), &empty).ok());
  EXPECT_EQ(empty.images_size(), 0);
}

TEST_F(SlipwayServiceTest, BadRefsAndTagsNameTheField) {
  auto img = testing::PutStoredImage(*blobs_, *index_, "app");
  v1::TagImageRequest tag;
  tag.set_ref(img.record.manifest.digest.ToString());
  tag.set_tag("UPPER/Case:1");
  v1::Image out;
  grpc::ClientContext c1;
  grpc::Status s = stub_->TagImage(&c1, tag, &out);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), ::testing::StartsWith("tag: "));

  tag.set_tag("ok:1");
  tag.set_ref("sha256:1234");
  grpc::ClientContext c2;
  s = stub_->TagImage(&c2, tag, &out);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), ::testing::StartsWith("ref: "));

  tag.set_ref("missing:1");
  grpc::ClientContext c3;
  s = stub_->TagImage(&c3, tag, &out);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_THAT(s.error_message(), HasSubstr("missing:1"));

  v1::ExportImageRequest exp;
  exp.set_ref("missing:1");
  grpc::ClientContext c4;
  auto reader = stub_->ExportImage(&c4, exp);
  v1::ExportImageChunk chunk;
  while (reader->Read(&chunk)) {
  }
  EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::NOT_FOUND);
}

TEST_F(SlipwayServiceTest, ImportNeedsOptionsFirstAndValidTags) {
  {
    grpc::ClientContext c;
    v1::ImportImageResponse response;
    auto writer = stub_->ImportImage(&c, &response);
    v1::ImportImageRequest data;
    data.set_data("not options");
    writer->Write(data);
    writer->WritesDone();
    grpc::Status s = writer->Finish();
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_THAT(s.error_message(), HasSubstr("options"));
  }
  {
    grpc::ClientContext c;
    v1::ImportImageResponse response;
    auto writer = stub_->ImportImage(&c, &response);
    v1::ImportImageRequest first;
    first.mutable_options()->add_tags("good:1");
    first.mutable_options()->add_tags("Bad Tag");
    writer->Write(first);
    writer->WritesDone();
    grpc::Status s = writer->Finish();
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_THAT(s.error_message(), HasSubstr("tags[1]"));
  }
}

TEST_F(SlipwayServiceTest, GarbageCollectReclaimsAndCountsMetrics) {
  auto keep = testing::PutStoredImage(*blobs_, *index_, "keep");
  auto drop = testing::PutStoredImage(*blobs_, *index_, "drop", 2, 5000);
  ASSERT_TRUE(index_->DeleteImage(drop.record.manifest.digest).ok());
  service_->RefreshStoreGauges();
  EXPECT_THAT(Metrics(), HasSubstr("slipway_store_blobs 8"));

  v1::GarbageCollectRequest dry;
  dry.set_dry_run(true);
  dry.set_grace_period_seconds(0);
  v1::GarbageCollectResponse dry_out;
  grpc::ClientContext c1;
  ASSERT_TRUE(stub_->GarbageCollect(&c1, dry, &dry_out).ok());
  EXPECT_EQ(dry_out.blobs_removed(), 4);
  EXPECT_TRUE(blobs_->Contains(drop.record.layers[0].digest));

  v1::GarbageCollectRequest real;
  real.set_grace_period_seconds(-1);  // the server's default: 0 in this fixture
  v1::GarbageCollectResponse out;
  grpc::ClientContext c2;
  grpc::Status s = stub_->GarbageCollect(&c2, real, &out);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(out.blobs_removed(), 4);
  EXPECT_FALSE(blobs_->Contains(drop.record.layers[0].digest));
  EXPECT_TRUE(blobs_->Contains(keep.record.layers[0].digest));

  std::string m = Metrics();
  EXPECT_THAT(m, HasSubstr("slipway_store_blobs 4"));
  EXPECT_THAT(m, HasSubstr("slipway_gc_runs_total{outcome=\"dry_run\"} 1"));
  EXPECT_THAT(m, HasSubstr("slipway_gc_runs_total{outcome=\"ok\"} 1"));
  EXPECT_THAT(m, HasSubstr("slipway_rpc_requests_total{code=\"OK\",method=\"GarbageCollect\"} 2"));
  EXPECT_THAT(m, ::testing::Not(HasSubstr("sha256:")));  // labels never carry digests

  v1::GarbageCollectRequest bad;
  bad.set_grace_period_seconds(-5);
  grpc::ClientContext c3;
  EXPECT_EQ(stub_->GarbageCollect(&c3, bad, &out).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
}

}  // namespace
}  // namespace slipway
