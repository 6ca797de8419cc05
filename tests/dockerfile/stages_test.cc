// Stages and ARG/ENV scoping: the reference's "Scope", "Using ARG variables" and "Predefined
// ARGs"/"Automatic platform ARGs" examples, walked the way the builder's executor walks them.
#include "server/build/dockerfile/stages.h"

#include <map>
#include <ostream>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/build/dockerfile/commands.h"

namespace slipway::build {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Pair;
using ::testing::StartsWith;

absl::StatusOr<StagePlan> Plan(const std::string& text,
                               std::map<std::string, std::string> build_args = {},
                               PlatformArgs platform = {}) {
  auto parsed = ParseDockerfile(text, "Dockerfile");
  if (!parsed.ok()) return parsed.status();
  return PlanStages(*parsed, build_args, platform);
}

// Applies ARG and ENV of one stage to `scope` and returns the expanded value of every USER
// (the reference's examples print values with USER or RUN echo).
std::vector<std::string> Walk(const StageDefinition& stage, StageScope& scope) {
  std::vector<std::string> users;
  for (const Instruction& in : stage.instructions) {
    auto command = ToCommand(in, "Dockerfile", scope.Lookup(), '\\');
    EXPECT_TRUE(command.ok()) << command.status();
    if (!command.ok()) continue;
    if (auto* arg = std::get_if<ArgCommand>(&command->body)) {
      for (const auto& a : arg->args) scope.DeclareArg(a.name, a.default_value);
    } else if (auto* env = std::get_if<EnvCommand>(&command->body)) {
      for (const auto& [k, v] : env->vars) scope.SetEnv(k, v);
    } else if (auto* user = std::get_if<UserCommand>(&command->body)) {
      users.push_back(user->user);
    }
  }
  return users;
}

TEST(StagesTest, ScopeExampleArgOnlyAfterDeclaration) {
  const std::string text =
      "FROM busybox\nUSER ${username:-some_user}\nARG username\nUSER $username\n";
  auto plan = Plan(text, {{"username", "what_user"}});
  ASSERT_TRUE(plan.ok()) << plan.status();
  StageScope scope(*plan, {});
  EXPECT_THAT(Walk(plan->stages[0], scope), ElementsAre("some_user", "what_user"));
}

TEST(StagesTest, ArgInOneStageIsNotInTheNext) {
  auto plan = Plan("FROM busybox\nARG SETTINGS\nUSER a$SETTINGS\nFROM busybox\nUSER b$SETTINGS\n",
                   {{"SETTINGS", "x"}});
  ASSERT_TRUE(plan.ok()) << plan.status();
  StageScope first(*plan, {}), second(*plan, {});
  EXPECT_THAT(Walk(plan->stages[0], first), ElementsAre("ax"));
  EXPECT_THAT(Walk(plan->stages[1], second), ElementsAre("b"));
}

TEST(StagesTest, EnvOverridesArg) {
  const std::string text =
      "FROM ubuntu\nARG CONT_IMG_VER\nENV CONT_IMG_VER=v1.0.0\nUSER $CONT_IMG_VER\n";
  auto plan = Plan(text, {{"CONT_IMG_VER", "v2.0.1"}});
  ASSERT_TRUE(plan.ok());
  StageScope scope(*plan, {});
  EXPECT_THAT(Walk(plan->stages[0], scope), ElementsAre("v1.0.0"));
  EXPECT_THAT(scope.ArgsInScope(), ElementsAre(Pair("CONT_IMG_VER", "v2.0.1")));
}

TEST(StagesTest, EnvFromArgWithDefault) {
  const std::string text =
      "FROM ubuntu\nARG CONT_IMG_VER\nENV CONT_IMG_VER=${CONT_IMG_VER:-v1.0.0}\n"
      "USER $CONT_IMG_VER\n";
  for (const auto& [args, want] :
       std::vector<std::pair<std::map<std::string, std::string>, std::string>>{
           {{{"CONT_IMG_VER", "v2.0.1"}}, "v2.0.1"}, {{}, "v1.0.0"}}) {
    auto plan = Plan(text, args);
    ASSERT_TRUE(plan.ok());
    StageScope scope(*plan, {});
    EXPECT_THAT(Walk(plan->stages[0], scope), ElementsAre(want));
    EXPECT_THAT(scope.Env(), ElementsAre("CONT_IMG_VER=" + want));
  }
}

TEST(StagesTest, GlobalArgInFromAndRedeclaredInStage) {
  const std::string text =
      "ARG VERSION=latest\nFROM busybox:$VERSION\nARG VERSION\nUSER $VERSION\n"
      "FROM busybox:$VERSION AS second\nUSER [$VERSION]\n";
  auto plan = Plan(text);
  ASSERT_TRUE(plan.ok()) << plan.status();
  ASSERT_EQ(plan->stages.size(), 2u);
  EXPECT_EQ(plan->stages[0].base, "busybox:latest");
  EXPECT_EQ(plan->stages[1].name, "second");
  StageScope first(*plan, {}), second(*plan, {});
  EXPECT_THAT(Walk(plan->stages[0], first), ElementsAre("latest"));
  EXPECT_THAT(Walk(plan->stages[1], second), ElementsAre("[]")) << "not re-declared";

  auto overridden = Plan(text, {{"VERSION", "1.36"}});
  ASSERT_TRUE(overridden.ok());
  EXPECT_EQ(overridden->stages[0].base, "busybox:1.36");
  StageScope scope(*overridden, {});
  EXPECT_THAT(Walk(overridden->stages[0], scope), ElementsAre("1.36"));
}

TEST(StagesTest, ArgValuePrecedence) {
  // build arg > the stage's default > the global value.
  const std::string text = "ARG A=global\nARG B=global\nARG C=global\nFROM x\n";
  auto plan = Plan(text, {{"A", "cli"}});
  ASSERT_TRUE(plan.ok());
  StageScope scope(*plan, {});
  scope.DeclareArg("A", "stage");
  scope.DeclareArg("B", "stage");
  scope.DeclareArg("C", std::nullopt);
  scope.DeclareArg("D", std::nullopt);
  EXPECT_EQ(scope.Lookup("A"), "cli");
  EXPECT_EQ(scope.Lookup("B"), "stage");
  EXPECT_EQ(scope.Lookup("C"), "global");
  EXPECT_EQ(scope.Lookup("D"), std::nullopt);
  EXPECT_THAT(scope.ArgsInScope(),
              ElementsAre(Pair("A", "cli"), Pair("B", "stage"), Pair("C", "global")));
}

TEST(StagesTest, AutomaticPlatformArgs) {
  PlatformArgs platform;
  platform.target_arch = "arm64";
  platform.target_variant = "v8";
  auto plan = Plan(
      "FROM --platform=$BUILDPLATFORM golang:${TARGETOS} AS build\nARG TARGETPLATFORM\n"
      "ARG TARGETARCH\nUSER $TARGETPLATFORM-$TARGETARCH-$BUILDARCH\n",
      {}, platform);
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_EQ(plan->stages[0].platform, "linux/amd64");
  EXPECT_EQ(plan->stages[0].base, "golang:linux");
  StageScope scope(*plan, {});
  EXPECT_THAT(Walk(plan->stages[0], scope), ElementsAre("linux/arm64/v8-arm64-"))
      << "BUILDARCH was not declared in the stage";
}

TEST(StagesTest, BaseEnvThenEnvInFirstSetOrder) {
  auto plan = Plan("FROM x\n");
  ASSERT_TRUE(plan.ok());
  StageScope scope(*plan, {"PATH=/usr/bin", "HOME=/root", "EMPTY"});
  scope.SetEnv("A", "1");
  scope.SetEnv("PATH", "/bin:/usr/bin");
  EXPECT_THAT(scope.Env(), ElementsAre("PATH=/bin:/usr/bin", "HOME=/root", "EMPTY=", "A=1"));
  scope.DeclareArg("HOME", "/other");
  EXPECT_EQ(scope.Lookup("HOME"), "/root") << "image ENV wins over ARG";
}

TEST(StagesTest, StageNamesLowerCasedAndReferences) {
  auto plan = Plan("FROM golang AS Build-Env\nFROM BUILD-ENV\nFROM scratch\n");
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_EQ(plan->stages[0].name, "build-env");
  EXPECT_EQ(plan->stages[1].base, "build-env");
  EXPECT_EQ(plan->stages[2].index, 2);
  EXPECT_EQ(plan->stages[2].line, 3);
}

TEST(StagesTest, InstructionsGroupedPerStage) {
  auto plan = Plan("FROM a\nRUN one\nRUN two\nFROM b AS bee\nCOPY --from=0 /x /y\n");
  ASSERT_TRUE(plan.ok());
  ASSERT_EQ(plan->stages.size(), 2u);
  EXPECT_EQ(plan->stages[0].instructions.size(), 2u);
  ASSERT_EQ(plan->stages[1].instructions.size(), 1u);
  EXPECT_EQ(plan->stages[1].instructions[0].keyword, "COPY");
}

TEST(StagesTest, UnusedBuildArgs) {
  auto plan =
      Plan("ARG G\nFROM x\nFROM y\n", {{"G", "1"}, {"S", "2"}, {"NOPE", "3"}, {"HTTP_PROXY", "p"}});
  ASSERT_TRUE(plan.ok());
  StageScope a(*plan, {}), b(*plan, {});
  b.DeclareArg("S", std::nullopt);
  EXPECT_THAT(a.UnusedBuildArgs({&a, &b}), ElementsAre("NOPE"));
  EXPECT_THAT(b.UnusedBuildArgs({&b}), ElementsAre("NOPE"));
  EXPECT_THAT(a.UnusedBuildArgs({&a}), ElementsAre("NOPE", "S"));
}

TEST(StagesTest, GlobalArgsRecorded) {
  auto plan = Plan("ARG A=1 B\nARG C=${A}2\nFROM x\n", {{"B", "b"}});
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_THAT(plan->global_args, ElementsAre(Pair("A", std::optional<std::string>("1")),
                                             Pair("B", std::optional<std::string>("b")),
                                             Pair("C", std::optional<std::string>("12"))));
}

struct StageErrorCase {
  const char* name;
  const char* text;
  const char* prefix;
  const char* detail;
};

void PrintTo(const StageErrorCase& c, std::ostream* os) { *os << c.name; }

class StageErrorTest : public ::testing::TestWithParam<StageErrorCase> {};

TEST_P(StageErrorTest, NamesFileAndLine) {
  auto plan = Plan(GetParam().text);
  ASSERT_FALSE(plan.ok());
  EXPECT_EQ(plan.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(plan.status().message()), StartsWith(GetParam().prefix));
  EXPECT_THAT(std::string(plan.status().message()), HasSubstr(GetParam().detail));
}

INSTANTIATE_TEST_SUITE_P(
    Errors, StageErrorTest,
    ::testing::Values(
        StageErrorCase{"DuplicateName", "FROM a AS one\nFROM b AS ONE\n",
                       "Dockerfile:2: ", "duplicate"},
        StageErrorCase{"NameStartsWithDigit", "FROM a AS 1st\n", "Dockerfile:1: ", "invalid name"},
        StageErrorCase{"NameWithSymbol", "FROM a AS b$c\n", "Dockerfile:1: ", "invalid name"},
        StageErrorCase{"BlankBase", "ARG IMG\nFROM $IMG\n", "Dockerfile:2: ", "blank"},
        StageErrorCase{"OnlyArgs", "ARG A\n\nARG B\n", "Dockerfile:3: ", "no FROM"},
        StageErrorCase{"BadExpansionInFrom", "FROM ${IMG:?set_IMG}\n",
                       "Dockerfile:1: ", "set_IMG"}),
    [](const auto& info) { return std::string(info.param.name); });

}  // namespace
}  // namespace slipway::build
