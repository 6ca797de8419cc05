#include "storage/blob_store.h"

#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/support/temp_dir.h"

namespace slipway {
namespace {

using ::slipway::testing::ReadFile;
using ::slipway::testing::TempDir;
using ::slipway::testing::WriteFile;

std::unique_ptr<FsBlobStore> MustCreate(const std::string& root) {
  auto store = FsBlobStore::Create({root});
  EXPECT_TRUE(store.ok()) << store.status();
  if (!store.ok()) std::abort();
  return std::move(store).value();
}

std::vector<std::string> DirEntries(const std::string& dir) {
  std::vector<std::string> names;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    names.push_back(e.path().filename().string());
  }
  return names;
}

absl::StatusOr<std::string> ReadAll(BlobReader& reader, size_t chunk) {
  std::string out, buf(chunk, '\0');
  for (int i = 0; i < 1000000; ++i) {
    auto n = reader.Read(buf.data(), buf.size());
    if (!n.ok()) return n.status();
    if (*n == 0) return out;
    out.append(buf.data(), *n);
  }
  return absl::InternalError("reader never ended");
}

// Deterministic, incompressible-ish content.
std::string Pattern(size_t n, int seed) {
  std::string s(n, '\0');
  uint32_t x = 2463534242u + seed;
  for (size_t i = 0; i < n; ++i) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    s[i] = static_cast<char>(x);
  }
  return s;
}

TEST(FsBlobStoreTest, CreatesAnOciLayout) {
  TempDir dir;
  auto store = MustCreate(dir.Sub("store"));
  EXPECT_EQ(ReadFile(dir.Sub("store/oci-layout")), "{\"imageLayoutVersion\":\"1.0.0\"}");
  EXPECT_TRUE(std::filesystem::is_regular_file(dir.Sub("store/index.json")));
  EXPECT_TRUE(std::filesystem::is_directory(dir.Sub("store/blobs/sha256")));
  EXPECT_TRUE(std::filesystem::is_directory(dir.Sub("store/tmp")));
  EXPECT_EQ(store->removed_temp_files(), 0);
  // Re-opening keeps the layout and its blobs.
  ASSERT_TRUE(store->PutSmall("x").ok());
  auto again = MustCreate(dir.Sub("store"));
  EXPECT_TRUE(again->Contains(Sha256Of("x")));
}

TEST(FsBlobStoreTest, RoundTripsInManySmallAppends) {
  TempDir dir;
  auto store = MustCreate(dir.path());
  const std::string data = Pattern(3 << 20, 1);  // crosses the write buffer several times
  auto writer = store->NewWriter({Sha256Of(data), static_cast<int64_t>(data.size())});
  ASSERT_TRUE(writer.ok()) << writer.status();
  for (size_t off = 0; off < data.size(); off += 1000) {
    ASSERT_TRUE((*writer)->Append(absl::string_view(data).substr(off, 1000)).ok());
  }
  ASSERT_TRUE((*writer)->Append(Pattern(0, 0)).ok());
  EXPECT_EQ((*writer)->bytes_written(), static_cast<int64_t>(data.size()));
  EXPECT_FALSE(store->Contains(Sha256Of(data)));  // not visible before Publish
  auto info = (*writer)->Commit();
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_EQ(info->digest, Sha256Of(data));
  EXPECT_EQ(info->size, static_cast<int64_t>(data.size()));

  auto size = store->Stat(info->digest);
  ASSERT_TRUE(size.ok());
  EXPECT_EQ(*size, static_cast<int64_t>(data.size()));
  std::string path = store->PathOf(info->digest);
  EXPECT_EQ(path, absl::StrCat(dir.path(), "/blobs/sha256/", info->digest.hex()));
  struct stat st;
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0444u);

  for (bool verify : {false, true}) {
    for (size_t chunk : {size_t{7}, size_t{4096}, size_t{1} << 20}) {
      auto reader = store->NewReader(info->digest, verify);
      ASSERT_TRUE(reader.ok());
      EXPECT_EQ((*reader)->size(), static_cast<int64_t>(data.size()));
      auto got = ReadAll(**reader, chunk);
      ASSERT_TRUE(got.ok()) << got.status();
      EXPECT_TRUE(*got == data) << "chunk " << chunk << " verify " << verify;
    }
  }
  EXPECT_TRUE(DirEntries(dir.Sub("tmp")).empty());
}

