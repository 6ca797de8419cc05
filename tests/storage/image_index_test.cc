#include "storage/image_index.h"

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "storage/media_types.h"
#include "storage/sqlite_db.h"
#include "storage/sqlite_index_schema.h"
#include "tests/support/temp_dir.h"

namespace slipway {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::UnorderedElementsAre;
using ::testing::UnorderedElementsAreArray;

Descriptor Desc(absl::string_view content, absl::string_view media_type) {
  return Descriptor{std::string(media_type), Sha256Of(content),
                    static_cast<int64_t>(content.size()), {}};
}

// A single-platform image made of distinct fake contents; `name` keeps images apart.
struct TestImage {
  ImageRecord record;
  std::vector<Descriptor> blobs;
};

TestImage MakeImage(absl::string_view name, int layers = 2) {
  Descriptor manifest = Desc(absl::StrCat("manifest of ", name), media::kOciManifest);
  Descriptor config = Desc(absl::StrCat("config of ", name), media::kOciConfig);
  TestImage t{ImageRecord{manifest, config.digest, {}, "linux", "amd64", "", 0, 0, {}}, {}};
  t.blobs = {manifest, config};
  for (int i = 0; i < layers; ++i) {
    Descriptor layer = Desc(absl::StrCat("layer ", i, " of ", name), media::kOciLayerGzip);
    t.record.layers.push_back(layer);
    t.blobs.push_back(layer);
  }
  return t;
}

std::vector<std::string> Strings(const std::vector<Digest>& digests) {
  std::vector<std::string> out;
  for (const Digest& d : digests) out.push_back(d.ToString());
  return out;
}

std::vector<std::string> Strings(const std::vector<Descriptor>& descs) {
  std::vector<std::string> out;
  for (const Descriptor& d : descs) out.push_back(d.digest.ToString());
  return out;
}

class ImageIndexTest : public ::testing::Test {
 protected:
  std::unique_ptr<ImageIndex> Open() {
    SqliteImageIndexOptions options;
    options.path = path_;
    options.now_unix = [this] { return now_.load(); };
    auto index = OpenSqliteImageIndex(options);
    EXPECT_TRUE(index.ok()) << index.status();
    return index.ok() ? std::move(index).value() : nullptr;
  }

