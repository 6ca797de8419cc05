// Typed instructions after expansion (Docker's rules per instruction).
#include "server/build/dockerfile/commands.h"

#include <map>
#include <ostream>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/build/dockerfile/parser.h"

namespace slipway::build {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Pair;
using ::testing::StartsWith;

VariableLookup Vars(std::map<std::string, std::string> values) {
  return [values = std::move(values)](absl::string_view name) -> std::optional<std::string> {
    auto it = values.find(std::string(name));
    if (it == values.end()) return std::nullopt;
    return it->second;
  };
}

// Parses "FROM scratch\n<line>" and converts the instruction of `line`.
absl::StatusOr<Command> Convert(const std::string& line,
                                std::map<std::string, std::string> vars = {}) {
  auto parsed = ParseDockerfile("FROM scratch\n" + line, "Dockerfile");
  if (!parsed.ok()) return parsed.status();
  return ToCommand(parsed->instructions.at(1), "Dockerfile", Vars(std::move(vars)), parsed->escape);
}

template <typename T>
T Body(const std::string& line, std::map<std::string, std::string> vars = {}) {
  auto command = Convert(line, std::move(vars));
  EXPECT_TRUE(command.ok()) << command.status();
  if (!command.ok()) return T{};
  EXPECT_TRUE(std::holds_alternative<T>(command->body)) << line;
  return std::holds_alternative<T>(command->body) ? std::get<T>(command->body) : T{};
}

TEST(CommandsTest, EnvBothFormsAsInReference) {
  auto env = Body<EnvCommand>("ENV MY_NAME=\"John Doe\" MY_DOG=Rex\\ The\\ Dog MY_CAT=fluffy");
  EXPECT_THAT(env.vars, ElementsAre(Pair("MY_NAME", "John Doe"), Pair("MY_DOG", "Rex The Dog"),
                                    Pair("MY_CAT", "fluffy")));
  auto legacy = Body<EnvCommand>("ENV ONE TWO= THREE=world");
  EXPECT_THAT(legacy.vars, ElementsAre(Pair("ONE", "TWO= THREE=world")));
}

TEST(CommandsTest, EnvExpandsWithPreviousValuesOnly) {
  // Reference: `ENV abc=bye def=$abc` gives def the value from before the instruction.
  auto env = Body<EnvCommand>("ENV abc=bye def=$abc", {{"abc", "hello"}});
  EXPECT_THAT(env.vars, ElementsAre(Pair("abc", "bye"), Pair("def", "hello")));
}

TEST(CommandsTest, LabelQuotesAndContinuation) {
  auto labels = Body<LabelCommand>(
      "LABEL \"com.example.vendor\"=\"ACME Incorporated\" version=\"1.0\" "
      "description=\"This text illustrates \\\nthat label-values can span multiple lines.\"");
  EXPECT_THAT(labels.labels,
              ElementsAre(Pair("com.example.vendor", "ACME Incorporated"), Pair("version", "1.0"),
                          Pair("description",
                               "This text illustrates that label-values can span multiple "
                               "lines.")));
}

TEST(CommandsTest, ArgDefaultsExpanded) {
  auto arg = Body<ArgCommand>("ARG user1 buildno=1 dir=$HOME/x", {{"HOME", "/root"}});
  ASSERT_EQ(arg.args.size(), 3u);
  EXPECT_EQ(arg.args[0].name, "user1");
  EXPECT_FALSE(arg.args[0].default_value.has_value());
  EXPECT_EQ(arg.args[1].default_value, "1");
  EXPECT_EQ(arg.args[2].default_value, "/root/x");
}

TEST(CommandsTest, WorkdirUserStopsignalExpand) {
  EXPECT_EQ(
      Body<WorkdirCommand>("WORKDIR $DIRPATH/$DIRNAME", {{"DIRPATH", "/path"}, {"DIRNAME", "d"}})
          .path,
      "/path/d");
  EXPECT_EQ(Body<UserCommand>("USER ${U:-app}:grp").user, "app:grp");
  EXPECT_EQ(Body<StopSignalCommand>("STOPSIGNAL $S", {{"S", "SIGKILL"}}).signal, "SIGKILL");
}

TEST(CommandsTest, ExposeNormalized) {
  auto expose = Body<ExposeCommand>("EXPOSE 80 53/UDP $P 8000-8002/tcp", {{"P", "443"}});
  EXPECT_THAT(expose.ports,
              ElementsAre("80/tcp", "53/udp", "443/tcp", "8000/tcp", "8001/tcp", "8002/tcp"));
  EXPECT_FALSE(Convert("EXPOSE 80/xyz").ok());
  EXPECT_FALSE(Convert("EXPOSE 70000").ok());
  EXPECT_FALSE(Convert("EXPOSE abc").ok());
}

TEST(CommandsTest, VolumeJsonAndWords) {
  EXPECT_THAT(Body<VolumeCommand>("VOLUME [\"/data\", \"$D\"]", {{"D", "/x"}}).paths,
              ElementsAre("/data", "/x"));
  EXPECT_THAT(Body<VolumeCommand>("VOLUME /var/log /var/db").paths,
              ElementsAre("/var/log", "/var/db"));
}

TEST(CommandsTest, CopyShellAndJsonForms) {
  auto copy =
      Body<CopyCommand>("COPY --chown=$U:g --chmod=644 hom* \"my file\" /mydir/", {{"U", "55"}});
  EXPECT_THAT(copy.sources, ElementsAre("hom*", "my file"));
  EXPECT_EQ(copy.destination, "/mydir/");
  EXPECT_EQ(copy.chown, "55:g");
  EXPECT_EQ(copy.chmod, 0644u);
  EXPECT_FALSE(copy.is_add);
  auto json = Body<CopyCommand>("COPY [\"a b\", \"$X\", \"c/\"]", {{"X", "y"}});
  EXPECT_THAT(json.sources, ElementsAre("a b", "y"));
  EXPECT_EQ(json.destination, "c/");
}

TEST(CommandsTest, CopyFromExcludeLinkAndAddFlags) {
  auto copy = Body<CopyCommand>(
      "COPY --from=${STAGE} --link --exclude=*.md --exclude=tmp /src /dst", {{"STAGE", "build"}});
  EXPECT_EQ(copy.from, "build");
  EXPECT_TRUE(copy.link);
  EXPECT_THAT(copy.excludes, ElementsAre("*.md", "tmp"));
  auto add = Body<CopyCommand>(
      "ADD --checksum=sha256:abc --keep-git-dir=true https://example.com/a.git /src");
  EXPECT_TRUE(add.is_add);
  EXPECT_EQ(add.checksum, "sha256:abc");
  EXPECT_TRUE(add.keep_git_dir);
  EXPECT_THAT(add.sources, ElementsAre("https://example.com/a.git"));
}

TEST(CommandsTest, CopyHeredocsAreInlineFiles) {
  auto parsed = ParseDockerfile(
      "FROM x\nCOPY <<EOF <<'RAW' /dest/\nhello $NAME \"q\"\nEOF\n$NAME\nRAW\n", "Dockerfile");
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  auto command = ToCommand(parsed->instructions[1], "Dockerfile", Vars({{"NAME", "world"}}), '\\');
  ASSERT_TRUE(command.ok()) << command.status();
  const auto& copy = std::get<CopyCommand>(command->body);
  EXPECT_TRUE(copy.sources.empty());
  EXPECT_EQ(copy.destination, "/dest/");
  ASSERT_EQ(copy.heredocs.size(), 2u);
  EXPECT_EQ(copy.heredocs[0].name, "EOF");
  EXPECT_EQ(copy.heredocs[0].content, "hello world \"q\"\n");
  EXPECT_EQ(copy.heredocs[1].content, "$NAME\n");
  EXPECT_THAT(command->text, HasSubstr("hello world"));
}

TEST(CommandsTest, RunKeepsShellFormUnexpandedAndExpandsMounts) {
  auto command =
      Convert("RUN --mount=type=cache,target=$C --network=none --security=insecure echo $HOME",
              {{"C", "/cache"}, {"HOME", "/root"}});
  ASSERT_TRUE(command.ok()) << command.status();
  const auto& run = std::get<RunCommand>(command->body);
  EXPECT_FALSE(run.json_form);
  EXPECT_EQ(run.shell_command, "echo $HOME");
  EXPECT_THAT(run.mounts, ElementsAre("type=cache,target=/cache"));
  EXPECT_EQ(run.network, "none");
  EXPECT_EQ(run.security, "insecure");
  EXPECT_EQ(command->text,
            "RUN --mount=type=cache,target=/cache --network=none --security=insecure echo $HOME");
  EXPECT_THAT(Body<RunCommand>("RUN [\"echo\", \"$HOME\"]").argv, ElementsAre("echo", "$HOME"));
}

TEST(CommandsTest, CmdEntrypointShell) {
  auto cmd = Body<ExecFormCommand>("CMD echo \"This is a test.\" | wc -");
  EXPECT_FALSE(cmd.json_form);
  EXPECT_EQ(cmd.shell_command, "echo \"This is a test.\" | wc -");
  EXPECT_THAT(Body<ExecFormCommand>("ENTRYPOINT [\"top\", \"-b\"]").argv, ElementsAre("top", "-b"));
  EXPECT_THAT(Body<ExecFormCommand>("SHELL [\"powershell\", \"-command\"]").argv,
              ElementsAre("powershell", "-command"));
}

TEST(CommandsTest, HealthcheckDurationsAndForms) {
  auto health = Body<HealthcheckCommand>(
      "HEALTHCHECK --interval=5m --timeout=3s --start-period=1m30s --start-interval=500ms "
      "--retries=4 CMD curl -f http://localhost/ || exit 1");
  EXPECT_EQ(health.interval_ns, 300'000'000'000);
  EXPECT_EQ(health.timeout_ns, 3'000'000'000);
  EXPECT_EQ(health.start_period_ns, 90'000'000'000);
  EXPECT_EQ(health.start_interval_ns, 500'000'000);
  EXPECT_EQ(health.retries, 4);
  EXPECT_THAT(health.test, ElementsAre("CMD-SHELL", "curl -f http://localhost/ || exit 1"));
  auto exec = Body<HealthcheckCommand>("HEALTHCHECK CMD [\"/bin/check\", \"-q\"]");
  EXPECT_THAT(exec.test, ElementsAre("CMD", "/bin/check", "-q"));
  EXPECT_EQ(exec.interval_ns, 0) << "defaults are left to the runtime";
  EXPECT_TRUE(Body<HealthcheckCommand>("HEALTHCHECK NONE").none);
  EXPECT_EQ(Body<HealthcheckCommand>("HEALTHCHECK --timeout=1.5h CMD x").timeout_ns,
            5'400'000'000'000);
}

TEST(CommandsTest, OnbuildAndMaintainerAreNotExpanded) {
  EXPECT_EQ(Body<OnbuildCommand>("ONBUILD RUN echo $X", {{"X", "y"}}).instruction, "RUN echo $X");
  EXPECT_EQ(Body<MaintainerCommand>("MAINTAINER $ME").name, "$ME");
}

TEST(CommandsTest, HeredocsInTextAndOnbuildTrigger) {
  auto parsed = ParseDockerfile("FROM x\nRUN <<EOF\necho $A\nEOF\nONBUILD COPY <<F /f\nbody\nF\n",
                                "Dockerfile");
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  auto run = ToCommand(parsed->instructions[1], "Dockerfile", Vars({}), '\\');
  ASSERT_TRUE(run.ok()) << run.status();
  EXPECT_EQ(run->text, "RUN <<EOF\necho $A\nEOF") << "RUN heredocs stay for the shell";
  EXPECT_EQ(std::get<RunCommand>(run->body).heredocs.at(0).content, "echo $A\n");
  auto onbuild = ToCommand(parsed->instructions[2], "Dockerfile", Vars({}), '\\');
  ASSERT_TRUE(onbuild.ok()) << onbuild.status();
  const std::string trigger = std::get<OnbuildCommand>(onbuild->body).instruction;
  EXPECT_EQ(trigger, "COPY <<F /f\nbody\nF");
  // The trigger text parses again, heredoc included, when a child image builds.
  auto again = ParseDockerfile("FROM x\n" + trigger + "\n", "Dockerfile");
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->instructions[1].heredocs.at(0).content, "body\n");
}

TEST(CommandsTest, BacktickEscapeInValues) {
  auto parsed = ParseDockerfile("# escape=`\nFROM x\nENV A=`$B C=c:\\dir\n", "Dockerfile");
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  auto command = ToCommand(parsed->instructions[1], "Dockerfile", Vars({{"B", "b"}}), '`');
  ASSERT_TRUE(command.ok()) << command.status();
  EXPECT_THAT(std::get<EnvCommand>(command->body).vars,
              ElementsAre(Pair("A", "$B"), Pair("C", "c:\\dir")));
}

TEST(CommandsTest, FromIsNotACommand) {
  auto parsed = ParseDockerfile("FROM x\n", "Dockerfile");
  ASSERT_TRUE(parsed.ok());
  auto command = ToCommand(parsed->instructions[0], "Dockerfile", Vars({}), '\\');
  ASSERT_FALSE(command.ok());
  EXPECT_THAT(std::string(command.status().message()), StartsWith("Dockerfile:1: "));
}

TEST(CommandsTest, CanonicalTextForCacheKeys) {
  auto command = Convert("copy  --from=$S   a   $B  /d", {{"S", "st"}, {"B", "b"}});
  ASSERT_TRUE(command.ok()) << command.status();
  EXPECT_EQ(command->keyword, "COPY");
  EXPECT_EQ(command->line, 2);
  EXPECT_EQ(command->text, "COPY --from=st a b /d");
  auto env = Convert("ENV A=\"x y\" B=z");
  ASSERT_TRUE(env.ok());
  EXPECT_EQ(env->text, "ENV A=\"x y\" B=z");
}

struct CommandErrorCase {
  const char* name;
  const char* line;
  const char* detail;
};

void PrintTo(const CommandErrorCase& c, std::ostream* os) { *os << c.name; }

class CommandErrorTest : public ::testing::TestWithParam<CommandErrorCase> {};

TEST_P(CommandErrorTest, NamesFileAndLine) {
  auto command = Convert(GetParam().line);
  ASSERT_FALSE(command.ok());
  EXPECT_EQ(command.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(command.status().message()), StartsWith("Dockerfile:2: "));
  EXPECT_THAT(std::string(command.status().message()), HasSubstr(GetParam().detail));
}

INSTANTIATE_TEST_SUITE_P(
    Errors, CommandErrorTest,
    ::testing::Values(
        CommandErrorCase{"BadChmod", "COPY --chmod=0x77 a b", "chmod"},
        CommandErrorCase{"ChmodTooBig", "COPY --chmod=77777 a b", "chmod"},
        CommandErrorCase{"BadDuration", "HEALTHCHECK --interval=5 CMD x", "duration"},
        CommandErrorCase{"BadUnit", "HEALTHCHECK --interval=5y CMD x", "unit"},
        CommandErrorCase{"TooShortInterval", "HEALTHCHECK --interval=1us CMD x", "1ms"},
        CommandErrorCase{"NegativeRetries", "HEALTHCHECK --retries=-1 CMD x", "negative"},
        CommandErrorCase{"DuplicateFlag", "COPY --from=a --from=b x y", "duplicate"},
        CommandErrorCase{"CopyExpandsToOneWord", "COPY $NOTHING /dst", "two arguments"},
        CommandErrorCase{"BadLinkValue", "COPY --link=maybe a b", "boolean"},
        CommandErrorCase{"FlagWithoutValue", "COPY --from a b", "missing a value"},
        CommandErrorCase{"ExpansionError", "WORKDIR ${X:?need X}", "need X"},
        CommandErrorCase{"EmptyVolume", "VOLUME [\"\"]", "empty string"}),
    [](const auto& info) { return std::string(info.param.name); });

}  // namespace
}  // namespace slipway::build
