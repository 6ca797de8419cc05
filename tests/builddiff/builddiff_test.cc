// Differential tests of `slipway build` against buildah: every case of build_cases.cc is built
// by both from the same context and Dockerfile, and the images are compared entry by entry
// (path, type, mode incl. setuid/setgid/sticky, owner, size, sha256, symlink target, hard-link
// grouping, non-directory mtimes) plus the runtime config fields and the layer/history counts.
//
// BuildahSelfCheck builds each case twice with buildah in two independent stores and requires
// them equal: it proves the harness (context making, unpacking, comparing) is deterministic and
// runs even where slipway cannot build. SlipwayVsBuildah is the real test.
//
// Normalisations (the reasons are buildah's, not the builder's):
// - directory mtimes are not compared: buildah stamps created and touched parents with the
//   time of the step, which no two builds share;
// - buildah's own "io.buildah.version" label is dropped; null/""/[]/{} config values count as
//   absent;
// - setuid/setgid bits of entries copied from the context are ignored where a case says so
//   (buildah 1.28 loses them; see odd_modes_and_owners);
// - the config is taken from buildah's docker-format config (`buildah inspect`), because its
//   OCI config cannot carry HEALTHCHECK/ONBUILD; both builders get --format docker.

#include <unistd.h>

#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/builddiff/build_cases.h"
#include "tests/builddiff/buildah_store.h"
#include "tests/builddiff/context_writer.h"
#include "tests/builddiff/image_snapshot.h"
#include "tests/e2e/e2e_fixture.h"
#include "tests/support/subprocess.h"
#include "tests/support/temp_dir.h"

