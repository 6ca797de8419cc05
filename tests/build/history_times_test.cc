#include "server/build/history_times.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace slipway::build {
namespace {

using ::testing::ElementsAre;

constexpr int64_t kNow = 1800000000;

std::vector<std::string> Times(const ImageConfig& config) {
  auto doc = nlohmann::json::parse(config.Serialize("x"));
  std::vector<std::string> out;
  for (const auto& h : doc["history"]) out.push_back(h.value("created", "<none>"));
  return out;
}

ImageConfig Scratch() { return ImageConfig::Scratch({"linux", "amd64", ""}); }

// A minimal valid base config with `created` set to `created_json` (a JSON value).
std::string BaseConfig(const std::string& created_json) {
  return R"({"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]},)"
         R"("history":[{"created":"2023-11-14T22:13:20Z"}],"created":)" +
         created_json + "}";
}

TEST(HistoryTimesTest, LayersKeepTheirBuildTimesAndMetadataFollowsTheLayerBeforeIt) {
  ImageConfig config = Scratch();
  HistoryTimes times(kNow, std::nullopt, std::nullopt);
  times.Metadata(config.AddHistory("ENV A=1", true));     // before any layer: the first one's
  times.Layer(config.AddHistory("COPY a /a", false), 1700000000);
  times.Metadata(config.AddHistory("LABEL x=y", true));
  times.Layer(config.AddHistory("COPY b /b", false), 1750000000);
  times.Metadata(config.AddHistory("CMD [\"/a\"]", true));
  EXPECT_EQ(times.Settle(config), 1750000000);
  EXPECT_THAT(Times(config), ElementsAre(Rfc3339(1700000000), Rfc3339(1700000000),
                                         Rfc3339(1700000000), Rfc3339(1750000000),
                                         Rfc3339(1750000000)));
}

TEST(HistoryTimesTest, TheImageIsAsNewAsItsNewestLayerEvenOutOfOrder) {
  ImageConfig config = Scratch();
  HistoryTimes times(kNow, std::nullopt, std::nullopt);
  times.Layer(config.AddHistory("COPY a /a", false), 1750000000);
  times.Layer(config.AddHistory("COPY b /b", false), 1700000000);
  EXPECT_EQ(times.Settle(config), 1750000000);
}

TEST(HistoryTimesTest, MetadataOnABaseTakesTheBasesTime) {
  auto config = ImageConfig::FromJson(BaseConfig(R"("2023-11-14T22:13:20Z")"), "base");
  ASSERT_TRUE(config.ok()) << config.status();
  ASSERT_EQ(config->CreatedUnix(), 1700000000);
  HistoryTimes times(kNow, std::nullopt, config->CreatedUnix());
  times.Metadata(config->AddHistory("WORKDIR /src", true));
  EXPECT_EQ(times.Settle(*config), 1700000000);
  EXPECT_THAT(Times(*config), ElementsAre("2023-11-14T22:13:20Z", "2023-11-14T22:13:20Z"));
}

TEST(HistoryTimesTest, UnknownTimesAndEmptyStagesTakeTheBuildsTime) {
  ImageConfig config = Scratch();
  HistoryTimes times(kNow, std::nullopt, std::nullopt);
  times.Layer(config.AddHistory("COPY a /a", false), 0);  // a cache entry without a time
  EXPECT_EQ(times.Settle(config), kNow);
  EXPECT_THAT(Times(config), ElementsAre(Rfc3339(kNow)));

  ImageConfig empty = Scratch();
  HistoryTimes none(kNow, std::nullopt, std::nullopt);
  none.Metadata(empty.AddHistory("LABEL x=y", true));
  EXPECT_EQ(none.Settle(empty), kNow);
  EXPECT_THAT(Times(empty), ElementsAre(Rfc3339(kNow)));
}

TEST(HistoryTimesTest, SourceDateEpochFixesEveryTime) {
  ImageConfig config = Scratch();
  HistoryTimes times(kNow, int64_t{1600000000}, int64_t{1700000000});
  times.Layer(config.AddHistory("COPY a /a", false), 1750000000);
  times.Metadata(config.AddHistory("CMD x", true));
  EXPECT_EQ(times.Settle(config), 1600000000);
  EXPECT_THAT(Times(config), ElementsAre(Rfc3339(1600000000), Rfc3339(1600000000)));
}

TEST(HistoryTimesTest, CreatedUnixNeedsAnRfc3339String) {
  auto bad = ImageConfig::FromJson(BaseConfig(R"("yesterday")"), "base");
  ASSERT_TRUE(bad.ok());
  EXPECT_EQ(bad->CreatedUnix(), std::nullopt);
  auto fractional =
      ImageConfig::FromJson(BaseConfig(R"("2023-11-14T22:13:20.123456789Z")"), "base");
  ASSERT_TRUE(fractional.ok());
  EXPECT_EQ(fractional->CreatedUnix(), 1700000000);
  EXPECT_EQ(Scratch().CreatedUnix(), std::nullopt);
}

}  // namespace
}  // namespace slipway::build
