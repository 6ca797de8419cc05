#include "server/build/context/context_receiver.h"

#include <algorithm>
#include <ctime>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "storage/blob_store.h"
#include "storage/digest.h"
#include "storage/image_index.h"
#include "tests/support/temp_dir.h"

namespace slipway::build {
namespace {

using slipway::testing::TempDir;

v1::ContextEntry Dir(const std::string& path, uint32_t mode = 0755) {
  v1::ContextEntry e;
  e.set_path(path);
  e.set_type(v1::ContextEntry::DIRECTORY);
  e.set_mode(mode);
  return e;
}

v1::ContextEntry File(const std::string& path, const std::string& content,
                      uint32_t mode = 0644) {
  v1::ContextEntry e;
  e.set_path(path);
  e.set_type(v1::ContextEntry::FILE);
  e.set_mode(mode);
  e.set_size(static_cast<int64_t>(content.size()));
  e.set_digest(Sha256Of(content).ToString());
  e.set_uid(1000);
  e.set_gid(1000);
  e.set_mtime_unix_nanos(1700000000000000000);
  return e;
}

v1::ContextEntry Link(const std::string& path, v1::ContextEntry::Type type,
                      const std::string& target) {
  v1::ContextEntry e;
  e.set_path(path);
  e.set_type(type);
  e.set_mode(0777);
  e.set_link_target(target);
  return e;
}

v1::ContextEntries Batch(std::vector<v1::ContextEntry> entries) {
  v1::ContextEntries out;
  for (auto& e : entries) *out.add_entries() = std::move(e);
  return out;
}

v1::ContextChunk Chunk(const std::string& content, int64_t offset, const std::string& data) {
  v1::ContextChunk c;
  c.set_digest(Sha256Of(content).ToString());
  c.set_offset(offset);
  c.set_data(data);
  return c;
}

std::vector<std::string> Strings(const std::vector<Digest>& ds) {
  std::vector<std::string> out;
  for (const auto& d : ds) out.push_back(d.ToString());
  std::sort(out.begin(), out.end());
  return out;
}

class ContextReceiverTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto store = FsBlobStore::Create(FsBlobStoreOptions{dir_.Sub("store")});
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = std::move(store).value();
    SqliteImageIndexOptions options;
    options.path = dir_.Sub("index.db");
    auto index = OpenSqliteImageIndex(options);
    ASSERT_TRUE(index.ok()) << index.status();
    index_ = std::move(index).value();
    auto lease = index_->CreateLease(3600);
    ASSERT_TRUE(lease.ok()) << lease.status();
    lease_ = lease->id;
  }

  std::unique_ptr<ContextReceiver> NewReceiver() {
    return std::make_unique<ContextReceiver>(*store_, *index_, lease_);
  }

  // Sends whole blobs in chunks of `chunk` bytes.
  void Upload(ContextReceiver& r, const std::string& content, size_t chunk = 3) {
    for (size_t off = 0; off < content.size(); off += chunk) {
      ASSERT_TRUE(r.AddChunk(Chunk(content, off, content.substr(off, chunk))).ok());
    }
  }

  size_t TempFiles() const {
    size_t n = 0;
    std::error_code ec;
    for (auto& e : std::filesystem::recursive_directory_iterator(dir_.Sub("store/tmp"), ec)) {
      if (e.is_regular_file()) ++n;
    }
    return n;
  }

  TempDir dir_;
  std::unique_ptr<BlobStore> store_;
  std::unique_ptr<ImageIndex> index_;
  std::string lease_;
};

TEST_F(ContextReceiverTest, RejectsBadPathsNamingThem) {
  struct Case {
    std::vector<v1::ContextEntry> entries;
    std::string needle;
  };
  std::vector<Case> cases = {
      {{File("/etc/passwd", "x")}, "/etc/passwd"},
      {{File("../escape", "x")}, "../escape"},
      {{File("a/../../b", "x")}, "a/../../b"},
      {{File("a//b", "x")}, "a//b"},
      {{File("./a", "x")}, "./a"},
      {{File("", "x")}, "empty path"},
      {{File("dup", "x"), File("dup", "y")}, "listed twice"},
      {{Link("hl", v1::ContextEntry::HARDLINK, "nowhere")}, "nowhere"},
      {{Link("hl", v1::ContextEntry::HARDLINK, "later"), File("later", "x")}, "later"},
      {{Dir("d"), Link("hl", v1::ContextEntry::HARDLINK, "d")}, "not a file"},
      {{File("f", "x"), File("f/child", "y")}, "not a directory"},
      {{Link("s", v1::ContextEntry::SYMLINK, "")}, "without a target"},
  };
  v1::ContextEntry bad_digest = File("bad", "x");
  bad_digest.set_digest("sha256:XYZ");
  cases.push_back({{bad_digest}, "bad digest"});
  v1::ContextEntry unknown = File("u", "x");
  unknown.set_type(v1::ContextEntry::TYPE_UNSPECIFIED);
  cases.push_back({{unknown}, "unknown entry type"});

  for (auto& c : cases) {
    auto r = NewReceiver();
    absl::Status s = r->AddEntries(Batch(c.entries));
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << c.needle << ": " << s;
    EXPECT_NE(s.message().find(c.needle), std::string::npos) << s;
  }
}