TEST(FsBlobStoreTest, EmptyBlob) {
  TempDir dir;
  auto store = MustCreate(dir.path());
  auto info = store->PutSmall("");
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_EQ(info->digest, Sha256Of(""));
  auto text = store->ReadSmall(info->digest, 10);
  ASSERT_TRUE(text.ok()) << text.status();
  EXPECT_EQ(*text, "");
}

TEST(FsBlobStoreTest, DigestMismatchIsDataLossAndNothingVisible) {
  TempDir dir;
  auto store = MustCreate(dir.path());
  Digest expected = Sha256Of("the real thing");
  auto writer = store->NewWriter({expected, std::nullopt});
  ASSERT_TRUE(writer.ok());
  ASSERT_TRUE((*writer)->Append("an impostor").ok());
  auto info = (*writer)->Commit();
  ASSERT_FALSE(info.ok());
  EXPECT_EQ(info.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_NE(info.status().message().find(expected.ToString()), std::string::npos);
  EXPECT_NE(info.status().message().find(Sha256Of("an impostor").ToString()), std::string::npos);
  EXPECT_EQ((*writer)->Publish().code(), absl::StatusCode::kFailedPrecondition);
  writer->reset();
  EXPECT_FALSE(store->Contains(expected));
  EXPECT_FALSE(store->Contains(Sha256Of("an impostor")));
  EXPECT_TRUE(DirEntries(dir.Sub("blobs/sha256")).empty());
  EXPECT_TRUE(DirEntries(dir.Sub("tmp")).empty());
}

TEST(FsBlobStoreTest, SizeMismatchIsDataLoss) {
  TempDir dir;
  auto store = MustCreate(dir.path());
  {  // too short
    auto writer = store->NewWriter({std::nullopt, 10});
    ASSERT_TRUE((*writer)->Append("12345").ok());
    EXPECT_EQ((*writer)->Finish().status().code(), absl::StatusCode::kDataLoss);
  }
  {  // too long: refused as soon as it overflows
    auto writer = store->NewWriter({std::nullopt, 3});
    EXPECT_EQ((*writer)->Append("12345").code(), absl::StatusCode::kDataLoss);
    EXPECT_EQ((*writer)->Finish().status().code(), absl::StatusCode::kFailedPrecondition);
  }
  EXPECT_EQ(store->NewWriter({std::nullopt, -1}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(DirEntries(dir.Sub("blobs/sha256")).empty());
  EXPECT_TRUE(DirEntries(dir.Sub("tmp")).empty());
}

TEST(FsBlobStoreTest, DestroyedWriterLeavesNoTempFile) {
  TempDir dir;
  auto store = MustCreate(dir.path());
  {
    auto writer = store->NewWriter();
    ASSERT_TRUE(writer.ok());
    ASSERT_TRUE((*writer)->Append(Pattern(2 << 20, 2)).ok());
    EXPECT_EQ(DirEntries(dir.Sub("tmp")).size(), 1u);
  }
  {  // finished but never published
    auto writer = store->NewWriter();
    ASSERT_TRUE((*writer)->Append("abc").ok());
    ASSERT_TRUE((*writer)->Finish().ok());
  }
  EXPECT_TRUE(DirEntries(dir.Sub("tmp")).empty());
  EXPECT_TRUE(DirEntries(dir.Sub("blobs/sha256")).empty());
  EXPECT_FALSE(store->Contains(Sha256Of("abc")));
}

TEST(FsBlobStoreTest, PublishBeforeFinishIsFailedPrecondition) {
  TempDir dir;
  auto store = MustCreate(dir.path());
  auto writer = store->NewWriter();
  ASSERT_TRUE((*writer)->Append("abc").ok());
  EXPECT_EQ((*writer)->Publish().code(), absl::StatusCode::kFailedPrecondition);
}

TEST(FsBlobStoreTest, ConcurrentWritersOfTheSameContentMakeOneBlob) {
  TempDir dir;
  auto store = MustCreate(dir.path());
  const std::string data = Pattern(1536 << 10, 3);
  const Digest digest = Sha256Of(data);
  constexpr int kThreads = 8;
  std::vector<absl::Status> results(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      auto writer = store->NewWriter({digest, static_cast<int64_t>(data.size())});
      if (!writer.ok()) {
        results[t] = writer.status();
        return;
      }
      for (size_t off = 0; off < data.size(); off += 65536) {
        absl::Status s = (*writer)->Append(absl::string_view(data).substr(off, 65536));
        if (!s.ok()) {
          results[t] = s;
          return;
        }
      }
      results[t] = (*writer)->Commit().status();
    });
  }
  for (auto& th : threads) th.join();
  for (int t = 0; t < kThreads; ++t) EXPECT_TRUE(results[t].ok()) << t << ": " << results[t];
  EXPECT_EQ(DirEntries(dir.Sub("blobs/sha256")), std::vector<std::string>{digest.hex()});
  EXPECT_TRUE(DirEntries(dir.Sub("tmp")).empty());
  auto reader = store->NewReader(digest, /*verify=*/true);
  ASSERT_TRUE(reader.ok());
  auto got = ReadAll(**reader, 1 << 16);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_TRUE(*got == data);
}

TEST(FsBlobStoreTest, PutIsIdempotent) {
  TempDir dir;
  auto store = MustCreate(dir.path());
  auto a = store->PutSmall("same");
  auto b = store->PutSmall("same");
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->digest, b->digest);
  EXPECT_EQ(DirEntries(dir.Sub("blobs/sha256")).size(), 1u);
  // The loser of a publish race drops its temp copy at Publish, not later.
  auto writer = store->NewWriter();
  ASSERT_TRUE((*writer)->Append("same").ok());
  ASSERT_TRUE((*writer)->Commit().ok());
  EXPECT_TRUE(DirEntries(dir.Sub("tmp")).empty());
  auto text = store->ReadSmall(a->digest, 100);
  ASSERT_TRUE(text.ok());
  EXPECT_EQ(*text, "same");
}