namespace slipway::testing {
namespace {

// The source directory (compile definition: __FILE__ is relative under ccache's base_dir).
std::string BuilddiffDir() { return BUILDDIFF_SOURCE_DIR; }

// One member of a tar, read with GNU tar ("" when absent).
std::string TarMember(const std::string& archive, const std::string& member) {
  ProcessResult r = RunProcess({"tar", "-xOf", archive, member}, {}, absl::Seconds(60));
  return r.exit_code == 0 ? r.out : "";
}

// The config blob of the single image in an OCI archive, following index.json → manifest.
std::string ConfigFromOciArchive(const std::string& archive) {
  auto index = nlohmann::json::parse(TarMember(archive, "index.json"), nullptr, false);
  if (!index.is_object() || !index.contains("manifests") || index["manifests"].empty()) return "";
  std::string manifest_digest = index["manifests"][0].value("digest", "");
  auto manifest = nlohmann::json::parse(
      TarMember(archive, "blobs/sha256/" + manifest_digest.substr(manifest_digest.find(':') + 1)),
      nullptr, false);
  if (!manifest.is_object() || !manifest.contains("config")) return "";
  std::string config_digest = manifest["config"].value("digest", "");
  return TarMember(archive, "blobs/sha256/" + config_digest.substr(config_digest.find(':') + 1));
}

// The base image layout and two buildah stores holding it, made once per test process and
// removed when it exits (each case runs in a process of its own: a leaked world would leave
// some 20 MB in the temp dir per case).
struct BuildahWorld {
  TempDir dir;
  std::string base_layout;
  std::unique_ptr<BuildahStore> a, b;
  std::string error;  // non-empty: setting up failed
};

BuildahWorld& World() {
  static const std::unique_ptr<BuildahWorld> world = [] {
    auto w = std::make_unique<BuildahWorld>();
    w->base_layout = w->dir.Sub("base-oci");
    ProcessResult r = RunProcess(
        {"/bin/bash", BuilddiffDir() + "/make_base_image.sh", w->base_layout, "1"}, {},
        absl::Seconds(120));
    if (r.exit_code != 0) {
      w->error = "make_base_image.sh failed: " + r.err;
      return w;
    }
    for (auto* store : {&w->a, &w->b}) {
      auto s = BuildahStore::Create(w->base_layout, "1", kBaseImageName);
      if (!s.ok()) {
        w->error = std::string(s.status().message());
        return w;
      }
      *store = *std::move(s);
    }
    return w;
  }();
  return *world;
}

// Writes the case's context under `dir`/ctx and its Dockerfile at `dir`/Dockerfile.
BuildRequest PrepareCase(const BuildCase& c, const std::string& dir) {
  BuildRequest request;
  request.context_dir = dir + "/ctx";
  request.dockerfile = dir + "/Dockerfile";
  ContextWriter writer(request.context_dir);
  writer.Dir("");
  c.make_context(writer);
  WriteFile(request.dockerfile, c.dockerfile);
  request.build_args = c.build_args;
  request.target = c.target;
  return request;
}

// The request buildah builds: the case's, or its buildah_dockerfile variant.
BuildRequest ForBuildah(const BuildCase& c, BuildRequest request, const std::string& dir) {
  if (c.buildah_dockerfile.empty()) return request;
  request.dockerfile = dir + "/Dockerfile.buildah";
  WriteFile(request.dockerfile, c.buildah_dockerfile);
  return request;
}

// With BUILDDIFF_DUMP_DIR set, writes the snapshot's listing to <dir>/<case>.<who>.txt (for
// reading what each builder produced).
void MaybeDump(const std::string& case_name, const std::string& who, const ImageSnapshot& snap) {
  const char* dir = std::getenv("BUILDDIFF_DUMP_DIR");
  if (dir == nullptr || *dir == '\0') return;
  WriteFile(absl::StrCat(dir, "/", case_name, ".", who, ".txt"), FormatSnapshot(snap));
}

std::string Joined(const std::vector<std::string>& lines) { return absl::StrJoin(lines, "\n"); }

class BuildDiffTest : public ::testing::TestWithParam<size_t> {
 protected:
  const BuildCase& Case() const { return BuildCases()[GetParam()]; }
  TempDir dir_;
};

std::string CaseName(const ::testing::TestParamInfo<size_t>& info) {
  return BuildCases()[info.param].name;
}

TEST_P(BuildDiffTest, BuildahSelfCheck) {
  BuildahWorld& world = World();
  ASSERT_TRUE(world.error.empty()) << world.error;
  const BuildCase& c = Case();
  BuildRequest request = ForBuildah(c, PrepareCase(c, dir_.path()), dir_.path());
  ASSERT_FALSE(HasFailure());
  ASSERT_EQ(::mkdir(dir_.Sub("a").c_str(), 0700), 0);
  ASSERT_EQ(::mkdir(dir_.Sub("b").c_str(), 0700), 0);
  auto first = world.a->Build(request, "localhost/case-" + c.name + ":a", dir_.Sub("a"));
  ASSERT_TRUE(first.ok()) << first.status();
  auto second = world.b->Build(request, "localhost/case-" + c.name + ":b", dir_.Sub("b"));
  ASSERT_TRUE(second.ok()) << second.status();
  MaybeDump(c.name, "buildah", *first);
  // The build did something: more than the base's one layer or a changed config.
  EXPECT_GT(first->fs.size(), 10u);
  std::vector<std::string> diff = DiffImages(*first, "buildah#1", *second, "buildah#2", c.diff);
  EXPECT_TRUE(diff.empty()) << "two buildah builds of " << c.name << " differ:\n" << Joined(diff);
}

TEST_P(BuildDiffTest, SlipwayVsBuildah) {
  const BuildCase& c = Case();
  BuildRequest request = PrepareCase(c, dir_.path());
  ASSERT_FALSE(HasFailure());

  std::unique_ptr<SlipwaydProcess> server = StartSlipwayd();
  ASSERT_NE(server, nullptr);
  std::map<std::string, std::string> env = {{"SLIPWAY_ADDR", server->address()}};
  auto slipway = [&](std::vector<std::string> args) {
    args.insert(args.begin(), SLIPWAY_BIN);
    return RunProcess(args, env, absl::Seconds(300));
  };
  std::string base_layout = dir_.Sub("base-oci");
  ProcessResult r = RunProcess({"/bin/bash", BuilddiffDir() + "/make_base_image.sh", base_layout, "1"},
                               {}, absl::Seconds(120));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = slipway({"import", base_layout, "-t", kBaseImageName});
  ASSERT_EQ(r.exit_code, 0) << "slipway import of the base failed: " << r.err << r.out;

  std::vector<std::string> args = {"build", "-f", request.dockerfile, "-t",
                                   "localhost/case:1", "--format", "docker"};
  for (const auto& [k, v] : request.build_args) {
    args.push_back("--build-arg");
    args.push_back(k + "=" + v);
  }
  if (!request.target.empty()) {
    args.push_back("--target");
    args.push_back(request.target);
  }
  args.push_back(request.context_dir);
  r = slipway(args);
  ASSERT_EQ(r.exit_code, 0) << "slipway build failed for case " << c.name << " (exit "
                            << r.exit_code << (r.timed_out ? ", timed out after 300 s" : "")
                            << "): " << absl::StripAsciiWhitespace(r.err) << r.out;
  EXPECT_TRUE(absl::StrContains(r.out, "context: ")) << r.out;
  EXPECT_TRUE(absl::StrContains(r.out, "built sha256:")) << r.out;

  std::string archive = dir_.Sub("slipway.tar");
  r = slipway({"export", "localhost/case:1", "--format", "oci", "-o", archive});
  ASSERT_EQ(r.exit_code, 0) << "slipway export failed: " << r.err << r.out;
  ASSERT_EQ(::mkdir(dir_.Sub("s").c_str(), 0700), 0);
  std::string layout = dir_.Sub("s/oci");
  r = RunProcess({"skopeo", "--insecure-policy", "copy", "-q", "oci-archive:" + archive,
                  "oci:" + layout + ":img"},
                 {}, absl::Seconds(120));
  ASSERT_EQ(r.exit_code, 0) << "skopeo could not read slipway's OCI archive: " << r.err;
  auto ours = LoadOciImage(layout, "img", dir_.Sub("s"));
  ASSERT_TRUE(ours.ok()) << ours.status();
  // skopeo converts a Docker-typed manifest to OCI on its way into an oci: layout, and an OCI
  // config has no Healthcheck or OnBuild: the config compared is the one slipway exported.
  std::string config_text = ConfigFromOciArchive(archive);
  ASSERT_FALSE(config_text.empty()) << "no config found in " << archive;
  ASSERT_TRUE(ReadImageConfig(config_text, &*ours).ok());

  BuildahWorld& world = World();
  ASSERT_TRUE(world.error.empty()) << world.error;
  ASSERT_EQ(::mkdir(dir_.Sub("a").c_str(), 0700), 0);
  auto reference = world.a->Build(ForBuildah(c, request, dir_.path()),
                                  "localhost/case-" + c.name + ":a", dir_.Sub("a"));
  ASSERT_TRUE(reference.ok()) << reference.status();
  MaybeDump(c.name, "buildah", *reference);
  MaybeDump(c.name, "slipway", *ours);
  std::vector<std::string> diff = DiffImages(*reference, "buildah", *ours, "slipway", c.diff);
  EXPECT_TRUE(diff.empty()) << "slipway and buildah differ on " << c.name << ":\n" << Joined(diff);
}

INSTANTIATE_TEST_SUITE_P(Cases, BuildDiffTest, ::testing::Range<size_t>(0, BuildCases().size()),
                         CaseName);

// The comparer itself must be able to fail: every compared property is changed once.
TEST(BuildDiffComparer, ReportsEveryKindOfDifference) {
  TempDir dir;
  ContextWriter w(dir.path());
  w.File("f", "content\n", 04755, 1, 2);
  w.Hardlink("f2", "f");
  w.Symlink("l", "f");
  w.Dir("d", 0750);
  auto snap = SnapshotTree(dir.path());
  ASSERT_TRUE(snap.ok()) << snap.status();
  ASSERT_EQ(snap->size(), 4u);
  EXPECT_EQ((*snap)["/f"].mode, 04755u);
  EXPECT_EQ((*snap)["/f"].uid, 1u);
  EXPECT_EQ((*snap)["/f2"].hardlink_group, "/f");
  EXPECT_EQ((*snap)["/l"].link, "f");
  EXPECT_EQ((*snap)["/d"].type, 'd');

  ImageSnapshot base;
  base.fs = *snap;
  base.config = NormalizeConfig(nlohmann::json::parse(
      R"({"Env":["A=1"],"Cmd":null,"Labels":{"io.buildah.version":"1.28.2","x":"y"}})"));
  EXPECT_EQ(base.config.dump(), R"({"Env":["A=1"],"Labels":{"x":"y"}})");
  DiffOptions options;
  EXPECT_TRUE(DiffImages(base, "a", base, "b", options).empty());

  auto changed = [&](auto mutate) {
    ImageSnapshot other = base;
    mutate(other);
    return DiffImages(base, "a", other, "b", options);
  };
  EXPECT_EQ(changed([](ImageSnapshot& s) { s.fs["/f"].mode = 0755; }).size(), 1u);
  EXPECT_EQ(changed([](ImageSnapshot& s) { s.fs["/d"].gid = 9; }).size(), 1u);
  EXPECT_EQ(changed([](ImageSnapshot& s) { s.fs["/f"].sha256 = "00"; }).size(), 1u);
  EXPECT_EQ(changed([](ImageSnapshot& s) { s.fs["/l"].link = "/f"; }).size(), 1u);
  EXPECT_EQ(changed([](ImageSnapshot& s) { s.fs["/f2"].hardlink_group.clear(); }).size(), 1u);
  EXPECT_EQ(changed([](ImageSnapshot& s) { s.fs["/f"].mtime += 1; }).size(), 1u);
  EXPECT_EQ(changed([](ImageSnapshot& s) { s.fs.erase("/l"); }).size(), 1u);
  EXPECT_EQ(changed([](ImageSnapshot& s) { s.config["User"] = "app"; }).size(), 1u);
  EXPECT_EQ(changed([](ImageSnapshot& s) { s.layers = 3; }).size(), 1u);
  auto lines = changed([](ImageSnapshot& s) { s.fs["/f"].mode = 0755; });
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_TRUE(absl::StrContains(lines[0], "-rwsr-xr-x")) << lines[0];

  // Excused runtime placeholders: only the listed paths, only when empty, only in `a`.
  options.reference_may_add_empty = {"/d"};
  EXPECT_TRUE(changed([](ImageSnapshot& s) { s.fs.erase("/d"); }).empty());
  EXPECT_EQ(DiffImages([&] { ImageSnapshot s = base; s.fs.erase("/d"); return s; }(), "a", base,
                       "b", options).size(), 1u);
  ImageSnapshot full = base;
  full.fs["/d/x"] = base.fs.at("/f");
  EXPECT_EQ(DiffImages(full, "a", [&] {
              ImageSnapshot s = full;
              s.fs.erase("/d");
              s.fs.erase("/d/x");
              return s;
            }(), "b", options).size(), 2u);
  options.reference_may_add_empty.clear();
  options.ignore_hardlink_grouping_of = {"/f2"};
  EXPECT_TRUE(changed([](ImageSnapshot& s) { s.fs["/f2"].hardlink_group.clear(); }).empty());
  options.ignore_hardlink_grouping_of.clear();

  options.ignore_setid_under = {"/f"};
  EXPECT_TRUE(changed([](ImageSnapshot& s) { s.fs["/f"].mode = 0755; }).empty());
  EXPECT_EQ(changed([](ImageSnapshot& s) { s.fs["/f"].mode = 04700; }).size(), 1u);
}

}  // namespace
}  // namespace slipway::testing
