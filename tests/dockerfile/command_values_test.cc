// Value syntaxes: Go durations (HEALTHCHECK), EXPOSE ports, --chmod modes, boolean flags.
#include "server/build/dockerfile/command_values.h"

#include <ostream>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace slipway::build::dockerfile_internal {
namespace {

using ::testing::ElementsAre;

struct DurationCase {
  const char* text;
  int64_t ns;
};

void PrintTo(const DurationCase& c, std::ostream* os) { *os << c.text; }

class DurationTest : public ::testing::TestWithParam<DurationCase> {};

TEST_P(DurationTest, ParsesLikeGo) {
  auto ns = ParseGoDuration(GetParam().text);
  ASSERT_TRUE(ns.ok()) << ns.status();
  EXPECT_EQ(*ns, GetParam().ns);
}

INSTANTIATE_TEST_SUITE_P(
    Go, DurationTest,
    ::testing::Values(DurationCase{"0", 0}, DurationCase{"30s", 30'000'000'000},
                      DurationCase{"1m30s", 90'000'000'000}, DurationCase{"300ms", 300'000'000},
                      DurationCase{"0.3s", 300'000'000}, DurationCase{".5s", 500'000'000},
                      DurationCase{"1.5h", 5'400'000'000'000},
                      DurationCase{"2h45m", 9'900'000'000'000}, DurationCase{"10us", 10'000},
                      DurationCase{"10\xC2\xB5s", 10'000}, DurationCase{"7ns", 7},
                      DurationCase{"-2s", -2'000'000'000}, DurationCase{"+1s", 1'000'000'000}));

TEST(DurationTest, Rejects) {
  for (const char* bad : {"", "5", "s", "1x", "1.2.3s", "-", "1s5", "99999999999999999999h"}) {
    EXPECT_FALSE(ParseGoDuration(bad).ok()) << bad;
  }
}

TEST(ExposePortTest, Normalizes) {
  EXPECT_THAT(*NormalizeExposePort("80"), ElementsAre("80/tcp"));
  EXPECT_THAT(*NormalizeExposePort("80/UDP"), ElementsAre("80/udp"));
  EXPECT_THAT(*NormalizeExposePort("9/sctp"), ElementsAre("9/sctp"));
  EXPECT_THAT(*NormalizeExposePort("7000-7001/udp"), ElementsAre("7000/udp", "7001/udp"));
  for (const char* bad : {"0", "65536", "80/icmp", "9-8", "a-b", "", "80:80", "-1"}) {
    EXPECT_FALSE(NormalizeExposePort(bad).ok()) << bad;
  }
}

TEST(ChmodTest, OctalOnly) {
  EXPECT_EQ(*ParseOctalMode("755"), 0755u);
  EXPECT_EQ(*ParseOctalMode("0644"), 0644u);
  EXPECT_EQ(*ParseOctalMode("4755"), 04755u);
  for (const char* bad : {"", "8", "u+x", "0x1", "17777", "-1"}) {
    EXPECT_FALSE(ParseOctalMode(bad).ok()) << bad;
  }
}

TEST(BoolFlagTest, BareIsTrue) {
  EXPECT_TRUE(*ParseBoolFlag("link", false, ""));
  EXPECT_TRUE(*ParseBoolFlag("link", true, "true"));
  EXPECT_FALSE(*ParseBoolFlag("link", true, "false"));
  EXPECT_FALSE(ParseBoolFlag("link", true, "").ok());
  EXPECT_FALSE(ParseBoolFlag("link", true, "yes please").ok());
}

}  // namespace
}  // namespace slipway::build::dockerfile_internal
