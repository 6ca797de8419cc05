// Heredoc COPY, ADD of local archives (through a stand-in extractor; the real one is exercised by
// copy_integration_test) and ADD <url> against a real HTTP server on 127.0.0.1.

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/build/copy_planner_internal.h"
#include "server/build/url_source.h"
#include "storage/digest.h"
#include "tests/buildplan/memory_tree.h"
#include "tests/buildplan/plan_helpers.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_http_server.h"

namespace slipway::testing {
namespace {

using build::CopyCommand;
using build::CopyPlanRequest;
using build::EntryType;
using build::LayerEntry;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

class CopyAddTest : public ::testing::Test {
 protected:
  void SetUp() override {
    FillContext(context_);
    FillRootfs(rootfs_);
  }
  absl::StatusOr<std::vector<LayerEntry>> Plan(const CopyCommand& cmd) {
    CopyPlanRequest request;
    request.command = &cmd;
    request.source = &context_;
    request.rootfs = &rootfs_;
    request.workdir = "/app";
    request.owner = owner_;
    request.source_date_epoch = epoch_;
    return build::PlanCopyWithDeps(request, staging_.path(), deps_);
  }
  static build::Heredoc Doc(std::string name, std::string content) {
    build::Heredoc h;
    h.name = std::move(name);
    h.content = std::move(content);
    return h;
  }

