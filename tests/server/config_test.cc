#include "server/config.h"

#include <map>

#include "gtest/gtest.h"
#include "tests/support/temp_dir.h"

namespace slipway {
namespace {

ConfigEnvironment FakeEnv(std::map<std::string, std::string> vars, bool root = false) {
  ConfigEnvironment env;
  env.getenv = [vars](const std::string& name) -> std::optional<std::string> {
    auto it = vars.find(name);
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
  env.is_root = root;
  return env;
}

std::vector<FlagValue> Flags(const std::vector<std::string>& args) {
  auto flags = ParseFlags(args, ConfigFlagNames(), {});
  EXPECT_TRUE(flags.ok()) << flags.status();
  return flags.ok() ? *flags : std::vector<FlagValue>{};
}

TEST(ConfigTest, DefaultsForRoot) {
  auto config = LoadConfig({}, FakeEnv({}, /*root=*/true));
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->data_dir, "/var/lib/slipway");
  ASSERT_EQ(config->listen.size(), 1u);
  EXPECT_EQ(config->listen[0], "unix:///run/slipway/slipway.sock");
  EXPECT_EQ(config->metrics_listen, "127.0.0.1:9464");
  EXPECT_EQ(config->drain_timeout, absl::Seconds(30));
}

TEST(ConfigTest, DefaultsForUserFollowXdg) {
  auto config = LoadConfig({}, FakeEnv({{"HOME", "/home/u"}, {"XDG_RUNTIME_DIR", "/run/user/1"}}));
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->data_dir, "/home/u/.local/share/slipway");
  EXPECT_EQ(config->listen[0], "unix:///run/user/1/slipway.sock");

  auto no_runtime = LoadConfig({}, FakeEnv({{"XDG_DATA_HOME", "/d"}}));
  ASSERT_TRUE(no_runtime.ok());
  EXPECT_EQ(no_runtime->data_dir, "/d/slipway");
  EXPECT_EQ(no_runtime->listen[0], "unix:///d/slipway/slipway.sock");
}

TEST(ConfigTest, FileThenEnvThenFlags) {
  testing::TempDir dir;
  std::string file = dir.Sub("slipway.json");
  testing::WriteFile(file, R"({"data_dir": "/from/file", "log_level": "debug",
      "gc_grace": "2h", "store_quota": "1GiB", "drain_timeout": 5,
      "listen": ["unix:///from/file.sock"], "metrics_listen": "127.0.0.1:1000"})");

  // File only.
  auto config = LoadConfig(Flags({"--config", file}), FakeEnv({}));
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->data_dir, "/from/file");
  EXPECT_EQ(config->log_level, "debug");
  EXPECT_EQ(config->gc_grace_seconds, 7200);
  EXPECT_EQ(config->store_quota_bytes, int64_t{1} << 30);
  EXPECT_EQ(config->drain_timeout, absl::Seconds(5));
  EXPECT_EQ(config->listen, std::vector<std::string>{"unix:///from/file.sock"});

  // Environment beats the file.
  auto env = FakeEnv({{"SLIPWAY_DATA_DIR", "/from/env"},
                      {"SLIPWAY_LISTEN", "unix:///env.sock, 127.0.0.1:7000"},
                      {"SLIPWAY_LOG_LEVEL", "WARN"}});
  config = LoadConfig(Flags({"--config", file}), env);
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->data_dir, "/from/env");
  EXPECT_EQ(config->log_level, "warn");
  EXPECT_EQ(config->listen, (std::vector<std::string>{"unix:///env.sock", "127.0.0.1:7000"}));
  EXPECT_EQ(config->gc_grace_seconds, 7200);  // untouched by env

  // Flags beat both; --listen repeats.
  config =
      LoadConfig(Flags({"--config", file, "--data-dir", "/from/flag", "--listen", "unix:///a.sock",
                        "--listen=127.0.0.1:1", "--gc-grace", "90", "--metrics-listen", ""}),
                 env);
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->data_dir, "/from/flag");
  EXPECT_EQ(config->listen, (std::vector<std::string>{"unix:///a.sock", "127.0.0.1:1"}));
  EXPECT_EQ(config->gc_grace_seconds, 90);
  EXPECT_EQ(config->metrics_listen, "");  // empty = metrics off
  EXPECT_EQ(config->log_level, "warn");
}

