// Parser behaviour, from the examples of Docker's Dockerfile reference.
#include "server/build/dockerfile/parser.h"

#include <ostream>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace slipway::build {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::StartsWith;

ParsedDockerfile MustParse(const std::string& text) {
  auto parsed = ParseDockerfile(text, "Dockerfile");
  EXPECT_TRUE(parsed.ok()) << parsed.status();
  return parsed.ok() ? *std::move(parsed) : ParsedDockerfile{};
}

std::vector<std::string> Keywords(const ParsedDockerfile& parsed) {
  std::vector<std::string> out;
  for (const auto& in : parsed.instructions) out.push_back(in.keyword);
  return out;
}

TEST(ParserTest, KeywordsAreCaseInsensitiveAndLinesCounted) {
  auto parsed = MustParse("# comment\nfrom alpine\n\n  run echo hi\nCmd [\"sh\"]\n");
  EXPECT_THAT(Keywords(parsed), ElementsAre("FROM", "RUN", "CMD"));
  EXPECT_EQ(parsed.instructions[0].line, 2);
  EXPECT_EQ(parsed.instructions[1].line, 4);
  EXPECT_EQ(parsed.instructions[1].raw_args, "echo hi");
  EXPECT_EQ(parsed.instructions[1].original, "run echo hi");
}

TEST(ParserTest, EscapeDirectiveBacktickAsInReference) {
  // The reference's Windows example: with escape=` a trailing backslash is a plain character.
  auto parsed =
      MustParse("# escape=`\n\nFROM microsoft/nanoserver\nCOPY testfile.txt c:\\\nRUN dir c:\\\n");
  EXPECT_EQ(parsed.escape, '`');
  ASSERT_EQ(parsed.instructions.size(), 3u);
  EXPECT_EQ(parsed.instructions[1].raw_args, "testfile.txt c:\\");
  EXPECT_EQ(parsed.instructions[2].raw_args, "dir c:\\");
}

TEST(ParserTest, DefaultEscapeJoinsTheWindowsExampleIntoOneInstruction) {
  // Without the directive Docker reads `COPY ... c:\` as continuing onto the next line.
  auto parsed = MustParse("FROM microsoft/nanoserver\nCOPY testfile.txt c:\\\nRUN dir c:\\\n");
  ASSERT_EQ(parsed.instructions.size(), 2u);
  EXPECT_EQ(parsed.instructions[1].raw_args, "testfile.txt c:RUN dir c:");
}

TEST(ParserTest, BacktickContinuation) {
  auto parsed = MustParse("# escape=`\nFROM x\nRUN echo a `\n  b\n");
  EXPECT_EQ(parsed.instructions[1].raw_args, "echo a   b");
}

struct DirectiveCase {
  const char* name;
  const char* text;
  char escape;
  const char* syntax;
};

void PrintTo(const DirectiveCase& c, std::ostream* os) { *os << c.name; }

class DirectiveTest : public ::testing::TestWithParam<DirectiveCase> {};

TEST_P(DirectiveTest, Parses) {
  auto parsed = MustParse(GetParam().text);
  EXPECT_EQ(parsed.escape, GetParam().escape);
  EXPECT_EQ(parsed.syntax, GetParam().syntax);
}

INSTANTIATE_TEST_SUITE_P(
    Reference, DirectiveTest,
    ::testing::Values(
        DirectiveCase{"Plain", "#escape=`\nFROM x\n", '`', ""},
        DirectiveCase{"Spaces", "# escape = `\nFROM x\n", '`', ""},
        DirectiveCase{"Tab", "#\tescape= `\nFROM x\n", '`', ""},
        DirectiveCase{"MixedCase", "# EsCaPe=`\nFROM x\n", '`', ""},
        DirectiveCase{"SyntaxThenEscape", "# syntax=docker/dockerfile:1\n# escape=`\nFROM x\n", '`',
                      "docker/dockerfile:1"},
        // A directive after a blank line, a comment or an instruction is only a comment.
        DirectiveCase{"AfterBlank", "\n# escape=`\nFROM x\n", '\\', ""},
        DirectiveCase{"AfterComment", "# about\n# escape=`\nFROM x\n", '\\', ""},
        DirectiveCase{"AfterUnknownDirective", "# unknowndirective=value\n# escape=`\nFROM x\n",
                      '\\', ""},
        DirectiveCase{"AfterInstruction", "FROM x\n# escape=`\n", '\\', ""},
        DirectiveCase{"LineContinuationBreaksIt", "# esc \\\n# ape=`\nFROM x\n", '\\', ""}),
    [](const auto& info) { return std::string(info.param.name); });

