// PLUGIN_ENV_FILE parsing: quotes, comments, export, escapes, errors with line numbers.
#include "client/step/dotenv.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/step/step_test_env.h"
#include "tests/support/temp_dir.h"

namespace slipway::client::step {
namespace {

using ::testing::ElementsAre;
using ::testing::Pair;

TEST(DotenvTest, ParsesTheGodotenvForms) {
  auto e = ParseDotenv(
      "# a comment\n"
      "\n"
      "PLAIN=value\n"
      "  SPACED  =  padded value  \n"
      "export EXPORTED=yes\n"
      "SINGLE='it''s $HOME \\n raw'\n"
      "DOUBLE=\"line1\\nline2 \\\"q\\\" \\\\ \\$x\"\n"
      "INLINE=value # trailing comment\n"
      "HASH=a#b\n"
      "QUOTED_HASH=\"a # b\"\n"
      "EQUALS=a=b=c\n"
      "EMPTY=\n"
      "COLON: yaml-style\n"
      "MULTI=\"first\n"
      "second\"\n"
      "CRLF=dos\r\n",
      "step.env");
  ASSERT_TRUE(e.ok()) << e.status();
  EXPECT_THAT(
      *e,
      ElementsAre(Pair("PLAIN", "value"), Pair("SPACED", "padded value"), Pair("EXPORTED", "yes"),
                  Pair("SINGLE", "it"), Pair("DOUBLE", "line1\nline2 \"q\" \\ $x"),
                  Pair("INLINE", "value"), Pair("HASH", "a#b"), Pair("QUOTED_HASH", "a # b"),
                  Pair("EQUALS", "a=b=c"), Pair("EMPTY", ""), Pair("COLON", "yaml-style"),
                  Pair("MULTI", "first\nsecond"), Pair("CRLF", "dos")));
}

TEST(DotenvTest, SingleQuotesAreLiteral) {
  auto e = ParseDotenv("A='$B \\n \"x\"'\n", "f");
  ASSERT_TRUE(e.ok()) << e.status();
  EXPECT_THAT(*e, ElementsAre(Pair("A", "$B \\n \"x\"")));
}

TEST(DotenvTest, ExpandsReferencesFromTheFileThenTheEnvironment) {
  auto e = ParseDotenv(
      "BASE=reg.example.com\n"
      "REPO=${BASE}/team/$NAME\n"
      "TAGS=\"${DRONE_TAG},latest \\$HOME\"\n"
      "LITERAL='${BASE}'\n"
      "MISSING=[${NOPE}] $ alone ${bad-name}\n",
      "f", LookupIn({{"NAME", "app"}, {"DRONE_TAG", "v1.2.3"}, {"BASE", "env-loses"}}));
  ASSERT_TRUE(e.ok()) << e.status();
  EXPECT_THAT(*e,
              ElementsAre(Pair("BASE", "reg.example.com"), Pair("REPO", "reg.example.com/team/app"),
                          Pair("TAGS", "v1.2.3,latest $HOME"), Pair("LITERAL", "${BASE}"),
                          Pair("MISSING", "[] $ alone ${bad-name}")));
}

TEST(DotenvTest, ErrorsNameFileAndLine) {
  EXPECT_EQ(ParseDotenv("A=1\nnot a pair\n", "step.env").status().message(),
            "step.env:2: expected KEY=VALUE");
  EXPECT_EQ(ParseDotenv("A=1\n\n1BAD=x\n", "step.env").status().message(),
            "step.env:3: invalid key \"1BAD\"");
  EXPECT_EQ(ParseDotenv("A='open\n", "step.env").status().message(),
            "step.env:1: unterminated ' in A");
  EXPECT_EQ(ParseDotenv("B=\"open\nstill\n", "step.env").status().message(),
            "step.env:1: unterminated \" in B");
  EXPECT_EQ(ParseDotenv("exportA=1\n", "e").status().message(),
            "e:1: expected KEY=VALUE after \"export\"");
}

TEST(DotenvTest, EnvFileFeedsTheSettingsBelowTheEnvironment) {
  slipway::testing::TempDir dir;
  slipway::testing::WriteFile(dir.Sub("ci.env"),
                              "export PLUGIN_REPO=reg.example.com/from/file\n"
                              "PLUGIN_TAGS=\"1.0,file\"\n"
                              "PLUGIN_TARGET='file-target' # comment\n"
                              "PLUGIN_dry_run=true\n"
                              "PLUGIN_UNKNOWN_THING=1\n"
                              "BUILD_VERSION=from-file\n"
                              "PLUGIN_BUILD_ARGS=VERSION=1,BUILD_VERSION\n");
  auto s = Parse({{"PLUGIN_ENV_FILE", dir.Sub("ci.env")}, {"PLUGIN_TAGS", "env"}},
                 {"--target", "flag-target"});
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->repo, "reg.example.com/from/file");
  EXPECT_THAT(s->tags, ElementsAre("env"));
  EXPECT_EQ(s->target, "flag-target");
  EXPECT_EQ(s->mode, StepSettings::Mode::kBuildOnly);
  EXPECT_THAT(s->build_args, ElementsAre(Pair("BUILD_VERSION", "from-file"), Pair("VERSION", "1")));
  EXPECT_THAT(s->ignored, ElementsAre("PLUGIN_UNKNOWN_THING"));
  // --env-file works too; a bad file is named with its line.
  slipway::testing::WriteFile(dir.Sub("bad.env"), "PLUGIN_REPO=x\noops\n");
  EXPECT_EQ(ErrorOf({}, {"--env-file", dir.Sub("bad.env")}),
            dir.Sub("bad.env") + ":2: expected KEY=VALUE");
}

}  // namespace
}  // namespace slipway::client::step
