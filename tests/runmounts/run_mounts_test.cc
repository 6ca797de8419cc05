#include "server/build/run/run_mounts.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <climits>
#include <cstdlib>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "gtest/gtest.h"
#include "tests/support/run_command.h"
#include "tests/support/temp_dir.h"

namespace slipway::build {
namespace {

using ::slipway::testing::ReadFile;
using ::slipway::testing::RunCommand;
using ::slipway::testing::ShellQuote;
using ::slipway::testing::TempDir;
using ::slipway::testing::WriteFile;
using Type = RunMountSpec::Type;
using Sharing = RunMountSpec::Sharing;

struct ParseCase {
  std::string value;
  std::string workdir;
  Type type;
  std::string target, source, from, id;
  bool read_only;
  Sharing sharing = Sharing::kShared;
  bool required = false;
  uint32_t mode = 0, uid = 0, gid = 0;
  int64_t size = 0;
};

TEST(ParseRunMountTest, Table) {
  const std::vector<ParseCase> cases = {
      {"target=/src", "/", Type::kBind, "/src", "", "", "", true},
      {"type=bind,source=app,target=/app,from=builder,rw", "/", Type::kBind, "/app", "app",
       "builder", "", false},
      {"type=bind,src=a,dst=b,readwrite=true", "/work", Type::kBind, "/work/b", "a", "", "",
       false},
      {"type=bind,destination=./x/./y//,rw=false", "/w", Type::kBind, "/w/x/y", "", "", "", true},
      {"type=cache,target=/root/.cache", "/", Type::kCache, "/root/.cache", "", "",
       "/root/.cache", false},
      {"TYPE=Cache,Target=go,ID=gomod,Sharing=LOCKED,mode=0700,uid=1000,gid=1001", "/src",
       Type::kCache, "/src/go", "", "", "gomod", false, Sharing::kLocked, false, 0700, 1000,
       1001},
      {"type=cache,target=/c,sharing=private,ro", "/", Type::kCache, "/c", "", "", "/c", true,
       Sharing::kPrivate},
      {"type=cache,target=/c,from=base,source=/cache", "/", Type::kCache, "/c", "/cache", "base",
       "/c", false},
      {"type=tmpfs,target=/tmp,size=64m", "/", Type::kTmpfs, "/tmp", "", "", "", false,
       Sharing::kShared, false, 0, 0, 0, 64 << 20},
      {"type=tmpfs,target=/t,size=1.5GiB", "/", Type::kTmpfs, "/t", "", "", "", false,
       Sharing::kShared, false, 0, 0, 0, int64_t{3} << 29},
      {"type=tmpfs,target=/t,size=4096", "/", Type::kTmpfs, "/t", "", "", "", false,
       Sharing::kShared, false, 0, 0, 0, 4096},
      {"type=secret,id=npmrc", "/", Type::kSecret, "/run/secrets/npmrc", "", "", "npmrc", true},
      {"type=secret,target=/root/.npmrc,required", "/", Type::kSecret, "/root/.npmrc", "", "",
       ".npmrc", true, Sharing::kShared, true},
      {"type=secret,id=aws,target=/root/.aws/credentials,required=false,mode=0440,uid=5",
       "/", Type::kSecret, "/root/.aws/credentials", "", "", "aws", true, Sharing::kShared,
       false, 0440, 5},
      {"type=ssh", "/", Type::kSsh, "/run/buildkit/ssh_agent.0", "", "", "default", true},
      {"type=ssh,id=github,target=/ssh.sock,required=1", "/", Type::kSsh, "/ssh.sock", "", "",
       "github", true, Sharing::kShared, true},
      {"\"target=/a,b\",type=bind", "/", Type::kBind, "/a,b", "", "", "", true},
  };
  for (const ParseCase& c : cases) {
    SCOPED_TRACE(c.value);
    auto m = ParseRunMount(c.value, c.workdir);
    ASSERT_TRUE(m.ok()) << m.status();
    EXPECT_EQ(m->type, c.type);
    EXPECT_EQ(m->target, c.target);
    EXPECT_EQ(m->source, c.source);
    EXPECT_EQ(m->from, c.from);
    EXPECT_EQ(m->id, c.id);
    EXPECT_EQ(m->read_only, c.read_only);
    EXPECT_EQ(m->sharing, c.sharing);
    EXPECT_EQ(m->required, c.required);
    EXPECT_EQ(m->mode, c.mode);
    EXPECT_EQ(m->uid, c.uid);
    EXPECT_EQ(m->gid, c.gid);
    EXPECT_EQ(m->size_bytes, c.size);
  }
}

TEST(ParseRunMountTest, ErrorsNameTheKey) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"type=cache,target=/c,foo=bar", "unknown key \"foo\""},
      {"type=cache,target=/c,bogus", "unknown key \"bogus\""},
      {"type=cache", "type=cache needs target"},
      {"type=bind,source=x", "type=bind needs target"},
      {"type=tmpfs", "type=tmpfs needs target"},
      {"type=secret", "type=secret needs id or target"},
      {"type=volume,target=/v", "type=volume: expected bind, cache, tmpfs, secret or ssh"},
      {"target=/a/../b", "target \"/a/../b\" contains \"..\""},
      {"target=../b", "target \"../b\" contains \"..\""},
      {"target=/", "target \"/\" is the root directory"},
      {"target=", "target= is empty"},
      {"type=cache,target=/c,sharing=x", "sharing=x: expected shared, private or locked"},
      {"target=/c,sharing=locked", "sharing= is not allowed with type=bind"},
      {"type=cache,target=/c,ro=maybe", "ro=maybe: expected true or false"},
      {"type=cache,target=/c,rw=yes", "rw=yes: expected true or false"},
      {"type=secret,id=a,required=2", "required=2: expected true or false"},
      {"type=cache,target=/c,required", "required= is not allowed with type=cache"},
      {"type=cache,target=/c,mode=0999", "mode=0999: expected octal"},
      {"type=cache,target=/c,mode=17777", "mode=17777: expected octal"},
      {"type=cache,target=/c,uid=-1", "uid=-1: expected a decimal number"},
      {"type=cache,target=/c,gid=abc", "gid=abc: expected a decimal number"},
      {"type=cache,target=/c,uid=4294967296", "uid=4294967296"},
      {"type=tmpfs,target=/t,size=big", "size=big: expected a size"},
      {"type=tmpfs,target=/t,size=-1m", "size=-1m: expected a size"},
      {"type=cache,target=/c,size=1m", "size= is not allowed with type=cache"},
      {"type=bind,target=/b,mode=0755", "mode/uid/gid= is not allowed with type=bind"},
      {"type=tmpfs,target=/t,id=x", "id= is not allowed with type=tmpfs"},
      {"type=secret,id=s,from=img", "from= is not allowed with type=secret"},
      {"type=cache,target=/c,id=", "id= is empty"},
      {"type=cache,target", "\"target\" needs a value"},
      {"type=cache,,target=/c", "empty field"},
      {"\"target=/c", "unterminated quote"},
      {"type=secret,id=../x", "a secret without target needs a plain name"},
  };
  for (const auto& [value, want] : cases) {
    auto m = ParseRunMount(value, "/");
    EXPECT_EQ(m.status().code(), absl::StatusCode::kInvalidArgument) << value;
    EXPECT_TRUE(absl::StrContains(m.status().message(), want))
        << value << ": got \"" << m.status().message() << "\", want \"" << want << "\"";
    EXPECT_TRUE(absl::StartsWith(m.status().message(), "--mount: ")) << m.status();
  }
}

