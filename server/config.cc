#include "server/config.h"

#include <unistd.h>

#include <cctype>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "nlohmann/json.hpp"
#include "storage/status_macros.h"

namespace slipway {
namespace {

const char* const kLogLevels[] = {"trace", "debug", "info", "warn", "error", "critical", "off"};

absl::Status CheckLogLevel(const std::string& level, const std::string& where) {
  for (const char* known : kLogLevels) {
    if (level == known) return absl::OkStatus();
  }
  return absl::InvalidArgumentError(
      absl::StrCat(where, ": unknown log level \"", level,
                   "\" (want trace, debug, info, warn, error, critical or off)"));
}

absl::Status CheckListen(const std::string& addr, const std::string& where) {
  if (absl::StartsWith(addr, "unix://")) {
    if (addr.size() <= 7 || addr[7] != '/') {
      return absl::InvalidArgumentError(
          absl::StrCat(where, ": \"", addr, "\" must be unix:///absolute/path (three slashes)"));
    }
    return absl::OkStatus();
  }
  size_t colon = addr.rfind(':');
  int port = 0;
  if (colon == std::string::npos || colon == 0 ||
      !absl::SimpleAtoi(addr.substr(colon + 1), &port) || port < 0 || port > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat(where, ": \"", addr, "\" is neither unix:///path nor host:port"));
  }
  return absl::OkStatus();
}

absl::Status CheckMetricsListen(const std::string& addr, const std::string& where) {
  if (addr.empty()) return absl::OkStatus();
  if (absl::StartsWith(addr, "unix://")) {
    return absl::InvalidArgumentError(
        absl::StrCat(where, ": metrics need host:port, not a unix socket"));
  }
  return CheckListen(addr, where);
}

// One setting, applied from text (env and flags are text; JSON strings too).
absl::Status ApplyText(const std::string& key, const std::string& value, const std::string& where,
                       Config& config) {
  if (key == "data_dir") {
    if (value.empty()) return absl::InvalidArgumentError(where + ": data dir must not be empty");
    config.data_dir = value;
  } else if (key == "metrics_listen") {
    SLIPWAY_RETURN_IF_ERROR(CheckMetricsListen(value, where));
    config.metrics_listen = value;
  } else if (key == "log_level") {
    std::string level = absl::AsciiStrToLower(value);
    SLIPWAY_RETURN_IF_ERROR(CheckLogLevel(level, where));
    config.log_level = level;
  } else if (key == "auth_token_file") {
    config.auth_token_file = value;
  } else if (key == "tls_cert") {
    config.tls_cert = value;
  } else if (key == "tls_key") {
    config.tls_key = value;
  } else if (key == "registry_auth_file") {
    config.registry_auth_file = value;
  } else if (key == "sandbox_helper") {
    config.sandbox_helper = value;
  } else if (key == "record_scan_token_file") {
    config.scan.record_scan_token_file = value;
  } else if (key == "gc_grace") {
    auto seconds = ParseDurationSeconds(value);
    if (!seconds.ok())
      return absl::InvalidArgumentError(absl::StrCat(where, ": ", seconds.status().message()));
    config.gc_grace_seconds = *seconds;
  } else if (key == "store_quota") {
    auto bytes = ParseByteSize(value);
    if (!bytes.ok())
      return absl::InvalidArgumentError(absl::StrCat(where, ": ", bytes.status().message()));
    config.store_quota_bytes = *bytes;
  } else if (key == "drain_timeout") {
    auto seconds = ParseDurationSeconds(value);
    if (!seconds.ok())
      return absl::InvalidArgumentError(absl::StrCat(where, ": ", seconds.status().message()));
    config.drain_timeout = absl::Seconds(*seconds);
  } else {
    return absl::InternalError(absl::StrCat("no setting named ", key));
  }
  return absl::OkStatus();
}

const char* const kJsonKeys[] = {"data_dir",        "listen",       "metrics_listen", "log_level",
                                 "auth_token_file", "tls_cert",     "tls_key",        "gc_grace",
                                 "store_quota",     "drain_timeout", "registry_auth_file",
                                 "sandbox_helper",  "scan"};

struct EnvBinding {
  const char* var;
  const char* key;
};
const EnvBinding kEnvBindings[] = {
    {"SLIPWAY_DATA_DIR", "data_dir"},           {"SLIPWAY_METRICS_LISTEN", "metrics_listen"},
    {"SLIPWAY_LOG_LEVEL", "log_level"},         {"SLIPWAY_AUTH_TOKEN_FILE", "auth_token_file"},
    {"SLIPWAY_TLS_CERT", "tls_cert"},           {"SLIPWAY_TLS_KEY", "tls_key"},
    {"SLIPWAY_GC_GRACE", "gc_grace"},           {"SLIPWAY_STORE_QUOTA", "store_quota"},
    {"SLIPWAY_DRAIN_TIMEOUT", "drain_timeout"}, {"SLIPWAY_REGISTRY_AUTH_FILE", "registry_auth_file"},
    {"SLIPWAY_RECORD_SCAN_TOKEN_FILE", "record_scan_token_file"},
    {"SLIPWAY_SANDBOX_HELPER", "sandbox_helper"},
};

struct FlagBinding {
  const char* flag;
  const char* key;
};
const FlagBinding kFlagBindings[] = {
    {"data-dir", "data_dir"},           {"metrics-listen", "metrics_listen"},
    {"log-level", "log_level"},         {"auth-token-file", "auth_token_file"},
    {"tls-cert", "tls_cert"},           {"tls-key", "tls_key"},
    {"gc-grace", "gc_grace"},           {"store-quota", "store_quota"},
    {"drain-timeout", "drain_timeout"}, {"registry-auth-file", "registry_auth_file"},
    {"record-scan-token-file", "record_scan_token_file"},
    {"sandbox-helper", "sandbox_helper"},
};

}  // namespace