TEST(ParserTest, SyntaxDirectiveProducesNotice) {
  auto parsed = MustParse("# syntax=docker/dockerfile:1.4\nFROM x\n");
  ASSERT_EQ(parsed.notices.size(), 1u);
  EXPECT_THAT(parsed.notices[0], HasSubstr("docker/dockerfile:1.4"));
}

TEST(ParserTest, ContinuationSkipsCommentsAndEmptyLines) {
  // The reference: comment lines are removed before continuation is processed.
  auto parsed = MustParse(
      "FROM x\nRUN echo hello \\\n# comment\nworld\nRUN apt-get update \\\n\n    && ls\n");
  ASSERT_EQ(parsed.instructions.size(), 3u);
  EXPECT_EQ(parsed.instructions[1].raw_args, "echo hello world");
  EXPECT_EQ(parsed.instructions[2].raw_args, "apt-get update     && ls");
  EXPECT_EQ(parsed.instructions[2].line, 5);
}

TEST(ParserTest, EscapedEscapeAtEndDoesNotContinue) {
  auto parsed = MustParse("FROM x\nRUN echo a\\\\\nRUN echo b\n");
  ASSERT_EQ(parsed.instructions.size(), 3u);
  EXPECT_EQ(parsed.instructions[1].raw_args, "echo a\\\\");
}

TEST(ParserTest, ContinuationAllowsTrailingBlanksAndCrlf) {
  auto parsed = MustParse("FROM x\r\nRUN a \\  \r\n b\r\n");
  ASSERT_EQ(parsed.instructions.size(), 2u);
  EXPECT_EQ(parsed.instructions[1].raw_args, "a  b");
}

TEST(ParserTest, ByteOrderMarkIsIgnored) {
  auto parsed = MustParse("\xEF\xBB\xBF# escape=`\nFROM x\n");
  EXPECT_EQ(parsed.escape, '`');
}

TEST(ParserTest, JsonAndShellForms) {
  auto parsed = MustParse(
      "FROM x\nRUN [\"/bin/bash\", \"-c\", \"echo hello\"]\nCMD echo $HOME\n"
      "ENTRYPOINT [\"top\", \"-b\"]\nRUN [\"broken\nCMD [1, 2]\nSHELL [\"powershell\", "
      "\"-command\"]\nVOLUME [\"/data\"]\nVOLUME /a /b\nCOPY [\"a b\", \"c/\"]\n");
  const auto& in = parsed.instructions;
  ASSERT_EQ(in.size(), 10u);
  EXPECT_TRUE(in[1].json_form);
  EXPECT_THAT(in[1].args, ElementsAre("/bin/bash", "-c", "echo hello"));
  EXPECT_FALSE(in[2].json_form);
  EXPECT_TRUE(in[3].json_form);
  EXPECT_FALSE(in[4].json_form) << "not valid JSON: shell form, like Docker";
  EXPECT_EQ(in[4].raw_args, "[\"broken");
  EXPECT_FALSE(in[5].json_form) << "not a string array: shell form";
  EXPECT_THAT(in[6].args, ElementsAre("powershell", "-command"));
  EXPECT_THAT(in[7].args, ElementsAre("/data"));
  EXPECT_FALSE(in[8].json_form);
  EXPECT_THAT(in[9].args, ElementsAre("a b", "c/"));
}