class CacheMountDirsTest : public ::testing::Test {
 protected:
  void SetUp() override { Open(); }
  void Open() {
    dirs_.reset();
    auto dirs = CacheMountDirs::Create(root_);
    ASSERT_TRUE(dirs.ok()) << dirs.status();
    dirs_ = std::move(*dirs);
  }
  std::unique_ptr<CacheMountDirs::Lease> Acquire(const std::string& id, Sharing sharing,
                                                 uint32_t mode = 0, uint32_t uid = 0,
                                                 uint32_t gid = 0) {
    auto lease = dirs_->Acquire(id, sharing, mode, uid, gid);
    EXPECT_TRUE(lease.ok()) << lease.status();
    return lease.ok() ? std::move(*lease) : nullptr;
  }
  static bool Exists(const std::string& path) {
    struct stat st {};
    return lstat(path.c_str(), &st) == 0;
  }
  std::string RealRoot() {
    char real[PATH_MAX];
    EXPECT_NE(realpath(root_.c_str(), real), nullptr);
    return real;
  }

  TempDir dir_;
  const std::string root_ = dir_.Sub("data/run-cache");
  std::unique_ptr<CacheMountDirs> dirs_;
};

TEST_F(CacheMountDirsTest, HostileIdsStayInsideTheRoot) {
  const std::string root = RealRoot();
  std::vector<std::string> paths;
  for (const std::string id : {"../x", "/etc", "a/../../b", "..", ".", "../../../../tmp/evil"}) {
    SCOPED_TRACE(id);
    auto lease = Acquire(id, Sharing::kShared);
    ASSERT_NE(lease, nullptr);
    const std::string& path = lease->path();
    ASSERT_EQ(path.substr(0, path.rfind('/')), root);
    EXPECT_EQ(path.size() - root.size() - 1, 64u) << path;  // sha256 hex
    char real[PATH_MAX];
    ASSERT_NE(realpath(path.c_str(), real), nullptr);
    EXPECT_EQ(std::string(real), path);
    WriteFile(path + "/sentinel", id);
    paths.push_back(path);
  }
  // Distinct ids, distinct directories.
  std::sort(paths.begin(), paths.end());
  EXPECT_EQ(std::unique(paths.begin(), paths.end()), paths.end());
  // Every sentinel is inside the root; nothing appeared beside it or in /etc.
  auto found = RunCommand("find " + ShellQuote(dir_.path()) + " -name sentinel | sort");
  ASSERT_EQ(found.exit_code, 0) << found.output;
  size_t count = 0;
  for (size_t at = 0; (at = found.output.find('\n', at)) != std::string::npos; ++at) ++count;
  EXPECT_EQ(count, 6u) << found.output;
  EXPECT_EQ(RunCommand("find " + ShellQuote(dir_.path()) + " -name sentinel -not -path " +
                       ShellQuote(root + "/*"))
                .output,
            "");
  EXPECT_EQ(RunCommand("ls -A " + ShellQuote(dir_.Sub("data"))).output, "run-cache\n");
  EXPECT_FALSE(Exists("/etc/sentinel"));
  EXPECT_FALSE(Exists("/tmp/evil"));
  EXPECT_EQ(dirs_->Acquire("", Sharing::kShared, 0, 0, 0).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(CacheMountDirsTest, LockedBlocksASecondAcquirerUntilRelease) {
  auto first = Acquire("locked-id", Sharing::kLocked);
  ASSERT_NE(first, nullptr);
  WriteFile(first->path() + "/by-first", "1");
  std::atomic<bool> acquired{false};
  std::string second_path;
  std::thread second([&] {
    auto lease = dirs_->Acquire("locked-id", Sharing::kLocked, 0, 0, 0);
    if (lease.ok()) second_path = (*lease)->path();
    acquired = true;
  });
  // Another id is not held up by this one, and a shared user of the same id is not either.
  auto other = Acquire("other-id", Sharing::kLocked);
  ASSERT_NE(other, nullptr);
  auto shared = Acquire("locked-id", Sharing::kShared);
  ASSERT_NE(shared, nullptr);
  EXPECT_EQ(shared->path(), first->path());
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  EXPECT_FALSE(acquired) << "the second locked acquirer did not wait";
  first.reset();
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!acquired && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_TRUE(acquired) << "the second locked acquirer was not let in after the release";
  if (!acquired) std::abort();  // joining would hang the test binary; fail loudly instead
  second.join();
  EXPECT_TRUE(Exists(second_path + "/by-first")) << second_path;
}

TEST_F(CacheMountDirsTest, PrivateIsFreshAndRemovedOnRelease) {
  auto shared = Acquire("p", Sharing::kShared);
  ASSERT_NE(shared, nullptr);
  WriteFile(shared->path() + "/cached", "x");
  auto a = Acquire("p", Sharing::kPrivate, 0700, 1234, 5678);
  auto b = Acquire("p", Sharing::kPrivate);
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  EXPECT_NE(a->path(), b->path());
  EXPECT_NE(a->path(), shared->path());
  EXPECT_TRUE(absl::StartsWith(a->path(), RealRoot() + "/")) << a->path();
  EXPECT_EQ(RunCommand("ls -A " + ShellQuote(a->path())).output, "");
  struct stat st {};
  ASSERT_EQ(stat(a->path().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0700u);
  EXPECT_EQ(st.st_uid, 1234u);
  EXPECT_EQ(st.st_gid, 5678u);
  WriteFile(a->path() + "/deep/scratch", "s");
  const std::string a_path = a->path(), b_path = b->path();
  a.reset();
  EXPECT_FALSE(Exists(a_path));
  EXPECT_TRUE(Exists(b_path));
  b.reset();
  EXPECT_FALSE(Exists(b_path));
  EXPECT_TRUE(Exists(shared->path() + "/cached"));
}

TEST_F(CacheMountDirsTest, SurvivesReCreateWithItsOwnerAndMode) {
  std::string path;
  {
    auto lease = Acquire("go-mod", Sharing::kShared, 0750, 1000, 1001);
    ASSERT_NE(lease, nullptr);
    path = lease->path();
    WriteFile(path + "/pkg/mod/cache.bin", "persisted");
  }
  // What a crash leaves: a private directory nobody holds, a half-created cache directory.
  const std::string leftover = RealRoot() + "/.private/abc-1-0";
  const std::string half = RealRoot() + "/.tmp-abc-1-1";
  WriteFile(leftover + "/f", "x");
  WriteFile(half + "/f", "x");
  dirs_.reset();  // a restart
  Open();
  EXPECT_FALSE(Exists(leftover));
  EXPECT_FALSE(Exists(half));
  auto again = Acquire("go-mod", Sharing::kLocked, 0700, 0, 0);
  ASSERT_NE(again, nullptr);
  EXPECT_EQ(again->path(), path);
  EXPECT_EQ(ReadFile(path + "/pkg/mod/cache.bin"), "persisted");
  struct stat st {};
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0750u) << "the first creation's mode is kept";
  EXPECT_EQ(st.st_uid, 1000u);
  EXPECT_EQ(st.st_gid, 1001u);
}

}  // namespace
}  // namespace slipway::build