TEST(FsBlobStoreTest, CreateRemovesAbandonedTempFilesOnly) {
  TempDir dir;
  {
    auto store = MustCreate(dir.path());
  }
  // What a crashed writer leaves: named like ours, nobody holding its lock.
  WriteFile(dir.Sub("tmp/blob-AbC123.partial"), "half a layer");
  WriteFile(dir.Sub("tmp/blob-zzzzzz.partial"), "");
  WriteFile(dir.Sub("tmp/someone-elses-file"), "keep me");
  // A live writer in this process holds its temp file: Create must leave it alone.
  auto live_store = MustCreate(dir.path());
  EXPECT_EQ(live_store->removed_temp_files(), 2);
  auto live = live_store->NewWriter();
  ASSERT_TRUE((*live)->Append("in flight").ok());

  auto store = MustCreate(dir.path());
  EXPECT_EQ(store->removed_temp_files(), 0);
  auto names = DirEntries(dir.Sub("tmp"));
  EXPECT_EQ(names.size(), 2u);
  EXPECT_TRUE(std::filesystem::exists(dir.Sub("tmp/someone-elses-file")));
  ASSERT_TRUE((*live)->Commit().ok());
  EXPECT_TRUE(store->Contains(Sha256Of("in flight")));
}

TEST(FsBlobStoreTest, CreateRemovesTempFilesOfAKilledProcess) {
  TempDir dir;
  auto store = MustCreate(dir.path());
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    // Child: start a blob and die without any cleanup.
    auto writer = store->NewWriter();
    if (!writer.ok() || !(*writer)->Append(std::string(4096, 'x')).ok()) ::_exit(1);
    ::_exit(0);  // skips destructors, like a crash
  }
  int wstatus = 0;
  ASSERT_EQ(::waitpid(pid, &wstatus, 0), pid);
  ASSERT_TRUE(WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 0);
  EXPECT_EQ(DirEntries(dir.Sub("tmp")).size(), 1u);
  auto again = MustCreate(dir.path());
  EXPECT_EQ(again->removed_temp_files(), 1);
  EXPECT_TRUE(DirEntries(dir.Sub("tmp")).empty());
}

TEST(FsBlobStoreTest, VerifyingReaderDetectsCorruption) {
  TempDir dir;
  auto store = MustCreate(dir.path());
  const std::string data = Pattern(700 << 10, 4);
  auto info = store->PutSmall(data);
  ASSERT_TRUE(info.ok());
  std::string path = store->PathOf(info->digest);
  ASSERT_EQ(::chmod(path.c_str(), 0644), 0);
  int fd = ::open(path.c_str(), O_WRONLY);
  ASSERT_GE(fd, 0);
  char flipped = static_cast<char>(data[12345] ^ 0x01);
  ASSERT_EQ(::pwrite(fd, &flipped, 1, 12345), 1);
  ::close(fd);

  auto plain = store->NewReader(info->digest, /*verify=*/false);
  ASSERT_TRUE(plain.ok());
  auto unverified = ReadAll(**plain, 4096);
  ASSERT_TRUE(unverified.ok());  // without verification the bytes come back as they are
  EXPECT_EQ(unverified->size(), data.size());

  for (size_t chunk : {size_t{100}, size_t{1} << 20}) {
    auto reader = store->NewReader(info->digest, /*verify=*/true);
    ASSERT_TRUE(reader.ok());
    auto got = ReadAll(**reader, chunk);
    ASSERT_FALSE(got.ok());
    EXPECT_EQ(got.status().code(), absl::StatusCode::kDataLoss);
    EXPECT_NE(got.status().message().find(info->digest.ToString()), std::string::npos);
  }
  EXPECT_EQ(store->ReadSmall(info->digest, 1 << 20).status().code(), absl::StatusCode::kDataLoss);
}