TEST(ParserTest, FlagsAreSplitFromArguments) {
  auto parsed = MustParse(
      "FROM --platform=$BUILDPLATFORM golang AS build\n"
      "COPY --from=build --chown=\"app user\" --link /src /dst\n"
      "RUN --mount=type=cache,target=/root/.cache --network=none go build\n");
  const auto& in = parsed.instructions;
  ASSERT_EQ(in[0].flags.size(), 1u);
  EXPECT_EQ(in[0].flags[0].name, "platform");
  EXPECT_EQ(in[0].flags[0].value, "$BUILDPLATFORM");
  EXPECT_EQ(in[0].raw_args, "golang AS build");
  ASSERT_EQ(in[1].flags.size(), 3u);
  EXPECT_EQ(in[1].flags[1].value, "app user");
  EXPECT_EQ(in[1].flags[2].name, "link");
  EXPECT_FALSE(in[1].flags[2].has_value);
  EXPECT_EQ(in[1].raw_args, "/src /dst");
  EXPECT_EQ(in[2].flags[0].value, "type=cache,target=/root/.cache");
  EXPECT_EQ(in[2].raw_args, "go build");
}

TEST(ParserTest, HeredocRunAsInReference) {
  auto parsed =
      MustParse("FROM debian\nRUN <<EOT bash\n  set -ex\n  apt-get update\nEOT\nRUN echo done\n");
  ASSERT_EQ(parsed.instructions.size(), 3u);
  const auto& run = parsed.instructions[1];
  ASSERT_EQ(run.heredocs.size(), 1u);
  EXPECT_EQ(run.heredocs[0].name, "EOT");
  EXPECT_EQ(run.heredocs[0].content, "  set -ex\n  apt-get update\n");
  EXPECT_TRUE(run.heredocs[0].expand);
  EXPECT_EQ(run.raw_args, "<<EOT bash");
  EXPECT_EQ(parsed.instructions[2].line, 6);
}

TEST(ParserTest, SeveralHeredocsFollowInOrder) {
  // The reference's COPY example with two inline files, and a RUN with two.
  auto parsed = MustParse(
      "FROM alpine\nCOPY <<-EOT /script.sh\n\techo \"hello ${FOO}\"\nEOT\n"
      "COPY <<robots.txt <<humans.txt /usr/share/nginx/html/\n(robots content)\nrobots.txt\n"
      "(humans content)\nhumans.txt\nRUN <<FILE1 cat > file1 && <<FILE2 cat > file2\n"
      "I am\nfirst\nFILE1\nI am\nsecond\nFILE2\n");
  const auto& in = parsed.instructions;
  ASSERT_EQ(in.size(), 4u);
  ASSERT_EQ(in[1].heredocs.size(), 1u);
  EXPECT_TRUE(in[1].heredocs[0].strip_tabs);
  EXPECT_EQ(in[1].heredocs[0].content, "echo \"hello ${FOO}\"\n");
  ASSERT_EQ(in[2].heredocs.size(), 2u);
  EXPECT_EQ(in[2].heredocs[0].name, "robots.txt");
  EXPECT_EQ(in[2].heredocs[0].content, "(robots content)\n");
  EXPECT_EQ(in[2].heredocs[1].name, "humans.txt");
  EXPECT_EQ(in[2].heredocs[1].content, "(humans content)\n");
  ASSERT_EQ(in[3].heredocs.size(), 2u);
  EXPECT_EQ(in[3].heredocs[0].content, "I am\nfirst\n");
  EXPECT_EQ(in[3].heredocs[1].content, "I am\nsecond\n");
}

TEST(ParserTest, QuotedHeredocDelimitersDisableExpansion) {
  auto parsed = MustParse(
      "FROM x\nRUN <<\"EOF\"\necho $HOME\nEOF\nCOPY <<'A' /a\n$X\nA\nRUN <<-EOF\n\tx\n\tEOF\n");
  const auto& in = parsed.instructions;
  ASSERT_EQ(in.size(), 4u);
  EXPECT_EQ(in[1].heredocs[0].name, "EOF");
  EXPECT_FALSE(in[1].heredocs[0].expand);
  EXPECT_FALSE(in[2].heredocs[0].expand);
  EXPECT_EQ(in[3].heredocs[0].content, "x\n") << "<<- strips tabs, also before the delimiter";
}

