// Docker's shell-word expansion: the reference's "Environment replacement" section.
#include "server/build/dockerfile/variable_expander.h"

#include <map>
#include <ostream>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace slipway::build {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

VariableLookup Vars(std::map<std::string, std::string> values) {
  return [values = std::move(values)](absl::string_view name) -> std::optional<std::string> {
    auto it = values.find(std::string(name));
    if (it == values.end()) return std::nullopt;
    return it->second;
  };
}

const VariableLookup& Env() {
  static const VariableLookup* const kEnv = new VariableLookup(Vars(
      {{"a", "alpha"}, {"empty", ""}, {"FOO", "/bar"}, {"spaced", "x  y"}, {"HOME", "/root"}}));
  return *kEnv;
}

struct WordCase {
  const char* name;
  const char* input;
  const char* want;
  char escape = '\\';
};

void PrintTo(const WordCase& c, std::ostream* os) { *os << c.name; }

class ExpandWordTest : public ::testing::TestWithParam<WordCase> {};

TEST_P(ExpandWordTest, Expands) {
  ExpandOptions options;
  options.escape = GetParam().escape;
  auto got = ExpandWord(GetParam().input, Env(), options);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(*got, GetParam().want);
}

INSTANTIATE_TEST_SUITE_P(
    Reference, ExpandWordTest,
    ::testing::Values(WordCase{"Plain", "$a", "alpha"}, WordCase{"Braces", "${a}_x", "alpha_x"},
                      WordCase{"ReferenceFoo", "$FOO/baz", "/bar/baz"},
                      WordCase{"UnsetIsEmpty", "x${nope}y", "xy"},
                      WordCase{"DefaultWhenUnset", "${nope:-world}", "world"},
                      WordCase{"DefaultColonWhenEmpty", "${empty:-world}", "world"},
                      WordCase{"DefaultNoColonKeepsEmpty", "[${empty-world}]", "[]"},
                      WordCase{"DefaultNoColonWhenUnset", "${nope-world}", "world"},
                      WordCase{"DefaultNotUsedWhenSet", "${a:-world}", "alpha"},
                      WordCase{"AlternateWhenSet", "${a:+word}", "word"},
                      WordCase{"AlternateColonEmpty", "[${empty:+word}]", "[]"},
                      WordCase{"AlternateNoColonEmptyIsSet", "${empty+word}", "word"},
                      WordCase{"AlternateUnset", "[${nope+word}]", "[]"},
                      WordCase{"RequiredSet", "${a:?must be set}", "alpha"},
                      WordCase{"RequiredNoColonEmptyOk", "[${empty?x}]", "[]"},
                      WordCase{"NestedWordExpands", "${nope:-$a/${FOO}}", "alpha//bar"},
                      WordCase{"NestedQuotedWord", "${nope:-'$a'}", "$a"},
                      WordCase{"EscapedDollar", "\\$a", "$a"},
                      WordCase{"EscapedBraces", "\\${a}", "${a}"},
                      WordCase{"BacktickEscape", "`$a \\x", "$a \\x", '`'},
                      WordCase{"BacktickExpandsStill", "$a`", "alpha", '`'},
                      WordCase{"SingleQuotesLiteral", "'$a \"x\"'", "$a \"x\""},
                      WordCase{"DoubleQuotesExpand", "\"$a 'q'\"", "alpha 'q'"},
                      WordCase{"EscapeInDoubleQuotes", "\"\\$a \\\" \\n\"", "$a \" \\n"},
                      WordCase{"LoneDollar", "a$", "a$"}, WordCase{"DollarSpace", "$ x", "$ x"},
                      WordCase{"Concatenation", "pre${a}mid$a", "prealphamidalpha"},
                      WordCase{"SpacesKeptInWord", "a  b", "a  b"},
                      WordCase{"EscapedSpace", "a\\ b", "a b"},
                      WordCase{"EscapedBraceInDefault", "${nope:-a\\}b}", "a}b"}),
    [](const auto& info) { return std::string(info.param.name); });

TEST(ExpandWordTest, RequiredUnsetFailsWithMessage) {
  auto got = ExpandWord("${nope:?you must set nope}", Env());
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(got.status().message()), HasSubstr("you must set nope"));
  EXPECT_FALSE(ExpandWord("${empty:?}", Env()).ok()) << "':?' rejects empty";
  EXPECT_FALSE(ExpandWord("${nope?}", Env()).ok());
}

TEST(ExpandWordTest, SyntaxErrors) {
  EXPECT_FALSE(ExpandWord("${a", Env()).ok());
  EXPECT_FALSE(ExpandWord("${}", Env()).ok());
  EXPECT_FALSE(ExpandWord("${a:-x", Env()).ok());
  EXPECT_FALSE(ExpandWord("'open", Env()).ok());
  EXPECT_FALSE(ExpandWord("\"open", Env()).ok());
  EXPECT_FALSE(ExpandWord("${a:x}", Env()).ok());
}

TEST(ExpandWordTest, RecordsUsedNames) {
  std::set<std::string> used;
  ExpandOptions options;
  options.used = &used;
  ASSERT_TRUE(ExpandWord("$a ${nope:-$FOO} '$skipped'", Env(), options).ok());
  EXPECT_THAT(used, ElementsAre("FOO", "a", "nope"));
}

TEST(ExpandWordTest, KeepQuotesForHeredocBodies) {
  ExpandOptions options;
  options.keep_quotes = true;
  auto got = ExpandWord("echo \"$a\" '$a' \\$a\n", Env(), options);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(*got, "echo \"alpha\" 'alpha' $a\n");
}

TEST(ExpandWordsTest, SplitsOnUnquotedBlanks) {
  auto got = ExpandWords("$a  \"b c\" 'd e' f\\ g $spaced", Env());
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_THAT(*got, ElementsAre("alpha", "b c", "d e", "f g", "x", "y"));
}

TEST(ExpandWordsTest, QuotedEmptyKeptUnquotedEmptyDropped) {
  auto got = ExpandWords("a \"\" $empty $nope '' \"$empty\" b", Env());
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_THAT(*got, ElementsAre("a", "", "", "", "b"));
}

TEST(ExpandWordsTest, QuotedExpansionIsNotSplit) {
  auto got = ExpandWords("\"$spaced\" x", Env());
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_THAT(*got, ElementsAre("x  y", "x"));
}

TEST(ExpandWordsTest, EmptyInput) {
  auto got = ExpandWords("   ", Env());
  ASSERT_TRUE(got.ok());
  EXPECT_THAT(*got, IsEmpty());
}

}  // namespace
}  // namespace slipway::build