ConfigEnvironment ConfigEnvironment::FromProcess() {
  ConfigEnvironment env;
  env.getenv = [](const std::string& name) -> std::optional<std::string> {
    const char* v = std::getenv(name.c_str());
    if (v == nullptr) return std::nullopt;
    return std::string(v);
  };
  env.is_root = geteuid() == 0;
  return env;
}

Config DefaultConfig(const ConfigEnvironment& env) {
  Config config;
  if (env.is_root) {
    config.data_dir = "/var/lib/slipway";
  } else if (auto xdg = env.getenv("XDG_DATA_HOME"); xdg && !xdg->empty()) {
    config.data_dir = *xdg + "/slipway";
  } else if (auto home = env.getenv("HOME"); home && !home->empty()) {
    config.data_dir = *home + "/.local/share/slipway";
  } else {
    config.data_dir = "./slipway-data";
  }
  config.metrics_listen = "127.0.0.1:9464";
  return config;
}

std::string DefaultListenAddress(const ConfigEnvironment& env, const std::string& data_dir) {
  if (env.is_root) return "unix:///run/slipway/slipway.sock";
  if (auto run = env.getenv("XDG_RUNTIME_DIR"); run && !run->empty()) {
    return "unix://" + *run + "/slipway.sock";
  }
  std::string dir = data_dir;
  if (!dir.empty() && dir[0] != '/') {
    char cwd[4096];
    if (getcwd(cwd, sizeof(cwd)) != nullptr) dir = std::string(cwd) + "/" + dir;
  }
  return "unix://" + dir + "/slipway.sock";
}