TEST(ParserTest, HeredocBodyKeepsCommentsAndIsNotContinued) {
  auto parsed = MustParse("FROM x\nRUN <<EOF\n# not a comment \\\nEOF\n");
  EXPECT_EQ(parsed.instructions[1].heredocs[0].content, "# not a comment \\\n");
}

TEST(ParserTest, NoHeredocsForJsonFormOrOtherInstructions) {
  auto parsed = MustParse("FROM x\nRUN [\"cat\", \"<<EOF\"]\nCMD cat <<EOF\nENV A=<<B\n");
  ASSERT_EQ(parsed.instructions.size(), 4u);
  for (const auto& in : parsed.instructions) EXPECT_TRUE(in.heredocs.empty()) << in.original;
}

TEST(ParserTest, OnbuildTriggerMayCarryHeredoc) {
  auto parsed = MustParse("FROM x\nONBUILD RUN <<EOF\necho hi\nEOF\n");
  ASSERT_EQ(parsed.instructions.size(), 2u);
  EXPECT_EQ(parsed.instructions[1].raw_args, "RUN <<EOF");
  ASSERT_EQ(parsed.instructions[1].heredocs.size(), 1u);
}

TEST(ParserTest, EveryInstructionParses) {
  auto parsed = MustParse(
      "ARG BASE=alpine\nFROM ${BASE} AS base\nMAINTAINER someone\nLABEL a=b\nENV A B C\n"
      "WORKDIR /app\nUSER app:app\nEXPOSE 80/tcp 53/udp\nVOLUME /data\nSTOPSIGNAL SIGTERM\n"
      "HEALTHCHECK --interval=5m --timeout=3s CMD curl -f http://localhost/ || exit 1\n"
      "HEALTHCHECK NONE\nONBUILD ADD . /app/src\nADD --chmod=644 a /b\nSHELL [\"sh\", \"-c\"]\n"
      "ENTRYPOINT top\nCMD [\"-b\"]\nRUN true\nCOPY a b\n");
  EXPECT_THAT(Keywords(parsed),
              ElementsAre("ARG", "FROM", "MAINTAINER", "LABEL", "ENV", "WORKDIR", "USER", "EXPOSE",
                          "VOLUME", "STOPSIGNAL", "HEALTHCHECK", "HEALTHCHECK", "ONBUILD", "ADD",
                          "SHELL", "ENTRYPOINT", "CMD", "RUN", "COPY"));
}

TEST(ParserTest, HealthcheckExecFormIsDecoded) {
  auto parsed = MustParse("FROM x\nHEALTHCHECK --retries=3 CMD [\"curl\", \"-f\", \"x\"]\n");
  const auto& in = parsed.instructions[1];
  EXPECT_TRUE(in.json_form);
  EXPECT_THAT(in.args, ElementsAre("curl", "-f", "x"));
}

struct ErrorCase {
  const char* name;
  const char* text;
  const char* prefix;  // "<file>:<line>:"
  const char* detail;
};

void PrintTo(const ErrorCase& c, std::ostream* os) { *os << c.name; }

class ParserErrorTest : public ::testing::TestWithParam<ErrorCase> {};

TEST_P(ParserErrorTest, NamesFileAndLine) {
  auto parsed = ParseDockerfile(GetParam().text, "Dockerfile");
  ASSERT_FALSE(parsed.ok());
  EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(parsed.status().message()), StartsWith(GetParam().prefix));
  EXPECT_THAT(std::string(parsed.status().message()), HasSubstr(GetParam().detail));
}