  MemoryTree context_, rootfs_;
  TempDir staging_;
  build::CopyPlannerDeps deps_ = TestDeps();
  build::Ownership owner_;
  std::optional<int64_t> epoch_;
};

// ---- heredocs ----

TEST_F(CopyAddTest, HeredocBecomesAFileNamedByTheDestination) {
  CopyCommand cmd;
  cmd.sources = {"<<EOF"};
  cmd.destination = "/etc/motd";
  cmd.heredocs = {Doc("EOF", "hello\nworld\n")};
  auto entries = Plan(cmd);
  ASSERT_TRUE(entries.ok()) << entries.status();
  ASSERT_THAT(Shape(*entries), ElementsAre("etc:d", "etc/motd:f"));
  const LayerEntry& f = (*entries)[1];
  EXPECT_EQ(f.mode, 0644u);
  EXPECT_EQ(f.uid, 0u);
  EXPECT_EQ(f.size, 12);
  EXPECT_EQ(ReadFile(f.source_path), "hello\nworld\n");
  EXPECT_EQ(f.content_digest, Sha256Of("hello\nworld\n").ToString());
  EXPECT_EQ(f.mtime_unix_nanos, kNow);
  // /etc exists in the stage: re-emitted unchanged.
  EXPECT_EQ((*entries)[0].mtime_unix_nanos, 6000000000);
}

TEST_F(CopyAddTest, HeredocIntoADirectoryIsNamedAfterTheHeredoc) {
  CopyCommand cmd;
  cmd.sources = {"<<-'script.sh'"};
  cmd.destination = "bin/";
  cmd.chmod = 0755;
  cmd.heredocs = {Doc("script.sh", "echo hi\n")};
  auto entries = Plan(cmd);
  ASSERT_TRUE(entries.ok()) << entries.status();
  EXPECT_THAT(Shape(*entries), ElementsAre("app:d", "app/bin:d", "app/bin/script.sh:f"));
  EXPECT_EQ(ByPath(*entries)["app/bin/script.sh"].mode, 0755u);
}

TEST_F(CopyAddTest, TwoHeredocsMakeADirectoryWithChownAndEpoch) {
  CopyCommand cmd;
  cmd.sources = {"<<A", "<<B"};
  cmd.destination = "/conf";
  cmd.chown = "app";
  owner_ = {1000, 1001};
  epoch_ = 2;
  cmd.heredocs = {Doc("A", "a\n"), Doc("B", "b\n")};
  auto entries = Plan(cmd);
  ASSERT_TRUE(entries.ok()) << entries.status();
  EXPECT_THAT(Shape(*entries), ElementsAre("conf:d", "conf/A:f", "conf/B:f"));
  for (const LayerEntry& e : *entries) {
    EXPECT_EQ(e.uid, 1000u) << e.path;
    EXPECT_EQ(e.gid, 1001u) << e.path;
    EXPECT_EQ(e.mtime_unix_nanos, 2000000000) << e.path;
  }
  EXPECT_EQ(ReadFile(ByPath(*entries)["conf/B"].source_path), "b\n");
}

TEST_F(CopyAddTest, HeredocsNotListedAsSourcesAreStillCopied) {
  CopyCommand cmd;
  cmd.destination = "/x.txt";
  cmd.heredocs = {Doc("EOF", "body\n")};
  auto entries = Plan(cmd);
  ASSERT_TRUE(entries.ok()) << entries.status();
  EXPECT_THAT(Shape(*entries), ElementsAre("x.txt:f"));
}

TEST_F(CopyAddTest, HeredocMarkerWithoutBodyIsInvalid) {
  CopyCommand cmd;
  cmd.sources = {"<<EOF"};
  cmd.destination = "/x";
  auto entries = Plan(cmd);
  EXPECT_EQ(entries.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(entries.status().message(), HasSubstr("<<EOF"));
}

// ---- ADD of local files (stand-in archive detector/extractor) ----

class StandInArchives : public CopyAddTest {
 protected:
  void SetUp() override {
    CopyAddTest::SetUp();
    context_.File("pkg.tar", "pretend tar");
    deps_.is_archive = [](const std::string& path) -> absl::StatusOr<bool> {
      return path == "mem:pkg.tar";
    };
    deps_.extract_archive = [this](const std::string& path, const std::string& staging,
                                   std::optional<build::LayerEntry>*)
        -> absl::StatusOr<std::unique_ptr<build::SourceTree>> {
      extracted_from_ = path;
      extracted_into_ = staging;
      auto tree = std::make_unique<MemoryTree>();
      tree->Dir("usr", 0755, 0, 0)
          .Dir("usr/bin", 0711, 7, 8)
          .File("usr/bin/tool", "elf", 0755, 7, 8)
          .Hardlink("usr/bin/tool2", "usr/bin/tool")
          .Symlink("usr/bin/t", "tool", 7, 8);
      return tree;
    };
  }
  std::string extracted_from_, extracted_into_;
};

TEST_F(StandInArchives, ArchiveIsUnpackedIntoTheDestinationKeepingItsMetadata) {
  CopyCommand cmd;
  cmd.is_add = true;
  cmd.sources = {"pkg.tar"};
  cmd.destination = "/opt";
  cmd.chmod = 0600;  // not applied to unpacked entries
  auto entries = Plan(cmd);
  ASSERT_TRUE(entries.ok()) << entries.status();
  EXPECT_THAT(Shape(*entries),
              ElementsAre("opt:d", "opt/usr:d", "opt/usr/bin:d", "opt/usr/bin/t:l",
                          "opt/usr/bin/tool:f", "opt/usr/bin/tool2:h"));
  auto by = ByPath(*entries);
  EXPECT_EQ(by["opt/usr/bin"].mode, 0711u);
  EXPECT_EQ(by["opt/usr/bin/tool"].uid, 7u);
  EXPECT_EQ(by["opt/usr/bin/tool"].mode, 0755u);
  EXPECT_EQ(by["opt/usr/bin/tool2"].link_target, "opt/usr/bin/tool");
  EXPECT_EQ(extracted_from_, "mem:pkg.tar");
  EXPECT_EQ(extracted_into_.rfind(staging_.path(), 0), 0u) << extracted_into_;
}

TEST_F(StandInArchives, ChownAppliesToUnpackedEntries) {
  CopyCommand cmd;
  cmd.is_add = true;
  cmd.sources = {"pkg.tar"};
  cmd.destination = "/opt/";
  cmd.chown = "3:4";
  owner_ = {3, 4};
  auto entries = Plan(cmd);
  ASSERT_TRUE(entries.ok()) << entries.status();
  for (const LayerEntry& e : *entries) EXPECT_EQ(e.uid, 3u) << e.path;
}

TEST_F(StandInArchives, NonArchiveFilesAreCopiedAndDirectoriesNeverUnpacked) {
  CopyCommand cmd;
  cmd.is_add = true;
  cmd.sources = {"a.txt", "dir2"};
  cmd.destination = "/d/";
  auto entries = Plan(cmd);
  ASSERT_TRUE(entries.ok()) << entries.status();
  EXPECT_THAT(Shape(*entries), ElementsAre("d:d", "d/a.txt:f", "d/x:f"));
  EXPECT_TRUE(extracted_from_.empty());
}

TEST_F(StandInArchives, CopyNeverUnpacks) {
  CopyCommand cmd;
  cmd.sources = {"pkg.tar"};
  cmd.destination = "/opt/";
  auto entries = Plan(cmd);
  ASSERT_TRUE(entries.ok()) << entries.status();
  EXPECT_THAT(Shape(*entries), ElementsAre("opt:d", "opt/pkg.tar:f"));
}

// ---- ADD <url> with the real downloader ----

class AddUrlTest : public CopyAddTest {
 protected:
  void SetUp() override {
    CopyAddTest::SetUp();
    deps_.download_url = [](const build::UrlDownloadRequest& r) { return build::DownloadUrl(r); };
    auto server = TestHttpServer::Start([this](const HttpRequest& request) {
      HttpResponse response;
      {
        absl::MutexLock lock(&mu_);
        requests_.push_back(request.head.target);
      }
      if (request.path() == "/files/tool.bin") {
        response.body = kBody;
        response.headers.emplace_back("Last-Modified", "Wed, 21 Oct 2015 07:28:00 GMT");
      } else if (request.path() == "/plain") {
        response.body = "no date";
      } else if (request.path() == "/moved") {
        response.status = 302;
        response.headers.emplace_back("Location", "/files/tool.bin");
      } else if (request.path() == "/") {
        response.body = "index";
      } else {
        response.status = 404;
        response.body = "not here";
      }
      return response;
    });
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = std::move(*server);
  }
  CopyCommand Add(std::string url, std::string dest) {
    CopyCommand cmd;
    cmd.is_add = true;
    cmd.sources = {std::move(url)};
    cmd.destination = std::move(dest);
    return cmd;
  }

  static constexpr char kBody[] = "binary payload\x01\x02";
  absl::Mutex mu_;
  std::vector<std::string> requests_;
  std::unique_ptr<TestHttpServer> server_;
};

TEST_F(AddUrlTest, DownloadsIntoDirectoryWithUrlFileName0600AndLastModified) {
  auto entries = Plan(Add(server_->url() + "/files/tool.bin?token=secret", "/dl/"));
  ASSERT_TRUE(entries.ok()) << entries.status();
  ASSERT_THAT(Shape(*entries), ElementsAre("dl:d", "dl/tool.bin:f"));
  const LayerEntry& f = (*entries)[1];
  EXPECT_EQ(f.mode, 0600u);
  EXPECT_EQ(f.uid, 0u);
  EXPECT_EQ(f.mtime_unix_nanos, int64_t{1445412480} * 1000000000);
  EXPECT_EQ(ReadFile(f.source_path), std::string(kBody));
  EXPECT_EQ(f.size, static_cast<int64_t>(std::string(kBody).size()));
  EXPECT_EQ(f.content_digest, Sha256Of(kBody).ToString());
  EXPECT_EQ(f.source_path.rfind(staging_.path(), 0), 0u);
}

TEST_F(AddUrlTest, DestinationWithoutSlashNamesTheFileAndChmodApplies) {
  CopyCommand cmd = Add(server_->url() + "/plain", "renamed");
  cmd.chmod = 0755;
  auto entries = Plan(cmd);
  ASSERT_TRUE(entries.ok()) << entries.status();
  ASSERT_THAT(Shape(*entries), ElementsAre("app:d", "app/renamed:f"));
  EXPECT_EQ((*entries)[1].mode, 0755u);
  EXPECT_EQ((*entries)[1].mtime_unix_nanos, kNow);  // no Last-Modified: the step's time
}

TEST_F(AddUrlTest, ChecksumMatchesAndRedirectsAreFollowed) {
  CopyCommand cmd = Add(server_->url() + "/moved", "/t.bin");
  cmd.checksum = Sha256Of(kBody).ToString();
  auto entries = Plan(cmd);
  ASSERT_TRUE(entries.ok()) << entries.status();
  EXPECT_THAT(Shape(*entries), ElementsAre("t.bin:f"));
}

TEST_F(AddUrlTest, ChecksumMismatchNamesUrlAndBothDigestsAndLeavesNoFile) {
  std::string wrong = Sha256Of("something else").ToString();
  CopyCommand cmd = Add(server_->url() + "/files/tool.bin?token=secret", "/t.bin");
  cmd.checksum = wrong;
  auto entries = Plan(cmd);
  ASSERT_EQ(entries.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(entries.status().message(), HasSubstr("/files/tool.bin"));
  EXPECT_THAT(entries.status().message(), ::testing::Not(HasSubstr("secret")));
  EXPECT_THAT(entries.status().message(), HasSubstr(wrong));
  EXPECT_THAT(entries.status().message(), HasSubstr(Sha256Of(kBody).ToString()));
  EXPECT_FALSE(std::filesystem::exists(staging_.path() + "/url-0/download"));
}

TEST_F(AddUrlTest, MalformedChecksumIsInvalid) {
  CopyCommand cmd = Add(server_->url() + "/plain", "/t");
  cmd.checksum = "md5:abc";
  EXPECT_EQ(Plan(cmd).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(AddUrlTest, MissingUrlIsNotFound) {
  auto entries = Plan(Add(server_->url() + "/nothing.tgz", "/t"));
  EXPECT_EQ(entries.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(entries.status().message(), HasSubstr("404"));
}

TEST_F(AddUrlTest, UrlWithoutFileNameIntoDirectoryIsInvalid) {
  auto entries = Plan(Add(server_->url() + "/", "/d/"));
  EXPECT_EQ(entries.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(AddUrlTest, DownloadedFilesAreNeverUnpacked) {
  deps_.is_archive = [](const std::string&) -> absl::StatusOr<bool> {
    ADD_FAILURE() << "a URL download was probed as an archive";
    return true;
  };
  auto entries = Plan(Add(server_->url() + "/plain", "/d/"));
  ASSERT_TRUE(entries.ok()) << entries.status();
  EXPECT_THAT(Shape(*entries), ElementsAre("d:d", "d/plain:f"));
}

TEST(UrlSourceTest, FileNames) {
  EXPECT_EQ(build::UrlFileName("https://h/a/b.tar.gz?x=1#f"), "b.tar.gz");
  EXPECT_EQ(build::UrlFileName("http://h:8080/x"), "x");
  EXPECT_EQ(build::UrlFileName("http://h/dir/"), "");
  EXPECT_EQ(build::UrlFileName("http://h"), "");
  EXPECT_TRUE(build::IsHttpUrl("HTTPS://example.com/x"));
  EXPECT_FALSE(build::IsHttpUrl("git@github.com:x/y.git"));
  EXPECT_FALSE(build::IsHttpUrl("./http://x"));
}

TEST(UrlSourceTest, RefusedConnectionIsUnavailable) {
  TempDir staging;
  // Bind an ephemeral port, then close the server so nothing listens there.
  auto server = TestHttpServer::Start([](const HttpRequest&) { return HttpResponse{}; });
  ASSERT_TRUE(server.ok());
  std::string url = (*server)->url() + "/x";
  (*server)->Stop();
  server->reset();
  build::UrlDownloadRequest request;
  request.url = url;
  request.staging_dir = staging.Sub("s");
  request.connect_timeout = absl::Seconds(5);
  request.timeout = absl::Seconds(10);
  auto result = build::DownloadUrl(request);
  EXPECT_EQ(result.status().code(), absl::StatusCode::kUnavailable) << result.status();
}

TEST(UrlSourceTest, SizeCapIsEnforced) {
  TempDir staging;
  auto server = TestHttpServer::Start([](const HttpRequest&) {
    HttpResponse r;
    r.body = std::string(100000, 'z');
    return r;
  });
  ASSERT_TRUE(server.ok());
  build::UrlDownloadRequest request;
  request.url = (*server)->url() + "/big";
  request.staging_dir = staging.Sub("s");
  request.max_bytes = 1000;
  auto result = build::DownloadUrl(request);
  EXPECT_EQ(result.status().code(), absl::StatusCode::kResourceExhausted) << result.status();
  EXPECT_FALSE(std::filesystem::exists(staging.Sub("s/download")));
}

}  // namespace
}  // namespace slipway::testing
