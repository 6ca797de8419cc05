#ifndef SLIPWAY_TESTS_PUSH_PUSH_FIXTURE_H_
#define SLIPWAY_TESTS_PUSH_PUSH_FIXTURE_H_

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "gtest/gtest.h"
#include "prometheus/registry.h"
#include "server/push/fan_out.h"
#include "server/push/push_metrics.h"
#include "storage/archive/byte_stream.h"
#include "storage/archive/importer.h"
#include "storage/blob_store.h"
#include "storage/image_index.h"
#include "tests/support/registry_process.h"
#include "tests/support/run_command.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_image.h"

namespace slipway::push {

// A real store and index holding the offline test image, a push engine with fast retries, and
// helpers to verify with skopeo.
class PushTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto store = FsBlobStore::Create({dir_.Sub("store")});
    ASSERT_TRUE(store.ok()) << store.status();
    blobs_ = std::move(*store);
    auto index = OpenSqliteImageIndex({dir_.Sub("index.db"), nullptr});
    ASSERT_TRUE(index.ok()) << index.status();
    index_ = std::move(*index);
    auto built = ::slipway::testing::BuildTestImage(dir_.Sub("layout"), "latest", 3);
    const std::string tar = dir_.Sub("image.tar");
    auto r = ::slipway::testing::RunCommand("tar -C " + ::slipway::testing::ShellQuote(built.layout_dir) +
                                          " -cf " + ::slipway::testing::ShellQuote(tar) + " .");
    ASSERT_EQ(r.exit_code, 0) << r.output;
    auto source = FileByteSource::Open(tar);
    ASSERT_TRUE(source.ok()) << source.status();
    auto imported = ImportArchive(**source, {}, *blobs_, *index_);
    ASSERT_TRUE(imported.ok()) << imported.status();
    image_ = imported->image;
    auto all = index_->ImageBlobs(image_->manifest.digest);
    ASSERT_TRUE(all.ok());
    blob_count_ = static_cast<int>(all->size()) - 1;  // without the manifest
    metrics_ = std::make_unique<PushMetrics>(*prom_);
    PushEngineOptions options;
    options.retry.initial_backoff = absl::Milliseconds(20);
    options.retry.max_backoff = absl::Milliseconds(200);
    options.retry.max_attempts = 4;
    engine_ = std::make_unique<PushEngine>(options, *blobs_, *index_, clock_, metrics_.get());
  }

  PushTarget Target(const std::string& registry, const std::string& repo,
                    std::vector<std::string> tags = {"v1"}) {
    PushTarget t;
    t.registry = registry;
    t.repository = repo;
    t.tags = std::move(tags);
    return t;
  }

  PushContext Context() {
    PushContext ctx;
    ctx.deadline = absl::Now() + absl::Minutes(5);
    ctx.on_blob = [this](const BlobEvent& e) {
      absl::MutexLock lock(&events_mu_);
      events_.push_back(e);
    };
    return ctx;
  }

  std::vector<BlobEvent> TakeEvents() {
    absl::MutexLock lock(&events_mu_);
    return std::exchange(events_, {});
  }

  // The digest of the manifest skopeo fetches for `ref` ("host/repo:tag"); empty on failure.
  std::string SkopeoDigest(const std::string& ref) {
    const std::string out = dir_.Sub("raw-" + std::to_string(++skopeo_runs_));
    auto r = ::slipway::testing::RunCommand(
        "skopeo inspect --raw --tls-verify=false " + ::slipway::testing::ShellQuote("docker://" + ref) +
        " > " + ::slipway::testing::ShellQuote(out));
    EXPECT_EQ(r.exit_code, 0) << r.output;
    if (r.exit_code != 0) return "";
    return Sha256Of(::slipway::testing::ReadFile(out)).ToString();
  }

  // skopeo copy to an OCI layout: re-checks every blob digest.
  void ExpectSkopeoCopies(const std::string& ref) {
    const std::string oci = dir_.Sub("copy-" + std::to_string(++skopeo_runs_));
    auto r = ::slipway::testing::RunCommand(
        "TMPDIR=" + ::slipway::testing::ShellQuote(dir_.path()) +
        " skopeo --insecure-policy copy --src-tls-verify=false " +
        ::slipway::testing::ShellQuote("docker://" + ref) + " " +
        ::slipway::testing::ShellQuote("oci:" + oci + ":copied"));
    EXPECT_EQ(r.exit_code, 0) << r.output;
  }

  double MetricSum(const std::string& name) {
    double sum = 0;
    for (const auto& family : prom_->Collect()) {
      if (family.name != name) continue;
      for (const auto& m : family.metric) sum += m.counter.value + m.gauge.value;
    }
    return sum;
  }

  ::slipway::testing::TempDir dir_;
  registry::RealClock clock_;
  std::unique_ptr<BlobStore> blobs_;
  std::unique_ptr<ImageIndex> index_;
  std::optional<ImageRecord> image_;
  int blob_count_ = 0;
  std::shared_ptr<prometheus::Registry> prom_ = std::make_shared<prometheus::Registry>();
  std::unique_ptr<PushMetrics> metrics_;
  std::unique_ptr<PushEngine> engine_;
  absl::Mutex events_mu_;
  std::vector<BlobEvent> events_ ABSL_GUARDED_BY(events_mu_);
  int skopeo_runs_ = 0;
};

}  // namespace slipway::push

#endif  // SLIPWAY_TESTS_PUSH_PUSH_FIXTURE_H_