TEST(ConfigTest, ConfigFileFromEnvironment) {
  testing::TempDir dir;
  std::string file = dir.Sub("c.json");
  testing::WriteFile(file, R"({"data_dir": "/x"})");
  auto config = LoadConfig({}, FakeEnv({{"SLIPWAY_CONFIG", file}}));
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->data_dir, "/x");
}

TEST(ConfigTest, UnknownKeysAreNamed) {
  Config config;
  absl::Status s = ApplyConfigJson(R"({"data_dir": "/x", "datadir": "/y", "listn": []})",
                                   "config file f.json", config);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("\"datadir\""), std::string::npos) << s;
  EXPECT_NE(s.message().find("\"listn\""), std::string::npos) << s;
  EXPECT_NE(s.message().find("f.json"), std::string::npos) << s;
}

TEST(ConfigTest, BadValuesAreNamed) {
  Config config;
  absl::Status s = ApplyConfigJson(R"({"log_level": "loud"})", "cfg", config);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("log_level"), std::string::npos) << s;
  s = ApplyConfigJson(R"({"data_dir": 5})", "cfg", config);
  EXPECT_NE(s.message().find("data_dir"), std::string::npos) << s;
  s = ApplyConfigJson("{not json", "cfg", config);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  s = ApplyConfigJson(R"({"listen": "nowhere"})", "cfg", config);
  EXPECT_NE(s.message().find("listen"), std::string::npos) << s;

  auto env = FakeEnv({{"SLIPWAY_STORE_QUOTA", "lots"}});
  auto loaded = LoadConfig({}, env);
  ASSERT_FALSE(loaded.ok());
  EXPECT_NE(loaded.status().message().find("SLIPWAY_STORE_QUOTA"), std::string::npos);

  auto bad_flag = LoadConfig(Flags({"--drain-timeout", "soon"}), FakeEnv({}));
  ASSERT_FALSE(bad_flag.ok());
  EXPECT_NE(bad_flag.status().message().find("--drain-timeout"), std::string::npos);
}

TEST(ConfigTest, MissingConfigFileIsAnError) {
  auto config = LoadConfig(Flags({"--config", "/nonexistent/slipway.json"}), FakeEnv({}));
  ASSERT_FALSE(config.ok());
  EXPECT_NE(config.status().message().find("/nonexistent/slipway.json"), std::string::npos);
}

TEST(ConfigTest, ParseFlagsRejectsUnknownAndPositional) {
  EXPECT_FALSE(ParseFlags({"--bogus", "1"}, ConfigFlagNames(), {}).ok());
  EXPECT_FALSE(ParseFlags({"serve"}, ConfigFlagNames(), {}).ok());
  EXPECT_FALSE(ParseFlags({"--data-dir"}, ConfigFlagNames(), {}).ok());
  auto ok = ParseFlags({"--repair", "--data-dir=/d"}, ConfigFlagNames(), {"repair"});
  ASSERT_TRUE(ok.ok());
  ASSERT_EQ(ok->size(), 2u);
  EXPECT_EQ((*ok)[0].name, "repair");
  EXPECT_EQ((*ok)[1].value, "/d");
}

TEST(ConfigTest, TlsCertAndKeyGoTogether) {
  auto config = LoadConfig(Flags({"--tls-cert", "/c.pem"}), FakeEnv({}));
  EXPECT_FALSE(config.ok());
}

TEST(ConfigTest, DurationsAndSizes) {
  EXPECT_EQ(*ParseDurationSeconds("90"), 90);
  EXPECT_EQ(*ParseDurationSeconds("15m"), 900);
  EXPECT_EQ(*ParseDurationSeconds("1h30m"), 5400);
  EXPECT_FALSE(ParseDurationSeconds("-5").ok());
  EXPECT_FALSE(ParseDurationSeconds("soon").ok());
  EXPECT_EQ(*ParseByteSize("0"), 0);
  EXPECT_EQ(*ParseByteSize("512MiB"), int64_t{512} << 20);
  EXPECT_EQ(*ParseByteSize("10G"), int64_t{10} << 30);
  EXPECT_EQ(*ParseByteSize("2GB"), 2000000000);
  EXPECT_FALSE(ParseByteSize("12XB").ok());
  EXPECT_FALSE(ParseByteSize("").ok());
  EXPECT_FALSE(ParseByteSize("99999999999TiB").ok());
}

}  // namespace
}  // namespace slipway