TEST(FsBlobStoreTest, VerifyingReaderDetectsTruncation) {
  TempDir dir;
  auto store = MustCreate(dir.path());
  const std::string data = Pattern(5000, 6);
  auto info = store->PutSmall(data);
  ASSERT_TRUE(info.ok());
  auto reader = store->NewReader(info->digest, /*verify=*/true);
  ASSERT_TRUE(reader.ok());
  // Truncated after the reader saw the full size: the end comes early and must not pass.
  std::string path = store->PathOf(info->digest);
  ASSERT_EQ(::chmod(path.c_str(), 0644), 0);
  ASSERT_EQ(::truncate(path.c_str(), 4000), 0);
  auto got = ReadAll(**reader, 1024);
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.status().code(), absl::StatusCode::kDataLoss);
}

TEST(FsBlobStoreTest, ReadSmallRefusesLargeBlobs) {
  TempDir dir;
  auto store = MustCreate(dir.path());
  auto info = store->PutSmall("0123456789");
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(store->ReadSmall(info->digest, 9).status().code(),
            absl::StatusCode::kResourceExhausted);
  EXPECT_TRUE(store->ReadSmall(info->digest, 10).ok());
}

TEST(FsBlobStoreTest, MissingBlobs) {
  TempDir dir;
  auto store = MustCreate(dir.path());
  auto b = store->PutSmall("b");
  ASSERT_TRUE(b.ok());
  Digest a = Sha256Of("a"), c = Sha256Of("c"), d = Sha256Of("d");
  EXPECT_EQ(store->FindMissing({d, b->digest, a, c}), (std::vector<Digest>{d, a, c}));
  EXPECT_TRUE(store->FindMissing({b->digest}).empty());
  EXPECT_EQ(store->Stat(a).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(store->NewReader(a).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(store->ReadSmall(a, 10).status().code(), absl::StatusCode::kNotFound);
}

TEST(FsBlobStoreTest, DeleteIsIdempotent) {
  TempDir dir;
  auto store = MustCreate(dir.path());
  auto info = store->PutSmall("gone soon");
  ASSERT_TRUE(info.ok());
  EXPECT_TRUE(store->Delete(info->digest).ok());
  EXPECT_FALSE(store->Contains(info->digest));
  EXPECT_TRUE(store->Delete(info->digest).ok());
  // and it can come back
  ASSERT_TRUE(store->PutSmall("gone soon").ok());
  EXPECT_TRUE(store->Contains(info->digest));
}

TEST(FsBlobStoreTest, ListReportsBlobsAndStrays) {
  TempDir dir;
  auto store = MustCreate(dir.path());
  auto one = store->PutSmall("one");
  auto two = store->PutSmall("two!");
  ASSERT_TRUE(one.ok() && two.ok());
  WriteFile(dir.Sub("blobs/sha256/not-a-digest"), "junk");
  WriteFile(dir.Sub("blobs/sha256/") + std::string(64, 'A'), "upper case");
  std::filesystem::create_directory(dir.Sub("blobs/sha256/") + std::string(64, 'a'));

  std::map<std::string, int64_t> seen;
  std::vector<std::string> strays;
  absl::Status s = store->List(
      [&](const BlobStore::ListedBlob& b) {
        seen[b.digest.ToString()] = b.size;
        EXPECT_GT(b.mtime_unix, 0);
      },
      [&](const std::string& name) { strays.push_back(name); });
  ASSERT_TRUE(s.ok()) << s;
  EXPECT_EQ(seen, (std::map<std::string, int64_t>{{one->digest.ToString(), 3},
                                                   {two->digest.ToString(), 4}}));
  std::sort(strays.begin(), strays.end());
  EXPECT_EQ(strays, (std::vector<std::string>{std::string(64, 'A'), std::string(64, 'a'),
                                              "not-a-digest"}));
  // Without a stray callback they are just skipped.
  int count = 0;
  EXPECT_TRUE(store->List([&](const BlobStore::ListedBlob&) { ++count; }).ok());
  EXPECT_EQ(count, 2);
}

// Disk full through a real 1 MiB tmpfs: the error must say so and name the path, and nothing
// half-written may stay behind.
class FullDiskTest : public ::testing::Test {
 protected:
  void SetUp() override {
    mount_point_ = dir_.Sub("tiny");
    std::filesystem::create_directory(mount_point_);
    if (::mount("tmpfs", mount_point_.c_str(), "tmpfs", 0, "size=1m") != 0) {
      FAIL() << "cannot mount a 1 MiB tmpfs at " << mount_point_ << ": " << strerror(errno)
             << " (this test needs root / CAP_SYS_ADMIN to simulate a full disk)";
    }
    mounted_ = true;
  }
  void TearDown() override {
    if (mounted_) {
      EXPECT_EQ(::umount2(mount_point_.c_str(), MNT_DETACH), 0) << strerror(errno);
    }
  }
  TempDir dir_;
  std::string mount_point_;
  bool mounted_ = false;
};

TEST_F(FullDiskTest, WritingPastTheEndIsResourceExhausted) {
  auto store = MustCreate(mount_point_ + "/store");
  auto writer = store->NewWriter();
  ASSERT_TRUE(writer.ok());
  const std::string chunk = Pattern(256 << 10, 5);
  absl::Status status;
  for (int i = 0; i < 16 && status.ok(); ++i) status = (*writer)->Append(chunk);
  if (status.ok()) status = (*writer)->Finish().status();
  ASSERT_FALSE(status.ok()) << "4 MiB fit in a 1 MiB tmpfs?";
  std::cout << "full disk says: " << status << "\n";
  EXPECT_EQ(status.code(), absl::StatusCode::kResourceExhausted) << status;
  EXPECT_NE(status.message().find(mount_point_ + "/store/tmp/"), std::string::npos) << status;
  writer->reset();
  EXPECT_TRUE(DirEntries(mount_point_ + "/store/tmp").empty());
  EXPECT_TRUE(DirEntries(mount_point_ + "/store/blobs/sha256").empty());
  // Space is back: the store keeps working.
  EXPECT_TRUE(store->PutSmall("small").ok());
}

}  // namespace
}  // namespace slipway