absl::Status ApplyConfigJson(const std::string& text, const std::string& source, Config& config) {
  // nlohmann throws; nothing may escape this function.
  nlohmann::json doc = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) {
    return absl::InvalidArgumentError(absl::StrCat(source, ": not valid JSON"));
  }
  if (!doc.is_object()) {
    return absl::InvalidArgumentError(absl::StrCat(source, ": must be a JSON object"));
  }
  std::vector<std::string> unknown;
  for (auto it = doc.begin(); it != doc.end(); ++it) {
    bool known = false;
    for (const char* k : kJsonKeys) known = known || it.key() == k;
    if (!known) unknown.push_back("\"" + it.key() + "\"");
  }
  if (!unknown.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        source, ": unknown key", unknown.size() > 1 ? "s " : " ", absl::StrJoin(unknown, ", ")));
  }
  for (auto it = doc.begin(); it != doc.end(); ++it) {
    const std::string& key = it.key();
    const nlohmann::json& value = it.value();
    std::string where = absl::StrCat(source, ": key \"", key, "\"");
    if (key == "listen") {
      std::vector<std::string> addrs;
      if (value.is_string()) {
        addrs.push_back(value.get<std::string>());
      } else if (value.is_array()) {
        for (const auto& item : value) {
          if (!item.is_string()) {
            return absl::InvalidArgumentError(where + ": array items must be strings");
          }
          addrs.push_back(item.get<std::string>());
        }
      } else {
        return absl::InvalidArgumentError(where + ": must be a string or an array of strings");
      }
      for (const auto& a : addrs) SLIPWAY_RETURN_IF_ERROR(CheckListen(a, where));
      config.listen = std::move(addrs);
      continue;
    }
    if (key == "scan") {
      SLIPWAY_ASSIGN_OR_RETURN(config.scan, scan::ParseScanConfig(value, source));
      continue;
    }
    std::string text_value;
    if (value.is_string()) {
      text_value = value.get<std::string>();
    } else if (value.is_number_integer() &&
               (key == "gc_grace" || key == "store_quota" || key == "drain_timeout")) {
      text_value = std::to_string(value.get<int64_t>());
    } else {
      return absl::InvalidArgumentError(
          where + ": wrong type (want a string" +
          std::string(key == "gc_grace" || key == "store_quota" || key == "drain_timeout"
                          ? " or an integer)"
                          : ")"));
    }
    SLIPWAY_RETURN_IF_ERROR(ApplyText(key, text_value, where, config));
  }
  return absl::OkStatus();
}

absl::Status ApplyConfigFile(const std::string& path, Config& config) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("config file ", path, ": cannot open"));
  std::stringstream buffer;
  buffer << in.rdbuf();
  if (in.bad())
    return absl::InvalidArgumentError(absl::StrCat("config file ", path, ": read error"));
  SLIPWAY_RETURN_IF_ERROR(ApplyConfigJson(buffer.str(), "config file " + path, config));
  config.config_file = path;
  return absl::OkStatus();
}

absl::Status ApplyEnvironment(const ConfigEnvironment& env, Config& config) {
  for (const auto& binding : kEnvBindings) {
    auto value = env.getenv(binding.var);
    if (!value) continue;
    SLIPWAY_RETURN_IF_ERROR(ApplyText(binding.key, *value, binding.var, config));
  }
  if (auto listen = env.getenv("SLIPWAY_LISTEN"); listen && !listen->empty()) {
    std::vector<std::string> addrs = absl::StrSplit(*listen, ',', absl::SkipWhitespace());
    for (auto& a : addrs) {
      a = std::string(absl::StripAsciiWhitespace(a));
      SLIPWAY_RETURN_IF_ERROR(CheckListen(a, "SLIPWAY_LISTEN"));
    }
    config.listen = std::move(addrs);
  }
  return absl::OkStatus();
}

std::vector<std::string> ConfigFlagNames() {
  std::vector<std::string> names = {"listen", "config"};
  for (const auto& b : kFlagBindings) names.push_back(b.flag);
  return names;
}

absl::StatusOr<std::vector<FlagValue>> ParseFlags(const std::vector<std::string>& args,
                                                  const std::vector<std::string>& known_flags,
                                                  const std::vector<std::string>& boolean_flags) {
  auto contains = [](const std::vector<std::string>& list, const std::string& s) {
    for (const auto& x : list) {
      if (x == s) return true;
    }
    return false;
  };
  std::vector<FlagValue> out;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (!absl::StartsWith(arg, "--") || arg.size() == 2) {
      return absl::InvalidArgumentError(absl::StrCat("unexpected argument \"", arg, "\""));
    }
    std::string name = arg.substr(2);
    std::optional<std::string> value;
    if (size_t eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
    }
    if (contains(boolean_flags, name)) {
      out.push_back({name, value.value_or("true")});
      continue;
    }
    if (!contains(known_flags, name)) {
      return absl::InvalidArgumentError(absl::StrCat("unknown flag --", name));
    }
    if (!value) {
      if (i + 1 >= args.size()) {
        return absl::InvalidArgumentError(absl::StrCat("flag --", name, " needs a value"));
      }
      value = args[++i];
    }
    out.push_back({name, *value});
  }
  return out;
}

