#include "storage/path_pattern.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace slipway {
namespace {

// Go's path.Match documentation and its behaviour table: pattern, name, want (or bad pattern).
struct MatchCase {
  const char* pattern;
  const char* name;
  bool want;
  bool bad = false;
};

TEST(PathMatchTest, GoPathMatchTable) {
  const std::vector<MatchCase> cases = {
      {"abc", "abc", true},
      {"*", "abc", true},
      {"*c", "abc", true},
      {"a*", "a", true},
      {"a*", "abc", true},
      {"a*", "ab/c", false},
      {"a*/b", "abc/b", true},
      {"a*/b", "a/c/b", false},
      {"a*b*c*d*e*/f", "axbxcxdxe/f", true},
      {"a*b*c*d*e*/f", "axbxcxdxexxx/f", true},
      {"a*b*c*d*e*/f", "axbxcxdxe/xxx/f", false},
      {"a*b*c*d*e*/f", "axbxcxdxexxx/fff", false},
      {"a*b?c*x", "abxbbxdbxebxczzx", true},
      {"a*b?c*x", "abxbbxdbxebxczzy", false},
      {"ab[c]", "abc", true},
      {"ab[b-d]", "abc", true},
      {"ab[e-g]", "abc", false},
      {"ab[^c]", "abc", false},
      {"ab[^b-d]", "abc", false},
      {"ab[^e-g]", "abc", true},
      {"a\\*b", "a*b", true},
      {"a\\*b", "ab", false},
      {"a?b", "a\xe2\x98\xba" "b", true},       // '?' is one rune, not one byte
      {"a[^a]b", "a\xe2\x98\xba" "b", true},
      {"a???b", "a\xe2\x98\xba" "b", false},
      {"a?b", "a/b", false},
      {"a*b", "a/b", false},
      {"[\\]a]", "]", true},
      {"[\\-]", "-", true},
      {"[x\\-]", "x", true},
      {"[x\\-]", "-", true},
      {"[x\\-]", "z", false},
      {"[\\-x]", "x", true},
      {"[\\-x]", "-", true},
      {"[\\-x]", "a", false},
      {"[!a]", "!", true},  // '!' is not negation in Go
      {"*x", "xxx", true},
      {"[]a]", "]", false, true},
      {"[-]", "-", false, true},
      {"[x-]", "x", false, true},
      {"[-x]", "x", false, true},
      {"\\", "a", false, true},
      {"[a-b-c]", "a", false, true},
      {"[", "a", false, true},
      {"[^", "a", false, true},
      {"[^bc", "a", false, true},
      {"a[", "a", false, true},
      {"a[", "ab", false, true},
      {"a[", "x", false, true},
      {"a/b[", "x", false, true},
  };
  for (const auto& c : cases) {
    auto got = PathMatch(c.pattern, c.name);
    if (c.bad) {
      EXPECT_EQ(got.status().code(), absl::StatusCode::kInvalidArgument)
          << c.pattern << " vs " << c.name;
    } else {
      ASSERT_TRUE(got.ok()) << c.pattern << ": " << got.status();
      EXPECT_EQ(*got, c.want) << c.pattern << " vs " << c.name;
    }
  }
}

struct IgnoreCase {
  std::vector<std::string> patterns;
  const char* path;
  bool excluded;
};

// The examples of Docker's .dockerignore documentation, plus the cleaning rules it states.
TEST(IgnoreMatcherTest, DockerDocumentationExamples) {
  const std::vector<IgnoreCase> cases = {
      // "*/temp*": names starting with temp in any immediate subdirectory of the root.
      {{"*/temp*"}, "somedir/temporary.txt", true},
      {{"*/temp*"}, "somedir/temp", true},
      {{"*/temp*"}, "somedir/temp/inner.txt", true},  // parent directory excluded
      {{"*/temp*"}, "temporary.txt", false},
      {{"*/temp*"}, "a/b/temporary.txt", false},
      // "*/*/temp*": two levels below the root.
      {{"*/*/temp*"}, "somedir/subdir/temporary.txt", true},
      {{"*/*/temp*"}, "somedir/temporary.txt", false},
      // "temp?": one-character extension in the root.
      {{"temp?"}, "tempa", true},
      {{"temp?"}, "tempb", true},
      {{"temp?"}, "temp", false},
      {{"temp?"}, "tempab", false},
      {{"temp?"}, "dir/tempa", false},
      // "**" matches any number of directories, including zero.
      {{"**/*.go"}, "main.go", true},
      {{"**/*.go"}, "a/b/c/main.go", true},
      {{"**/*.go"}, "a/b/c/main.c", false},
      {{"a/**/b"}, "a/b", true},
      {{"a/**/b"}, "a/x/y/b", true},
      {{"a/**"}, "a/x/y", true},
      {{"a/**"}, "b/x", false},
      // Exceptions: the last matching line wins.
      {{"*.md", "!README.md"}, "README.md", false},
      {{"*.md", "!README.md"}, "CHANGES.md", true},
      {{"*.md", "!README.md"}, "docs/x.md", false},  // '*' stays in the root
      {{"*.md", "!README*.md", "README-secret.md"}, "README-secret.md", true},
      {{"*.md", "!README*.md", "README-secret.md"}, "README-public.md", false},
      {{"*.md", "!README*.md", "README-secret.md"}, "other.md", true},
      {{"*.md", "README-secret.md", "!README*.md"}, "README-secret.md", false},
      // Include-list style: exclude everything, then re-include.
      {{"*", "!src"}, "src/main.c", false},
      {{"*", "!src"}, "build/out.o", true},
      {{"*", "!src"}, "Dockerfile", true},
      // Leading and trailing "/" and "./" are cleaned away; /foo/bar == foo/bar.
      {{"/foo/bar"}, "foo/bar", true},
      {{"foo/bar"}, "foo/bar", true},
      {{"/foo/bar"}, "bar", false},
      {{"/foo/bar"}, "x/foo/bar", false},
      {{"foo/"}, "foo/x", true},
      {{"./foo"}, "foo", true},
      {{"foo/../bar"}, "bar", true},
      // A directory pattern excludes everything below it.
      {{"node_modules"}, "node_modules/a/b.js", true},
      {{"node_modules"}, "src/node_modules", false},
      {{"**/node_modules"}, "src/node_modules/x.js", true},
      // Escapes and classes.
      {{"a\\*b"}, "a*b", true},
      {{"a\\*b"}, "axb", false},
      {{"[ab].txt"}, "b.txt", true},
      {{"[ab].txt"}, "c.txt", false},
      // Exception re-including a file under an excluded directory.
      {{"dir", "!dir/keep"}, "dir/keep", false},
      {{"dir", "!dir/keep"}, "dir/other", true},
  };
  for (const auto& c : cases) {
    auto m = IgnoreMatcher::FromPatterns(c.patterns);
    ASSERT_TRUE(m.ok()) << m.status();
    std::string joined;
    for (const auto& p : c.patterns) joined += p + " ";
    EXPECT_EQ(m->Excluded(c.path), c.excluded) << "[" << joined << "] " << c.path;
  }
}

TEST(IgnoreMatcherTest, ParseSkipsCommentsAndBlankLinesAndNamesTheLine) {
  auto m = IgnoreMatcher::Parse("# comment\n\n  *.log  \n!keep.log\n", ".dockerignore");
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_TRUE(m->Excluded("a.log"));
  EXPECT_FALSE(m->Excluded("keep.log"));
  EXPECT_FALSE(m->Excluded("# comment"));
  EXPECT_FALSE(m->empty());

  auto bad = IgnoreMatcher::Parse("ok\n\nfoo[\n", "ctx/.dockerignore");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(bad.status().message().find("ctx/.dockerignore:3:"), std::string::npos)
      << bad.status();

  auto bang = IgnoreMatcher::Parse("!\n", ".dockerignore");
  EXPECT_EQ(bang.status().code(), absl::StatusCode::kInvalidArgument);

  auto empty = IgnoreMatcher::Parse("# only\n\n", ".dockerignore");
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->empty());
  EXPECT_FALSE(empty->Excluded("anything"));
}