TEST_F(ContextReceiverTest, EnforcesLimits) {
  ContextLimits limits;
  limits.max_entries = 2;
  limits.max_path_bytes = 8;
  ContextReceiver r(*store_, *index_, lease_, limits);
  EXPECT_EQ(r.AddEntries(Batch({File("a-very-long-name", "x")})).code(),
            absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(r.AddEntries(Batch({File("a", "x"), File("b", "y"), File("c", "z")})).code(),
            absl::StatusCode::kResourceExhausted);
}

TEST_F(ContextReceiverTest, AsksOnlyForMissingDigestsAndSecondReceiverNeedsNothing) {
  const std::string present = "already in the store";
  const std::string a = "contents of a";
  const std::string b = "contents of b, twice listed";
  ASSERT_TRUE(store_->PutSmall(present).ok());

  auto r = NewReceiver();
  ASSERT_TRUE(r->AddEntries(Batch({Dir("src"), File("src/a", a), File("src/b", b)})).ok());
  ASSERT_TRUE(r->AddEntries(Batch({File("src/b-copy", b), File("p", present),
                                   File("empty", "")})).ok());
  auto missing = r->MissingBlobs();
  ASSERT_TRUE(missing.ok()) << missing.status();
  // The present blob, the duplicate and the empty file are not requested.
  EXPECT_EQ(Strings(*missing),
            (std::vector<std::string>{std::min(Sha256Of(a).ToString(), Sha256Of(b).ToString()),
                                      std::max(Sha256Of(a).ToString(), Sha256Of(b).ToString())}));
  Upload(*r, a);
  Upload(*r, b, 5);
  EXPECT_EQ(r->bytes_received(), static_cast<int64_t>(a.size() + b.size()));
  auto tree = r->Finish();
  ASSERT_TRUE(tree.ok()) << tree.status();
  EXPECT_TRUE(store_->Contains(Sha256Of(a)));
  EXPECT_TRUE(store_->Contains(Sha256Of("")));

  // Everything the build needs is leased.
  auto live = index_->LiveBlobs(std::time(nullptr));
  ASSERT_TRUE(live.ok());
  for (const std::string& c : {a, b, present, std::string()}) {
    EXPECT_NE(std::find(live->begin(), live->end(), Sha256Of(c)), live->end()) << c;
  }

  // The same content again (a new build): nothing to send.
  auto again = NewReceiver();
  ASSERT_TRUE(again->AddEntries(Batch({File("x/a", a), File("x/b", b), File("p", present)})).ok());
  auto none = again->MissingBlobs();
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
  EXPECT_TRUE(again->Finish().ok());
}

TEST_F(ContextReceiverTest, WrongBytesAreDataLossAndNothingBecomesVisible) {
  const std::string listed = "the listed bytes";
  auto r = NewReceiver();
  ASSERT_TRUE(r->AddEntries(Batch({File("f", listed)})).ok());
  ASSERT_TRUE(r->MissingBlobs().ok());
  std::string forged(listed.size(), 'X');
  // Verified in the background: DATA_LOSS from the chunk or, at the latest, from Finish.
  absl::Status s = r->AddChunk(Chunk(listed, 0, forged));
  if (s.ok()) s = r->Finish().status();
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss) << s;
  EXPECT_NE(s.message().find(Sha256Of(listed).ToString()), std::string::npos) << s;
  EXPECT_FALSE(store_->Contains(Sha256Of(listed)));
  EXPECT_FALSE(store_->Contains(Sha256Of(forged)));
  EXPECT_EQ(TempFiles(), 0u);

  // Too many bytes is data loss as well.
  auto r2 = NewReceiver();
  ASSERT_TRUE(r2->AddEntries(Batch({File("f", listed)})).ok());
  ASSERT_TRUE(r2->MissingBlobs().ok());
  EXPECT_EQ(r2->AddChunk(Chunk(listed, 0, listed + "!")).code(), absl::StatusCode::kDataLoss);
  EXPECT_FALSE(store_->Contains(Sha256Of(listed)));
}