INSTANTIATE_TEST_SUITE_P(
    Errors, ParserErrorTest,
    ::testing::Values(
        ErrorCase{"UnknownInstruction", "FROM x\n\nRUNN echo\n", "Dockerfile:3: ", "RUNN"},
        ErrorCase{"UnterminatedHeredoc", "FROM x\nRUN true\nRUN <<EOF\necho\nEO\n",
                  "Dockerfile:3: ", "unterminated heredoc"},
        ErrorCase{"SecondHeredocUnterminated", "FROM x\nCOPY <<A <<B /d\na\nA\nb\n",
                  "Dockerfile:2: ", "<<B"},
        ErrorCase{"ShellNotJson", "FROM x\nSHELL /bin/sh -c\n", "Dockerfile:2: ", "JSON"},
        ErrorCase{"ShellBrokenJson", "FROM x\nSHELL [\"sh\", \n", "Dockerfile:2: ", "JSON"},
        ErrorCase{"CopyOneArgument", "FROM x\nCOPY onlyone\n", "Dockerfile:2: ", "two arguments"},
        ErrorCase{"AddJsonOneArgument", "FROM x\nADD [\"a\"]\n", "Dockerfile:2: ", "two"},
        ErrorCase{"UnknownFlag", "FROM x\nCOPY --chmown=1 a b\n", "Dockerfile:2: ", "--chmown"},
        ErrorCase{"FlagOfAnotherInstruction", "FROM x\nADD --from=a a b\n",
                  "Dockerfile:2: ", "--from"},
        ErrorCase{"RunUnknownFlag", "FROM x\nRUN --privileged true\n",
                  "Dockerfile:2: ", "--privileged"},
        ErrorCase{"OnbuildOnbuild", "FROM x\nONBUILD ONBUILD RUN true\n",
                  "Dockerfile:2: ", "ONBUILD ONBUILD"},
        ErrorCase{"OnbuildFrom", "FROM x\nONBUILD FROM y\n", "Dockerfile:2: ", "FROM"},
        ErrorCase{"OnbuildMaintainer", "FROM x\nonbuild maintainer me\n",
                  "Dockerfile:2: ", "MAINTAINER"},
        ErrorCase{"OnbuildUnknown", "FROM x\nONBUILD FOO bar\n", "Dockerfile:2: ", "FOO"},
        ErrorCase{"EmptyFile", "", "Dockerfile:1: ", "no instructions"},
        ErrorCase{"OnlyComments", "# hello\n\n# world\n", "Dockerfile:3: ", "no instructions"},
        ErrorCase{"InstructionBeforeFrom", "ARG A\nRUN true\nFROM x\n",
                  "Dockerfile:2: ", "before the first FROM"},
        ErrorCase{"MissingArguments", "FROM x\nWORKDIR\n", "Dockerfile:2: ", "WORKDIR requires"},
        ErrorCase{"FromTwoWords", "FROM a b\n", "Dockerfile:1: ", "one or three"},
        ErrorCase{"EnvWithoutValue", "FROM x\nENV ONLYNAME\n", "Dockerfile:2: ", "two arguments"},
        ErrorCase{"EnvMixedForms", "FROM x\nENV a=b c\n", "Dockerfile:2: ", "can't find ="},
        ErrorCase{"BadEscapeDirective", "# escape=x\nFROM x\n", "Dockerfile:1: ", "invalid escape"},
        ErrorCase{"RepeatedDirective", "# escape=`\n# escape=\\\nFROM x\n",
                  "Dockerfile:2: ", "only one"},
        ErrorCase{"HealthcheckUnknownType", "FROM x\nHEALTHCHECK RUN true\n",
                  "Dockerfile:2: ", "try CMD"},
        ErrorCase{"HealthcheckNoneArgs", "FROM x\nHEALTHCHECK NONE now\n",
                  "Dockerfile:2: ", "NONE"},
        ErrorCase{"ErrorLineAfterContinuation", "FROM x\nRUN a \\\n  b\nBAD\n",
                  "Dockerfile:4: ", "BAD"}),
    [](const auto& info) { return std::string(info.param.name); });

TEST(ParserTest, ErrorUsesGivenFileName) {
  auto parsed = ParseDockerfile("FROM x\nNOPE\n", "sub/Containerfile");
  ASSERT_FALSE(parsed.ok());
  EXPECT_THAT(std::string(parsed.status().message()), StartsWith("sub/Containerfile:2: "));
}

}  // namespace
}  // namespace slipway::build