  testing::TempDir dir_;
  std::string path_ = dir_.Sub("index.db");
  std::atomic<int64_t> now_{1'700'000'000};
};

TEST_F(ImageIndexTest, PutResolveByDigestAndTag) {
  auto index = Open();
  ASSERT_NE(index, nullptr);
  TestImage img = MakeImage("a");
  img.record.manifest.annotations["org.opencontainers.image.title"] = "a";
  ASSERT_TRUE(index->PutImage(img.record, img.blobs).ok());
  ASSERT_TRUE(index->Tag("docker.io/library/a:latest", img.record.manifest.digest).ok());

  auto by_digest = index->Resolve(img.record.manifest.digest.ToString());
  ASSERT_TRUE(by_digest.ok()) << by_digest.status();
  EXPECT_EQ(by_digest->manifest.digest, img.record.manifest.digest);
  EXPECT_EQ(by_digest->manifest.media_type, media::kOciManifest);
  EXPECT_EQ(by_digest->manifest.size, img.record.manifest.size);
  EXPECT_EQ(by_digest->manifest.annotations.at("org.opencontainers.image.title"), "a");
  ASSERT_TRUE(by_digest->config.has_value());
  EXPECT_EQ(*by_digest->config, *img.record.config);
  EXPECT_EQ(Strings(by_digest->layers), Strings(img.record.layers));  // manifest order
  EXPECT_EQ(by_digest->layers[1].media_type, media::kOciLayerGzip);
  EXPECT_EQ(by_digest->os, "linux");
  EXPECT_EQ(by_digest->architecture, "amd64");
  EXPECT_EQ(by_digest->created_unix, now_.load());
  int64_t sum = 0;
  for (const Descriptor& b : img.blobs) sum += b.size;
  EXPECT_EQ(by_digest->total_size, sum);  // computed when the caller leaves it 0
  EXPECT_THAT(by_digest->tags, ElementsAre("docker.io/library/a:latest"));

  auto by_tag = index->Resolve("docker.io/library/a:latest");
  ASSERT_TRUE(by_tag.ok()) << by_tag.status();
  EXPECT_EQ(by_tag->manifest.digest, img.record.manifest.digest);

  auto blobs = index->ImageBlobs(img.record.manifest.digest);
  ASSERT_TRUE(blobs.ok()) << blobs.status();
  EXPECT_THAT(Strings(*blobs), UnorderedElementsAreArray(Strings(img.blobs)));
}

TEST_F(ImageIndexTest, ResolveErrors) {
  auto index = Open();
  ASSERT_NE(index, nullptr);
  EXPECT_EQ(index->Resolve("docker.io/library/nope:latest").status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(index->Resolve(Sha256Of("x").ToString()).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(index->Resolve("sha256:not-a-digest").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(index->Tag("t:1", Sha256Of("x")).code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(index->Untag("t:1").code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(index->DeleteImage(Sha256Of("x")).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(index->ImageBlobs(Sha256Of("x")).status().code(), absl::StatusCode::kNotFound);
}

TEST_F(ImageIndexTest, RejectsInconsistentRecords) {
  auto index = Open();
  ASSERT_NE(index, nullptr);
  TestImage img = MakeImage("a");
  std::vector<Descriptor> without_layer(img.blobs.begin(), img.blobs.end() - 1);
  absl::Status s = index->PutImage(img.record, without_layer);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(s.message()),
              ::testing::HasSubstr(img.record.layers[1].digest.ToString()));

  TestImage wrong_size = MakeImage("b");
  wrong_size.record.layers[0].size += 1;
  EXPECT_EQ(index->PutImage(wrong_size.record, wrong_size.blobs).code(),
            absl::StatusCode::kInvalidArgument);

  TestImage no_type = MakeImage("c");
  no_type.record.manifest.media_type.clear();
  EXPECT_EQ(index->PutImage(no_type.record, no_type.blobs).code(),
            absl::StatusCode::kInvalidArgument);

  EXPECT_EQ(index->Tag("", img.record.manifest.digest).code(), absl::StatusCode::kInvalidArgument);
  // Nothing half-written became visible.
  auto list = index->List();
  ASSERT_TRUE(list.ok());
  EXPECT_THAT(*list, IsEmpty());
  auto referenced = index->ReferencedBlobs();
  ASSERT_TRUE(referenced.ok());
  EXPECT_THAT(*referenced, IsEmpty());
}

TEST_F(ImageIndexTest, MoveTagUntagAndDelete) {
  auto index = Open();
  ASSERT_NE(index, nullptr);
  TestImage a = MakeImage("a"), b = MakeImage("b");
  ASSERT_TRUE(index->PutImage(a.record, a.blobs).ok());
  ASSERT_TRUE(index->PutImage(b.record, b.blobs).ok());
  ASSERT_TRUE(index->Tag("r/app:latest", a.record.manifest.digest).ok());
  ASSERT_TRUE(index->Tag("r/app:v1", a.record.manifest.digest).ok());
  ASSERT_TRUE(index->Tag("r/app:latest", b.record.manifest.digest).ok());  // moves

  EXPECT_EQ(index->Resolve("r/app:latest")->manifest.digest, b.record.manifest.digest);
  EXPECT_THAT(index->Resolve(a.record.manifest.digest.ToString())->tags, ElementsAre("r/app:v1"));

  ASSERT_TRUE(index->Untag("r/app:v1").ok());
  EXPECT_EQ(index->Resolve("r/app:v1").status().code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE(index->Resolve(a.record.manifest.digest.ToString()).ok());  // image stays

  ASSERT_TRUE(index->Tag("r/app:b2", b.record.manifest.digest).ok());
  auto removed = index->DeleteImage(b.record.manifest.digest);
  ASSERT_TRUE(removed.ok()) << removed.status();
  EXPECT_THAT(*removed, ElementsAre("r/app:b2", "r/app:latest"));
  EXPECT_EQ(index->Resolve("r/app:latest").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(index->Resolve(b.record.manifest.digest.ToString()).status().code(),
            absl::StatusCode::kNotFound);
  auto referenced = index->ReferencedBlobs();
  ASSERT_TRUE(referenced.ok());
  EXPECT_THAT(Strings(*referenced), UnorderedElementsAreArray(Strings(a.blobs)));
}

TEST_F(ImageIndexTest, ListNewestFirstWithTags) {
  auto index = Open();
  ASSERT_NE(index, nullptr);
  TestImage a = MakeImage("a"), b = MakeImage("b"), c = MakeImage("c");
  ASSERT_TRUE(index->PutImage(a.record, a.blobs).ok());
  now_ += 10;
  ASSERT_TRUE(index->PutImage(b.record, b.blobs).ok());
  ASSERT_TRUE(index->PutImage(c.record, c.blobs).ok());  // same second as b: insert order decides
  ASSERT_TRUE(index->Tag("x:1", a.record.manifest.digest).ok());
  ASSERT_TRUE(index->Tag("x:2", a.record.manifest.digest).ok());

  auto list = index->List();
  ASSERT_TRUE(list.ok()) << list.status();
  ASSERT_EQ(list->size(), 3u);
  EXPECT_EQ((*list)[0].manifest.digest, c.record.manifest.digest);
  EXPECT_EQ((*list)[1].manifest.digest, b.record.manifest.digest);
  EXPECT_EQ((*list)[2].manifest.digest, a.record.manifest.digest);
  EXPECT_THAT((*list)[2].tags, ElementsAre("x:1", "x:2"));
  EXPECT_THAT((*list)[0].tags, IsEmpty());
}

TEST_F(ImageIndexTest, PutImageIsIdempotent) {
  auto index = Open();
  ASSERT_NE(index, nullptr);
  TestImage a = MakeImage("a");
  ASSERT_TRUE(index->PutImage(a.record, a.blobs).ok());
  const int64_t first = now_.load();
  now_ += 100;
  ASSERT_TRUE(index->PutImage(a.record, a.blobs).ok());
  auto list = index->List();
  ASSERT_TRUE(list.ok());
  ASSERT_EQ(list->size(), 1u);
  EXPECT_EQ((*list)[0].created_unix, first);  // the first record stands
  EXPECT_EQ((*list)[0].layers.size(), 2u);
  // ... but the blobs count as used again.
  auto used = index->LastUsed(a.record.layers[0].digest);
  ASSERT_TRUE(used.ok()) << used.status();
  EXPECT_EQ(*used, now_.load());
}

TEST_F(ImageIndexTest, ReopenKeepsEverything) {
  TestImage a = MakeImage("a");
  Lease lease{"", 0};
  {
    auto index = Open();
    ASSERT_NE(index, nullptr);
    ASSERT_TRUE(index->PutImage(a.record, a.blobs).ok());
    ASSERT_TRUE(index->Tag("keep:me", a.record.manifest.digest).ok());
    ASSERT_TRUE(index->RecordLayerCompression(
        LayerCompression{Sha256Of("tar"), a.record.layers[0], 1234}).ok());
    auto l = index->CreateLease(600);
    ASSERT_TRUE(l.ok());
    lease = *l;
    ASSERT_TRUE(index->AddToLease(lease.id, {Sha256Of("leased")}).ok());
  }
  auto index = Open();
  ASSERT_NE(index, nullptr);
  auto r = index->Resolve("keep:me");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->manifest.digest, a.record.manifest.digest);
  EXPECT_EQ(Strings(r->layers), Strings(a.record.layers));
  auto lc = index->FindByDiffId(Sha256Of("tar"));
  ASSERT_TRUE(lc.ok()) << lc.status();
  EXPECT_EQ(lc->uncompressed_size, 1234);
  auto live = index->LiveBlobs(now_.load());
  ASSERT_TRUE(live.ok());
  EXPECT_THAT(Strings(*live), ::testing::Contains(Sha256Of("leased").ToString()));
  EXPECT_EQ(index->schema_version(), LatestIndexSchemaVersion());
}

TEST_F(ImageIndexTest, UsesWalJournal) {
  auto index = Open();
  ASSERT_NE(index, nullptr);
  auto db = SqliteDb::Open(path_);
  ASSERT_TRUE(db.ok()) << db.status();
  EXPECT_EQ((*db)->QueryText("PRAGMA journal_mode").value_or(""), "wal");
}

TEST_F(ImageIndexTest, MigrationsRunOnceAndInOrder) {
  ASSERT_NE(Open(), nullptr);
  const int64_t first_open = now_.load();
  now_ += 1000;
  ASSERT_NE(Open(), nullptr);  // a second open applies nothing
  auto db = SqliteDb::Open(path_);
  ASSERT_TRUE(db.ok()) << db.status();
  EXPECT_EQ((*db)->QueryInt("PRAGMA user_version").value_or(-1), LatestIndexSchemaVersion());
  auto q = (*db)->Prepare("SELECT version, applied_unix FROM schema_migrations ORDER BY version");
  ASSERT_TRUE(q.ok()) << q.status();
  int expected = 1;
  for (;;) {
    auto row = q->Step();
    ASSERT_TRUE(row.ok()) << row.status();
    if (!*row) break;
    EXPECT_EQ(q->ColumnInt64(0), expected++);
    EXPECT_EQ(q->ColumnInt64(1), first_open);
  }
  EXPECT_EQ(expected - 1, LatestIndexSchemaVersion());
}

TEST_F(ImageIndexTest, MigratesAnOlderFileForward) {
  {
    // A file as version 1 left it: only the first migration's tables.
    ASSERT_NE(Open(), nullptr);
    auto db = SqliteDb::Open(path_);
    ASSERT_TRUE(db.ok());
    ASSERT_TRUE((*db)->Exec("DROP TABLE lease_blobs; DROP TABLE leases; DROP TABLE blob_usage;"
                            "DROP TABLE layer_compression; DROP TABLE blob_locations;"
                            "DROP TABLE build_cache;"
                            "DROP TABLE IF EXISTS scan_results;"
                            "DELETE FROM schema_migrations WHERE version > 1;"
                            "PRAGMA user_version = 1;").ok());
  }
  auto index = Open();
  ASSERT_NE(index, nullptr);
  EXPECT_EQ(index->schema_version(), LatestIndexSchemaVersion());
  EXPECT_TRUE(index->CreateLease(10).ok());
  EXPECT_TRUE(index->TouchBlobs({Sha256Of("x")}, 5).ok());
  EXPECT_TRUE(index->RecordBlobLocation("r:1", "repo", Sha256Of("x")).ok());
  EXPECT_EQ(index->FindBuildCache("k").status().code(), absl::StatusCode::kNotFound);
}

TEST_F(ImageIndexTest, RefusesAFileFromTheFuture) {
  {
    auto db = SqliteDb::Open(path_);
    ASSERT_TRUE(db.ok());
    ASSERT_TRUE((*db)->Exec(absl::StrCat("PRAGMA user_version = ",
                                         LatestIndexSchemaVersion() + 1)).ok());
  }
  SqliteImageIndexOptions options;
  options.path = path_;
  auto index = OpenSqliteImageIndex(options);
  ASSERT_FALSE(index.ok());
  EXPECT_EQ(index.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(index.status().message()), ::testing::HasSubstr(path_));
  // Refused without touching the file: still the future version, journal mode unchanged.
  auto db = SqliteDb::Open(path_);
  ASSERT_TRUE(db.ok());
  EXPECT_EQ((*db)->QueryInt("PRAGMA user_version").value_or(-1), LatestIndexSchemaVersion() + 1);
  EXPECT_NE((*db)->QueryText("PRAGMA journal_mode").value_or(""), "wal");
}

TEST_F(ImageIndexTest, OpenFailsClearlyWithoutADirectory) {
  SqliteImageIndexOptions options;
  options.path = dir_.Sub("no/such/dir/index.db");
  auto index = OpenSqliteImageIndex(options);
  ASSERT_FALSE(index.ok());
  EXPECT_EQ(index.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(index.status().message()), ::testing::HasSubstr(options.path));
  options.path.clear();
  EXPECT_EQ(OpenSqliteImageIndex(options).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(ImageIndexTest, LeasesKeepBlobsLiveUntilTheyExpireOrAreReleased) {
  auto index = Open();
  ASSERT_NE(index, nullptr);
  TestImage a = MakeImage("a", 1);
  ASSERT_TRUE(index->PutImage(a.record, a.blobs).ok());
  auto short_lease = index->CreateLease(60);
  auto long_lease = index->CreateLease(3600);
  ASSERT_TRUE(short_lease.ok() && long_lease.ok());
  EXPECT_NE(short_lease->id, long_lease->id);
  EXPECT_EQ(short_lease->expires_unix, now_.load() + 60);
  Digest s1 = Sha256Of("short"), l1 = Sha256Of("long");
  ASSERT_TRUE(index->AddToLease(short_lease->id, {s1}).ok());
  ASSERT_TRUE(index->AddToLease(long_lease->id, {l1, l1}).ok());

  std::vector<std::string> image_blobs = Strings(a.blobs);
  auto live = index->LiveBlobs(now_.load());
  ASSERT_TRUE(live.ok()) << live.status();
  std::vector<std::string> want = image_blobs;
  want.push_back(s1.ToString());
  want.push_back(l1.ToString());
  EXPECT_THAT(Strings(*live), UnorderedElementsAreArray(want));

  // At its expiry second the short lease no longer protects anything.
  live = index->LiveBlobs(short_lease->expires_unix);
  ASSERT_TRUE(live.ok());
  want.erase(std::find(want.begin(), want.end(), s1.ToString()));
  EXPECT_THAT(Strings(*live), UnorderedElementsAreArray(want));

  now_ = short_lease->expires_unix + 1;
  EXPECT_EQ(index->AddToLease(short_lease->id, {s1}).code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(index->AddToLease("lease-unknown", {s1}).code(), absl::StatusCode::kNotFound);

  ASSERT_TRUE(index->ReleaseLease(long_lease->id).ok());
  EXPECT_EQ(index->ReleaseLease(long_lease->id).code(), absl::StatusCode::kNotFound);
  live = index->LiveBlobs(now_.load());
  ASSERT_TRUE(live.ok());
  EXPECT_THAT(Strings(*live), UnorderedElementsAreArray(image_blobs));
  EXPECT_EQ(index->CreateLease(0).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(ImageIndexTest, LayerCompressionBothWays) {
  auto index = Open();
  ASSERT_NE(index, nullptr);
  Digest diff_id = Sha256Of("uncompressed tar");
  Descriptor gz = Desc("gzip bytes", media::kOciLayerGzip);
  Descriptor zst = Desc("zstd bytes", media::kOciLayerZstd);
  EXPECT_EQ(index->FindByDiffId(diff_id).status().code(), absl::StatusCode::kNotFound);
  ASSERT_TRUE(index->RecordLayerCompression(LayerCompression{diff_id, gz, 100}).ok());
  ASSERT_TRUE(index->RecordLayerCompression(LayerCompression{diff_id, gz, 100}).ok());  // again

  auto by_diff = index->FindByDiffId(diff_id);
  ASSERT_TRUE(by_diff.ok()) << by_diff.status();
  EXPECT_EQ(by_diff->compressed.digest, gz.digest);
  EXPECT_EQ(by_diff->compressed.media_type, media::kOciLayerGzip);
  EXPECT_EQ(by_diff->compressed.size, gz.size);
  EXPECT_EQ(by_diff->uncompressed_size, 100);
  auto by_compressed = index->FindByCompressed(gz.digest);
  ASSERT_TRUE(by_compressed.ok()) << by_compressed.status();
  EXPECT_EQ(by_compressed->diff_id, diff_id);

  // A second compressed form of the same tar: the newer one is preferred.
  now_ += 1;
  ASSERT_TRUE(index->RecordLayerCompression(LayerCompression{diff_id, zst, -1}).ok());
  EXPECT_EQ(index->FindByDiffId(diff_id)->compressed.digest, zst.digest);
  EXPECT_EQ(index->FindByCompressed(gz.digest)->diff_id, diff_id);

  // One compressed blob cannot have two different uncompressed forms.
  EXPECT_EQ(index->RecordLayerCompression(LayerCompression{Sha256Of("other"), gz, 1}).code(),
            absl::StatusCode::kInvalidArgument);

  // Forgetting the zstd blob falls back to gzip.
  ASSERT_TRUE(index->ForgetBlob(zst.digest).ok());
  EXPECT_EQ(index->FindByDiffId(diff_id)->compressed.digest, gz.digest);
  EXPECT_EQ(index->FindByCompressed(zst.digest).status().code(), absl::StatusCode::kNotFound);
}

TEST_F(ImageIndexTest, TouchAndForgetBlobs) {
  auto index = Open();
  ASSERT_NE(index, nullptr);
  Digest d = Sha256Of("blob");
  EXPECT_EQ(index->LastUsed(d).status().code(), absl::StatusCode::kNotFound);
  ASSERT_TRUE(index->TouchBlobs({d}, 50).ok());
  ASSERT_TRUE(index->TouchBlobs({d}, 40).ok());  // use times never go backwards
  EXPECT_EQ(index->LastUsed(d).value_or(0), 50);
  ASSERT_TRUE(index->ForgetBlob(d).ok());
  EXPECT_EQ(index->LastUsed(d).status().code(), absl::StatusCode::kNotFound);
}

// 8 writer threads: half share one index object, half use a second connection to the same file,
// so both the in-process mutex and SQLite's file locking (busy_timeout) are exercised.
TEST_F(ImageIndexTest, ConcurrentWritersFromEightThreads) {
  auto first = Open();
  auto second = Open();
  ASSERT_NE(first, nullptr);
  ASSERT_NE(second, nullptr);
  constexpr int kThreads = 8, kPerThread = 15;
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      ImageIndex& index = (t % 2 == 0) ? *first : *second;
      for (int i = 0; i < kPerThread; ++i) {
        TestImage img = MakeImage(absl::StrCat("t", t, "-", i), 1);
        std::string tag = absl::StrCat("repo/t", t, ":", i);
        if (!index.PutImage(img.record, img.blobs).ok() ||
            !index.Tag(tag, img.record.manifest.digest).ok() ||
            !index.Tag("repo/shared:latest", img.record.manifest.digest).ok() ||
            !index.TouchBlobs({img.record.layers[0].digest}, i).ok() ||
            !index.Resolve(tag).ok()) {
          failures++;
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
  auto list = first->List();
  ASSERT_TRUE(list.ok()) << list.status();
  EXPECT_EQ(list->size(), static_cast<size_t>(kThreads * kPerThread));
  int shared = 0;
  for (const ImageRecord& r : *list) {
    EXPECT_GE(r.tags.size(), 1u);
    for (const std::string& tag : r.tags) shared += tag == "repo/shared:latest";
  }
  EXPECT_EQ(shared, 1);  // a tag names exactly one image
}

}  // namespace
}  // namespace slipway