TEST_F(ContextReceiverTest, ManyBlobsCommitInTheBackgroundAndOneBadFailsTheUpload) {
  std::vector<std::string> contents;
  std::vector<v1::ContextEntry> entries;
  for (int i = 0; i < 300; ++i) {
    contents.push_back("file number " + std::to_string(i));
    entries.push_back(File("f" + std::to_string(i), contents.back()));
  }
  {
    auto r = NewReceiver();
    ASSERT_TRUE(r->AddEntries(Batch(entries)).ok());
    ASSERT_EQ(r->MissingBlobs()->size(), 300u);
    for (const auto& c : contents) Upload(*r, c, 7);
    auto tree = r->Finish();
    ASSERT_TRUE(tree.ok()) << tree.status();
    for (const auto& c : contents) EXPECT_TRUE(store_->Contains(Sha256Of(c))) << c;
    EXPECT_EQ(*(*tree)->ReadFile("f299", 100), contents[299]);
  }
  // A second context where file 10 of 300 arrives with wrong bytes.
  std::vector<std::string> fresh;
  entries.clear();
  for (int i = 0; i < 300; ++i) {
    fresh.push_back("second context file " + std::to_string(i));
    entries.push_back(File("g" + std::to_string(i), fresh.back()));
  }
  auto r = NewReceiver();
  ASSERT_TRUE(r->AddEntries(Batch(entries)).ok());
  ASSERT_TRUE(r->MissingBlobs().ok());
  absl::Status s;
  for (int i = 0; i < 300 && s.ok(); ++i) {
    std::string data = i == 10 ? std::string(fresh[i].size(), '#') : fresh[i];
    s = r->AddChunk(Chunk(fresh[i], 0, data));
  }
  if (s.ok()) s = r->Finish().status();
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss) << s;
  EXPECT_NE(s.message().find(Sha256Of(fresh[10]).ToString()), std::string::npos) << s;
  EXPECT_FALSE(store_->Contains(Sha256Of(fresh[10])));
  r.reset();
  EXPECT_EQ(TempFiles(), 0u);
}

