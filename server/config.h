#ifndef SLIPWAY_SERVER_CONFIG_H_
#define SLIPWAY_SERVER_CONFIG_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "server/scan/scan_config.h"

namespace slipway {

// Everything slipwayd can be told. Each setting is layered, later layers winning:
//   embedded defaults < JSON config file (--config / SLIPWAY_CONFIG) < environment < flags.
// docs/CONFIGURATION.md documents every setting; keep the two in step.
struct Config {
  std::string data_dir;             // blobs, index.db, LOCK
  std::vector<std::string> listen;  // "unix:///path" or "host:port"; never empty after Load
  std::string metrics_listen;       // "host:port"; empty = no metrics endpoint
  std::string log_level = "info";   // trace, debug, info, warn, error, critical, off
  std::string auth_token_file;      // required for any TCP listener
  std::string tls_cert;             // PEM; required (with tls_key) off loopback
  std::string tls_key;
  int64_t gc_grace_seconds = 3600;  // unreferenced blobs younger than this survive GC
  int64_t store_quota_bytes = 0;    // 0 = no quota
  absl::Duration drain_timeout = absl::Seconds(30);
  std::string registry_auth_file;   // docker config.json for pushes without credentials; "" = off
  // The slipway-sandbox helper that runs RUN steps; "" = next to the slipwayd executable.
  std::string sandbox_helper;
  scan::ScanConfig scan;     // "scan" in the config file: hooks, push gate, record-scan token
  std::string config_file;  // the file that was read, if any (for logs)
};

// What the loader needs from the process, injectable so tests control it.
struct ConfigEnvironment {
  std::function<std::optional<std::string>(const std::string&)> getenv;
  bool is_root = false;
  // The process's real environment and effective uid.
  static ConfigEnvironment FromProcess();
};

// The defaults for this user: data dir /var/lib/slipway as root, else $XDG_DATA_HOME/slipway or
// ~/.local/share/slipway. `listen` is left empty here; FinalizeListen fills it.
Config DefaultConfig(const ConfigEnvironment& env);

// Default socket when nothing configured one: unix:///run/slipway/slipway.sock as root, else
// $XDG_RUNTIME_DIR/slipway.sock, else <data_dir>/slipway.sock.
std::string DefaultListenAddress(const ConfigEnvironment& env, const std::string& data_dir);

// Applies a JSON object (the config file's text). INVALID_ARGUMENT naming `source` and the
// key for malformed JSON, a wrong type, a bad value, or unknown keys (all of them are named).
absl::Status ApplyConfigJson(const std::string& text, const std::string& source, Config& config);
// Reads `path` and applies it; NOT_FOUND / INVALID_ARGUMENT naming the file.
absl::Status ApplyConfigFile(const std::string& path, Config& config);
// Applies SLIPWAY_* variables; INVALID_ARGUMENT naming the variable for a bad value.
absl::Status ApplyEnvironment(const ConfigEnvironment& env, Config& config);

// Flags, in the order they were given. `--name value` and `--name=value` are both accepted.
struct FlagValue {
  std::string name;   // without the leading dashes
  std::string value;  // "true" for boolean flags given bare
};
// Splits `args` (without argv[0] and without a subcommand) into flags. `boolean_flags` take no
// value. INVALID_ARGUMENT for a positional argument, an unknown flag, or a missing value.
absl::StatusOr<std::vector<FlagValue>> ParseFlags(const std::vector<std::string>& args,
                                                  const std::vector<std::string>& known_flags,
                                                  const std::vector<std::string>& boolean_flags);
// Applies flags that name Config settings (others are ignored here). `--listen` is repeatable:
// the first one replaces what lower layers configured, the rest append.
absl::Status ApplyFlags(const std::vector<FlagValue>& flags, Config& config);

// The flags ApplyFlags understands (for ParseFlags).
std::vector<std::string> ConfigFlagNames();

// The whole chain: defaults, the config file named by --config (else SLIPWAY_CONFIG), the
// environment, then the flags; finally the default listener if none was configured.
absl::StatusOr<Config> LoadConfig(const std::vector<FlagValue>& flags,
                                  const ConfigEnvironment& env);

// "90", "90s", "15m", "2h", "1h30m" → seconds (>= 0). INVALID_ARGUMENT otherwise.
absl::StatusOr<int64_t> ParseDurationSeconds(const std::string& text);
// "0", "1048576", "512MiB", "10GiB", "1G" (powers of 1024; "MB"/"GB" powers of 1000) → bytes.
absl::StatusOr<int64_t> ParseByteSize(const std::string& text);

}  // namespace slipway

#endif  // SLIPWAY_SERVER_CONFIG_H_
