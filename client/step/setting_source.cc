#include "client/step/setting_source.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace slipway::client::step {

bool IsPluginName(const std::string& name) { return absl::StartsWithIgnoreCase(name, "PLUGIN_"); }

absl::StatusOr<bool> ParseBool(const std::optional<SettingSource::Value>& v, bool fallback) {
  if (!v) return fallback;
  std::string s = absl::AsciiStrToLower(absl::StripAsciiWhitespace(v->value));
  if (s == "true" || s == "1" || s == "yes") return true;
  if (s == "false" || s == "0" || s == "no") return false;
  return absl::InvalidArgumentError(
      absl::StrCat(v->origin, ": \"", v->value, "\" is not a boolean (true/false/1/0/yes/no)"));
}

std::vector<std::string> ParseList(const std::optional<SettingSource::Value>& v, char sep) {
  std::vector<std::string> out;
  if (!v) return out;
  for (absl::string_view item : absl::StrSplit(v->value, sep)) {
    item = absl::StripAsciiWhitespace(item);
    if (!item.empty()) out.emplace_back(item);
  }
  return out;
}

SettingSource::SettingSource(EnvLookup env, const std::vector<std::string>& env_names,
                             const DotenvEntries& file, std::map<std::string, std::string> flags)
    : env_(std::move(env)), flags_(std::move(flags)) {
  for (const auto& name : env_names) {
    if (!IsPluginName(name)) continue;
    auto& list = env_spellings_[absl::AsciiStrToUpper(name)];
    if (std::find(list.begin(), list.end(), name) == list.end()) list.push_back(name);
  }
  for (const auto& [key, value] : file) {
    file_[key] = value;
    if (!IsPluginName(key)) continue;
    auto& list = file_spellings_[absl::AsciiStrToUpper(key)];
    if (std::find(list.begin(), list.end(), key) == list.end()) list.push_back(key);
  }
}

std::optional<std::string> SettingSource::Lookup(const std::string& name, bool* from_file) const {
  *from_file = false;
  auto non_empty_env = [&](const std::string& n) -> std::optional<std::string> {
    auto v = env_(n);
    if (v && !v->empty()) return v;
    return std::nullopt;
  };
  if (auto v = non_empty_env(name)) return v;
  const std::string upper = absl::AsciiStrToUpper(name);
  if (IsPluginName(name)) {
    if (auto it = env_spellings_.find(upper); it != env_spellings_.end()) {
      for (const auto& spelling : it->second) {
        if (auto v = non_empty_env(spelling)) return v;
      }
    }
  }
  *from_file = true;
  if (auto it = file_.find(name); it != file_.end() && !it->second.empty()) return it->second;
  if (IsPluginName(name)) {
    if (auto it = file_spellings_.find(upper); it != file_spellings_.end()) {
      for (const auto& spelling : it->second) {
        auto f = file_.find(spelling);
        if (f != file_.end() && !f->second.empty()) return f->second;
      }
    }
  }
  return std::nullopt;
}

std::optional<SettingSource::Value> SettingSource::Get(const std::vector<std::string>& vars,
                                                       const std::string& flag) {
  for (const auto& var : vars) consumed_.insert(absl::AsciiStrToUpper(var));
  if (!flag.empty()) {
    if (auto it = flags_.find(flag); it != flags_.end()) {
      return Value{it->second, absl::StrCat("--", flag)};
    }
  }
  // Every alias in the environment beats every alias in the env file.
  for (const auto& var : vars) {
    bool from_file = false;
    auto v = Lookup(var, &from_file);
    if (v && !from_file) return Value{*v, var};
  }
  for (const auto& var : vars) {
    bool from_file = false;
    auto v = Lookup(var, &from_file);
    if (v && from_file) return Value{*v, absl::StrCat(var, " (env file)")};
  }
  return std::nullopt;
}

std::optional<std::string> SettingSource::Plain(const std::string& name) const {
  bool from_file = false;
  return Lookup(name, &from_file);
}

std::vector<std::string> SettingSource::Unconsumed() const {
  std::set<std::string> out;
  for (const auto* spellings : {&env_spellings_, &file_spellings_}) {
    for (const auto& [upper, names] : *spellings) {
      if (consumed_.count(upper)) continue;
      out.insert(names.begin(), names.end());
    }
  }
  return {out.begin(), out.end()};
}

}  // namespace slipway::client::step