absl::Status ApplyFlags(const std::vector<FlagValue>& flags, Config& config) {
  bool listen_replaced = false;
  for (const auto& flag : flags) {
    std::string where = "--" + flag.name;
    if (flag.name == "listen") {
      SLIPWAY_RETURN_IF_ERROR(CheckListen(flag.value, where));
      if (!listen_replaced) config.listen.clear();
      listen_replaced = true;
      config.listen.push_back(flag.value);
      continue;
    }
    for (const auto& b : kFlagBindings) {
      if (flag.name == b.flag) SLIPWAY_RETURN_IF_ERROR(ApplyText(b.key, flag.value, where, config));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<Config> LoadConfig(const std::vector<FlagValue>& flags,
                                  const ConfigEnvironment& env) {
  Config config = DefaultConfig(env);
  std::string config_file;
  if (auto from_env = env.getenv("SLIPWAY_CONFIG"); from_env && !from_env->empty()) {
    config_file = *from_env;
  }
  for (const auto& flag : flags) {
    if (flag.name == "config") config_file = flag.value;
  }
  if (!config_file.empty()) SLIPWAY_RETURN_IF_ERROR(ApplyConfigFile(config_file, config));
  SLIPWAY_RETURN_IF_ERROR(ApplyEnvironment(env, config));
  SLIPWAY_RETURN_IF_ERROR(ApplyFlags(flags, config));
  if (config.listen.empty()) config.listen.push_back(DefaultListenAddress(env, config.data_dir));
  if (config.tls_cert.empty() != config.tls_key.empty()) {
    return absl::InvalidArgumentError("--tls-cert and --tls-key must be given together");
  }
  return config;
}

absl::StatusOr<int64_t> ParseDurationSeconds(const std::string& text) {
  std::string t(absl::StripAsciiWhitespace(text));
  int64_t plain = 0;
  if (absl::SimpleAtoi(t, &plain)) {
    if (plain < 0) return absl::InvalidArgumentError("duration \"" + text + "\" is negative");
    return plain;
  }
  absl::Duration d;
  if (t.empty() || !absl::ParseDuration(t, &d) || d < absl::ZeroDuration() ||
      d == absl::InfiniteDuration()) {
    return absl::InvalidArgumentError("bad duration \"" + text +
                                      "\" (want seconds or e.g. 90s, 15m, 2h)");
  }
  return absl::ToInt64Seconds(d);
}

absl::StatusOr<int64_t> ParseByteSize(const std::string& text) {
  std::string t(absl::StripAsciiWhitespace(text));
  size_t i = 0;
  while (i < t.size() && std::isdigit(static_cast<unsigned char>(t[i]))) ++i;
  int64_t number = 0;
  if (i == 0 || !absl::SimpleAtoi(t.substr(0, i), &number)) {
    return absl::InvalidArgumentError("bad size \"" + text +
                                      "\" (want e.g. 1073741824, 512MiB, 10GiB)");
  }
  std::string unit = absl::AsciiStrToLower(absl::StripAsciiWhitespace(t.substr(i)));
  struct Unit {
    const char* name;
    int64_t factor;
  };
  static constexpr Unit kUnits[] = {
      {"", 1},
      {"b", 1},
      {"k", 1LL << 10},
      {"kib", 1LL << 10},
      {"kb", 1000},
      {"m", 1LL << 20},
      {"mib", 1LL << 20},
      {"mb", 1000000},
      {"g", 1LL << 30},
      {"gib", 1LL << 30},
      {"gb", 1000000000},
      {"t", 1LL << 40},
      {"tib", 1LL << 40},
      {"tb", 1000000000000},
  };
  for (const auto& u : kUnits) {
    if (unit == u.name) {
      if (number > INT64_MAX / u.factor) {
        return absl::InvalidArgumentError("size \"" + text + "\" is too large");
      }
      return number * u.factor;
    }
  }
  return absl::InvalidArgumentError("bad size unit in \"" + text +
                                    "\" (want B, KiB, MiB, GiB, TiB)");
}

}  // namespace slipway