TEST(IgnoreMatcherTest, CanSkipDirectoryOnlyWithoutReachableExceptions) {
  auto plain = IgnoreMatcher::FromPatterns({"build", "*.o"});
  ASSERT_TRUE(plain.ok());
  EXPECT_TRUE(plain->CanSkipDirectory("build"));

  auto keep = IgnoreMatcher::FromPatterns({"build", "!build/keep.txt", "!other/x"});
  ASSERT_TRUE(keep.ok());
  EXPECT_FALSE(keep->CanSkipDirectory("build"));
  EXPECT_TRUE(keep->CanSkipDirectory("tmp"));
  EXPECT_FALSE(keep->Excluded("build/keep.txt"));

  auto wild = IgnoreMatcher::FromPatterns({"*", "!*/keep"});
  ASSERT_TRUE(wild.ok());
  EXPECT_FALSE(wild->CanSkipDirectory("anything"));

  auto deep = IgnoreMatcher::FromPatterns({"vendor", "!**/LICENSE"});
  ASSERT_TRUE(deep.ok());
  EXPECT_FALSE(deep->CanSkipDirectory("vendor"));
  EXPECT_FALSE(deep->Excluded("vendor/lib/LICENSE"));
  EXPECT_TRUE(deep->Excluded("vendor/lib/code.go"));
}

}  // namespace
}  // namespace slipway