TEST_F(ContextReceiverTest, ChunkProtocolErrors) {
  const std::string content = "0123456789";
  auto r = NewReceiver();
  ASSERT_TRUE(r->AddEntries(Batch({File("f", content)})).ok());
  EXPECT_EQ(r->AddChunk(Chunk(content, 0, "01")).code(),
            absl::StatusCode::kFailedPrecondition);  // before the listing closed
  ASSERT_TRUE(r->MissingBlobs().ok());
  absl::Status unasked = r->AddChunk(Chunk("something else", 0, "so"));
  EXPECT_EQ(unasked.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(unasked.message().find("not asked for"), std::string::npos);
  ASSERT_TRUE(r->AddChunk(Chunk(content, 0, "0123")).ok());
  EXPECT_EQ(r->AddChunk(Chunk(content, 7, "789")).code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(ContextReceiverTest, IncompleteUploadNamesTheDigest) {
  const std::string content = "0123456789";
  auto r = NewReceiver();
  ASSERT_TRUE(r->AddEntries(Batch({File("f", content)})).ok());
  ASSERT_TRUE(r->MissingBlobs().ok());
  ASSERT_TRUE(r->AddChunk(Chunk(content, 0, "0123")).ok());
  auto tree = r->Finish();
  ASSERT_FALSE(tree.ok());
  EXPECT_EQ(tree.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(tree.status().message().find(Sha256Of(content).ToString()), std::string::npos);
  EXPECT_FALSE(store_->Contains(Sha256Of(content)));
  r.reset();  // abandons the partial blob
  EXPECT_EQ(TempFiles(), 0u);
}

TEST_F(ContextReceiverTest, TreeStatWalkGlobAndReadFile) {
  const std::string main_c = "int main() {}";
  const std::string util_c = "void util() {}";
  const std::string readme = "# readme";
  auto r = NewReceiver();
  ASSERT_TRUE(r->AddEntries(Batch({
      File("README.md", readme),
      Dir("src", 0750),
      File("src/main.c", main_c, 0755),
      File("src/util.c", util_c),
      Link("src/util2.c", v1::ContextEntry::HARDLINK, "src/util.c"),
      Link("src/z-link.c", v1::ContextEntry::HARDLINK, "src/util.c"),
      Link("lib", v1::ContextEntry::SYMLINK, "src"),
      Link("abs", v1::ContextEntry::SYMLINK, "/src/main.c"),
      Link("escape", v1::ContextEntry::SYMLINK, "../../../../src/util.c"),
      Link("loop", v1::ContextEntry::SYMLINK, "loop"),
      File("deep/nested/file.txt", "implicit parents"),
  })).ok());
  ASSERT_TRUE(r->MissingBlobs().ok());
  for (const std::string& c : {main_c, util_c, readme, std::string("implicit parents")})
    Upload(*r, c, 4);
  auto tree_or = r->Finish();
  ASSERT_TRUE(tree_or.ok()) << tree_or.status();
  const SourceTree& tree = **tree_or;

  auto main_st = tree.Stat("src/main.c", false);
  ASSERT_TRUE(main_st.ok());
  EXPECT_EQ(main_st->type, EntryType::kFile);
  EXPECT_EQ(main_st->mode, 0755u);
  EXPECT_EQ(main_st->uid, 1000u);
  EXPECT_EQ(main_st->content_digest, Sha256Of(main_c).ToString());
  EXPECT_EQ(main_st->source_path, store_->PathOf(Sha256Of(main_c)));

  // Symlinks: final one only with follow, intermediate always; absolute and ".."-heavy targets
  // stay inside the root.
  EXPECT_EQ(tree.Stat("lib", false)->type, EntryType::kSymlink);
  EXPECT_EQ(tree.Stat("lib", true)->type, EntryType::kDirectory);
  EXPECT_EQ(tree.Stat("lib/main.c", false)->path, "src/main.c");
  EXPECT_EQ(tree.Stat("abs", true)->path, "src/main.c");
  EXPECT_EQ(tree.Stat("escape", true)->path, "src/util.c");
  EXPECT_EQ(tree.Stat("/src/../../README.md", false)->path, "README.md");
  EXPECT_EQ(tree.Stat("loop", true).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(tree.Stat("missing", false).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(tree.Stat("README.md/x", false).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(tree.Stat("", false)->type, EntryType::kDirectory);
  EXPECT_EQ(tree.Stat("deep/nested", false)->type, EntryType::kDirectory);
  // A hard link stats as the file it shares content with.
  EXPECT_EQ(tree.Stat("src/util2.c", false)->type, EntryType::kFile);
  EXPECT_EQ(tree.Stat("src/util2.c", false)->content_digest, Sha256Of(util_c).ToString());

  auto walk = tree.Walk("src");
  ASSERT_TRUE(walk.ok()) << walk.status();
  std::vector<std::string> paths;
  for (const auto& e : *walk) paths.push_back(e.path);
  EXPECT_EQ(paths, (std::vector<std::string>{"src/main.c", "src/util.c", "src/util2.c",
                                             "src/z-link.c"}));
  EXPECT_EQ((*walk)[1].type, EntryType::kFile);
  EXPECT_EQ((*walk)[2].type, EntryType::kHardlink);
  EXPECT_EQ((*walk)[2].link_target, "src/util.c");
  EXPECT_EQ((*walk)[3].link_target, "src/util.c");
  auto via_link = tree.Walk("lib");
  ASSERT_TRUE(via_link.ok());
  EXPECT_EQ(via_link->size(), 4u);
  EXPECT_EQ(tree.Walk("README.md").status().code(), absl::StatusCode::kFailedPrecondition);
  auto all = tree.Walk("");
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->front().path, "README.md");
  EXPECT_EQ(all->size(), 13u);

  auto glob = tree.Glob("src/*.c");
  ASSERT_TRUE(glob.ok()) << glob.status();
  EXPECT_EQ(*glob, (std::vector<std::string>{"src/main.c", "src/util.c", "src/util2.c",
                                             "src/z-link.c"}));
  EXPECT_EQ(*tree.Glob("*/m?in.c"), (std::vector<std::string>{"lib/main.c", "src/main.c"}));
  EXPECT_EQ(*tree.Glob("README.md"), (std::vector<std::string>{"README.md"}));
  EXPECT_EQ(*tree.Glob("./src/../README.md"), (std::vector<std::string>{"README.md"}));
  EXPECT_EQ(*tree.Glob("src/[mu]*.c"),
            (std::vector<std::string>{"src/main.c", "src/util.c", "src/util2.c"}));
  EXPECT_TRUE(tree.Glob("nothing*")->empty());
  EXPECT_EQ(tree.Glob("src/[").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(*tree.Glob("."), (std::vector<std::string>{""}));

  auto content = tree.ReadFile("lib/util.c", 1024);
  ASSERT_TRUE(content.ok()) << content.status();
  EXPECT_EQ(*content, util_c);
  EXPECT_EQ(tree.ReadFile("src/main.c", 3).status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(*tree.ReadFile("deep/nested/file.txt", 1024), "implicit parents");
}

}  // namespace
}  // namespace slipway::build
