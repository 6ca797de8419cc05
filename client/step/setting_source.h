#ifndef SLIPWAY_CLIENT_STEP_SETTING_SOURCE_H_
#define SLIPWAY_CLIENT_STEP_SETTING_SOURCE_H_

#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "client/connection.h"
#include "client/step/dotenv.h"

namespace slipway::client::step {

// Looks one step setting up where a CI step may have put it, in precedence order:
//   1. a --flag (`flags`, already split from the command line),
//   2. the process environment, trying each alias in order; a PLUGIN_* name also matches any
//      spelling of its suffix (the buildah plugin's PLUGIN_dry_run is PLUGIN_DRY_RUN),
//   3. the PLUGIN_ENV_FILE entries (same aliases and spellings; a later line wins).
// An empty value counts as unset (CI systems export empty variables for blank inputs).
// Every PLUGIN_* name looked up is remembered, so the ones nobody asked for can be listed as
// ignored. Not thread-safe (one parse at a time).
class SettingSource {
 public:
  struct Value {
    std::string value;
    std::string origin;  // "--repo", "PLUGIN_TAGS" or "PLUGIN_TAGS (env file)": for messages
  };

  SettingSource(EnvLookup env, const std::vector<std::string>& env_names, const DotenvEntries& file,
                std::map<std::string, std::string> flags);

  // The first non-empty value for `flag` (its name without "--"; empty: none) or one of `vars`.
  std::optional<Value> Get(const std::vector<std::string>& vars, const std::string& flag = "");
  // Only the environment and the env file (for variables that have no flag).
  std::optional<Value> GetEnv(const std::vector<std::string>& vars) { return Get(vars, ""); }
  // Raw environment/file lookup of a plain variable (DRONE_*, a BUILD_ARGS_FROM_ENV name); not
  // recorded as consumed.
  std::optional<std::string> Plain(const std::string& name) const;

  // PLUGIN_* names present (environment or env file, as spelled there) that no Get asked for,
  // sorted and without duplicates.
  std::vector<std::string> Unconsumed() const;

 private:
  std::optional<std::string> Lookup(const std::string& name, bool* from_file) const;

  EnvLookup env_;
  // Upper-cased PLUGIN_* name -> every spelling present in the environment / the file.
  std::map<std::string, std::vector<std::string>> env_spellings_;
  std::map<std::string, std::vector<std::string>> file_spellings_;
  std::map<std::string, std::string> file_;  // as spelled; later lines win
  std::map<std::string, std::string> flags_;
  std::set<std::string> consumed_;  // upper-cased
};

// True if `name` starts with "PLUGIN_" in any letter case.
bool IsPluginName(const std::string& name);

// A setting as a boolean: true/false/1/0/yes/no in any case (surrounding spaces ignored);
// `fallback` when unset. INVALID_ARGUMENT naming the origin otherwise.
absl::StatusOr<bool> ParseBool(const std::optional<SettingSource::Value>& v, bool fallback = false);

// A `sep`-separated list, entries trimmed, empty entries dropped; empty when unset.
std::vector<std::string> ParseList(const std::optional<SettingSource::Value>& v, char sep = ',');

}  // namespace slipway::client::step

#endif  // SLIPWAY_CLIENT_STEP_SETTING_SOURCE_H_
