// The client's context walk over real files: .dockerignore, symlinks, hard links, hash cache.
#include "client/context_walker.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "storage/digest.h"
#include "tests/support/temp_dir.h"

namespace slipway::client {
namespace {

using slipway::testing::TempDir;
using slipway::testing::WriteFile;

std::vector<std::string> Paths(const ContextListing& l) {
  std::vector<std::string> out;
  for (const auto& e : l.entries) out.push_back(e.path());
  return out;
}

const v1::ContextEntry* Find(const ContextListing& l, const std::string& path) {
  for (const auto& e : l.entries) {
    if (e.path() == path) return &e;
  }
  return nullptr;
}

absl::StatusOr<ContextListing> Walk(const std::string& dir, HashCache* cache = nullptr,
                                    const std::string& dockerfile = "") {
  ContextWalkOptions o;
  o.context_dir = dir;
  o.dockerfile_path = dockerfile.empty() ? dir + "/Dockerfile" : dockerfile;
  o.cache = cache;
  return WalkContext(o);
}

TEST(ContextWalkerTest, DockerignoreWithExceptionsAppliesBeforeHashing) {
  TempDir t;
  const std::string ctx = t.Sub("ctx");
  WriteFile(ctx + "/Dockerfile", "FROM scratch\n");
  WriteFile(ctx + "/a.txt", "a");
  WriteFile(ctx + "/b.log", "b");
  WriteFile(ctx + "/keep.log", "keep");
  WriteFile(ctx + "/build/out.o", "obj");
  WriteFile(ctx + "/build/keep/x", "x");
  WriteFile(ctx + "/node_modules/m.js", "js");
  WriteFile(ctx + "/src/a-b", "dash");
  WriteFile(ctx + "/src/a/b", "slash");
  WriteFile(ctx + "/.dockerignore",
            "# generated\n*.log\n!keep.log\nnode_modules\n/build/\n!build/keep\n");
  auto l = Walk(ctx);
  ASSERT_TRUE(l.ok()) << l.status();
  EXPECT_EQ(Paths(*l), (std::vector<std::string>{".dockerignore", "Dockerfile", "a.txt",
                                                 "build/keep", "build/keep/x", "keep.log",
                                                 "src", "src/a", "src/a-b", "src/a/b"}))
      << "sorted by full path in byte order, excluded entries absent";
  EXPECT_EQ(l->files_hashed, 7);  // excluded files are never read
  EXPECT_EQ(l->ignore_file, ctx + "/.dockerignore");
  const auto* a = Find(*l, "a.txt");
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->type(), v1::ContextEntry::FILE);
  EXPECT_EQ(a->digest(), Sha256Of("a").ToString());
  EXPECT_EQ(a->size(), 1);
  EXPECT_EQ(l->sources.at(a->digest()).abs_path, l->root + "/a.txt");
}

// As non-root the unreadable directory proves it is not opened; as root it still checks that
// nothing of it is sent.
TEST(ContextWalkerTest, SkippableExcludedDirectoryIsNotWalked) {
  TempDir t;
  const std::string ctx = t.Sub("ctx");
  WriteFile(ctx + "/ok", "ok");
  WriteFile(ctx + "/secret/inner/file", "x");
  WriteFile(ctx + "/.dockerignore", "secret\n");
  ASSERT_EQ(::chmod((ctx + "/secret").c_str(), 0), 0);
  auto l = Walk(ctx);
  ::chmod((ctx + "/secret").c_str(), 0755);
  ASSERT_TRUE(l.ok()) << l.status();
  EXPECT_EQ(Paths(*l), (std::vector<std::string>{".dockerignore", "ok"}));

  // With an exception reaching inside, the directory is walked but only the exception is sent.
  WriteFile(ctx + "/.dockerignore", "secret\n!secret/inner/file\n");
  auto l2 = Walk(ctx);
  ASSERT_TRUE(l2.ok()) << l2.status();
  EXPECT_EQ(Paths(*l2), (std::vector<std::string>{".dockerignore", "ok", "secret/inner/file"}));
}

TEST(ContextWalkerTest, DockerfileSpecificIgnoreFileWinsAndBadPatternNamesLine) {
  TempDir t;
  const std::string ctx = t.Sub("ctx");
  WriteFile(ctx + "/a", "a");
  WriteFile(ctx + "/b", "b");
  WriteFile(ctx + "/.dockerignore", "a\n");
  WriteFile(t.Sub("df/app.Dockerfile"), "FROM scratch\n");
  WriteFile(t.Sub("df/app.Dockerfile.dockerignore"), "b\n.dockerignore\n");
  auto l = Walk(ctx, nullptr, t.Sub("df/app.Dockerfile"));
  ASSERT_TRUE(l.ok()) << l.status();
  EXPECT_EQ(Paths(*l), (std::vector<std::string>{"a"}));

  WriteFile(ctx + "/.dockerignore", "ok\n[unclosed\n");
  auto bad = Walk(ctx);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(bad.status().message().find(".dockerignore:2:"), std::string::npos) << bad.status();
}

TEST(ContextWalkerTest, SymlinksAreSentAsLinksAndNeverFollowed) {
  TempDir t;
  const std::string ctx = t.Sub("real-ctx");
  WriteFile(t.Sub("outside/secret"), "TOP SECRET");
  WriteFile(ctx + "/sub/file", "inside");
  ASSERT_EQ(::symlink("../outside/secret", (ctx + "/leak").c_str()), 0);
  ASSERT_EQ(::symlink(t.Sub("outside").c_str(), (ctx + "/outdir").c_str()), 0);
  ASSERT_EQ(::symlink("sub", (ctx + "/subdir-link").c_str()), 0);
  ASSERT_EQ(::symlink("nowhere", (ctx + "/dangling").c_str()), 0);
  // The context itself given through a symlink: resolved once.
  ASSERT_EQ(::symlink(ctx.c_str(), t.Sub("ctx-link").c_str()), 0);

  auto l = Walk(t.Sub("ctx-link"));
  ASSERT_TRUE(l.ok()) << l.status();
  EXPECT_EQ(l->root, ctx);
  EXPECT_EQ(Paths(*l), (std::vector<std::string>{"dangling", "leak", "outdir", "sub", "sub/file",
                                                 "subdir-link"}));
  EXPECT_EQ(Find(*l, "leak")->type(), v1::ContextEntry::SYMLINK);
  EXPECT_EQ(Find(*l, "leak")->link_target(), "../outside/secret");
  EXPECT_EQ(Find(*l, "outdir")->link_target(), t.Sub("outside"));
  EXPECT_EQ(Find(*l, "subdir-link")->type(), v1::ContextEntry::SYMLINK);
  EXPECT_EQ(l->files_hashed, 1);
  EXPECT_EQ(l->bytes_hashed, 6);  // only "inside": the secret was never read
  for (const auto& [digest, src] : l->sources) {
    EXPECT_EQ(src.abs_path.rfind(ctx + "/", 0), 0u) << src.abs_path;
    EXPECT_NE(digest, Sha256Of("TOP SECRET").ToString());
  }
}

TEST(ContextWalkerTest, HardLinksAfterTheFirstAreSentAsHardlinks) {
  TempDir t;
  const std::string ctx = t.Sub("ctx");
  WriteFile(ctx + "/z/original", "shared bytes");
  ASSERT_EQ(::link((ctx + "/z/original").c_str(), (ctx + "/a-first").c_str()), 0);
  ASSERT_EQ(::mkdir((ctx + "/m").c_str(), 0755), 0);
  ASSERT_EQ(::link((ctx + "/z/original").c_str(), (ctx + "/m/second").c_str()), 0);
  auto l = Walk(ctx);
  ASSERT_TRUE(l.ok()) << l.status();
  EXPECT_EQ(Paths(*l), (std::vector<std::string>{"a-first", "m", "m/second", "z", "z/original"}));
  EXPECT_EQ(Find(*l, "a-first")->type(), v1::ContextEntry::FILE);
  EXPECT_EQ(Find(*l, "m/second")->type(), v1::ContextEntry::HARDLINK);
  EXPECT_EQ(Find(*l, "m/second")->link_target(), "a-first");
  EXPECT_EQ(Find(*l, "z/original")->type(), v1::ContextEntry::HARDLINK);
  EXPECT_EQ(Find(*l, "z/original")->link_target(), "a-first");
  EXPECT_EQ(l->files_hashed, 1);
}

TEST(ContextWalkerTest, HashCacheIsReusedAndInvalidatedOnChange) {
  TempDir t;
  const std::string ctx = t.Sub("ctx");
  const std::string cache_dir = t.Sub("cache");
  for (int i = 0; i < 20; ++i) WriteFile(ctx + "/f" + std::to_string(i), "content " + std::to_string(i));
  {
    HashCache cache = HashCache::Load(cache_dir, ctx);
    auto l = Walk(ctx, &cache);
    ASSERT_TRUE(l.ok()) << l.status();
    EXPECT_EQ(l->files_hashed, 20);
    EXPECT_EQ(l->files_cached, 0);
    ASSERT_TRUE(cache.Save().ok());
  }
  std::string cache_file;
  {
    HashCache cache = HashCache::Load(cache_dir, ctx);
    cache_file = cache.file();
    auto l = Walk(ctx, &cache);
    ASSERT_TRUE(l.ok()) << l.status();
    EXPECT_EQ(l->files_hashed, 0);
    EXPECT_EQ(l->files_cached, 20);
    EXPECT_EQ(Find(*l, "f3")->digest(), Sha256Of("content 3").ToString());
    ASSERT_TRUE(cache.Save().ok());
  }
  // Same size, same mtime restored: the ctime (and content) changed, so it is hashed again.
  struct stat before;
  ASSERT_EQ(::stat((ctx + "/f3").c_str(), &before), 0);
  WriteFile(ctx + "/f3", "CONTENT 3");
  struct timespec times[2] = {before.st_atim, before.st_mtim};
  ASSERT_EQ(::utimensat(AT_FDCWD, (ctx + "/f3").c_str(), times, 0), 0);
  {
    HashCache cache = HashCache::Load(cache_dir, ctx);
    auto l = Walk(ctx, &cache);
    ASSERT_TRUE(l.ok()) << l.status();
    EXPECT_EQ(l->files_hashed, 1);
    EXPECT_EQ(l->files_cached, 19);
    EXPECT_EQ(Find(*l, "f3")->digest(), Sha256Of("CONTENT 3").ToString());
    ASSERT_TRUE(cache.Save().ok());
  }
  // A corrupt cache is ignored: everything is hashed again, correctly.
  WriteFile(cache_file, "slipway-hash-cache v1\n12 garbage\n");
  {
    HashCache cache = HashCache::Load(cache_dir, ctx);
    EXPECT_TRUE(cache.loaded_corrupt());
    auto l = Walk(ctx, &cache);
    ASSERT_TRUE(l.ok()) << l.status();
    EXPECT_EQ(l->files_hashed, 20);
    EXPECT_EQ(Find(*l, "f3")->digest(), Sha256Of("CONTENT 3").ToString());
    ASSERT_TRUE(cache.Save().ok());
  }
  HashCache reloaded = HashCache::Load(cache_dir, ctx);
  EXPECT_FALSE(reloaded.loaded_corrupt());
}

TEST(ContextWalkerTest, CacheDirectoryFromEnvironment) {
  auto env = [](std::map<std::string, std::string> m) {
    return [m](const std::string& k) -> std::optional<std::string> {
      auto it = m.find(k);
      if (it == m.end()) return std::nullopt;
      return it->second;
    };
  };
  EXPECT_EQ(HashCache::DefaultDirectory(env({{"SLIPWAY_CACHE_DIR", "/c"}, {"HOME", "/h"}})), "/c");
  EXPECT_EQ(HashCache::DefaultDirectory(env({{"XDG_CACHE_HOME", "/x"}, {"HOME", "/h"}})),
            "/x/slipway");
  EXPECT_EQ(HashCache::DefaultDirectory(env({{"HOME", "/h"}})), "/h/.cache/slipway");
  EXPECT_EQ(HashCache::DefaultDirectory(env({})), "");
}

TEST(ContextWalkerTest, MissingContextIsAnError) {
  TempDir t;
  auto l = Walk(t.Sub("nope"));
  EXPECT_EQ(l.status().code(), absl::StatusCode::kNotFound);
  WriteFile(t.Sub("file"), "x");
  EXPECT_FALSE(Walk(t.Sub("file")).ok());
}

}  // namespace
}  // namespace slipway::client