namespace slipway {
namespace {

// GC's grace period counts from a blob's mtime: publishing content that is already stored must
// refresh it, or a blob re-used by a new import could be swept before the import records it.
TEST(FsBlobStoreTest, RepublishingExistingContentRefreshesItsAge) {
  TempDir dir;
  auto store = MustCreate(dir.path());
  auto first = store->PutSmall("same bytes");
  ASSERT_TRUE(first.ok()) << first.status();
  const std::string path = store->PathOf(first->digest);
  struct timespec old_times[2] = {{1000, 0}, {1000, 0}};
  ASSERT_EQ(::utimensat(AT_FDCWD, path.c_str(), old_times, 0), 0);

  auto again = store->PutSmall("same bytes");
  ASSERT_TRUE(again.ok()) << again.status();
  struct stat st;
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_GT(st.st_mtime, 1000 + 86400) << "mtime was not refreshed by the second publish";
}

// Large blobs take the O_DIRECT path; sizes that are not multiples of the block size must come
// out exact (the padded tail is cut back).
TEST(FsBlobStoreTest, LargeBlobsWithUnalignedSizesRoundTrip) {
  TempDir dir;
  auto store = MustCreate(dir.path());
  for (size_t size : {size_t{(1 << 20) + 1}, size_t{(4 << 20) - 1}, size_t{(9 << 20) + 4097}}) {
    const std::string data = Pattern(size, static_cast<int>(size % 251));
    auto writer = store->NewWriter({Sha256Of(data), static_cast<int64_t>(size)});
    ASSERT_TRUE(writer.ok());
    for (size_t off = 0; off < size; off += 65536) {
      ASSERT_TRUE((*writer)->Append(absl::string_view(data).substr(off, 65536)).ok());
    }
    auto info = (*writer)->Commit();
    ASSERT_TRUE(info.ok()) << info.status();
    EXPECT_EQ(ReadFile(store->PathOf(info->digest)), data) << "size " << size;
  }
}

}  // namespace
}  // namespace slipway
