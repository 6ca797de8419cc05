#include "server/scan/scan_config.h"

#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "storage/status_macros.h"

namespace slipway::scan {
namespace {

using json = nlohmann::json;

const char* const kPlaceholders[] = {"archive", "oci_dir", "image", "digest", "report"};

absl::Status Bad(const std::string& where, const std::string& key, const std::string& why) {
  return absl::InvalidArgumentError(absl::StrCat(where, ": key \"", key, "\": ", why));
}

absl::Status CheckKeys(const json& obj, const std::vector<std::string>& known,
                       const std::string& where, const std::string& prefix) {
  std::vector<std::string> unknown;
  for (auto it = obj.begin(); it != obj.end(); ++it) {
    bool ok = false;
    for (const auto& k : known) ok = ok || it.key() == k;
    if (!ok) unknown.push_back("\"" + prefix + it.key() + "\"");
  }
  if (unknown.empty()) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(where, ": unknown key",
                                                 unknown.size() > 1 ? "s " : " ",
                                                 absl::StrJoin(unknown, ", ")));
}

absl::StatusOr<std::string> String(const json& v, const std::string& where,
                                   const std::string& key) {
  if (!v.is_string()) return Bad(where, key, "must be a string");
  return v.get<std::string>();
}

absl::StatusOr<std::vector<std::string>> Strings(const json& v, const std::string& where,
                                                 const std::string& key) {
  if (!v.is_array()) return Bad(where, key, "must be an array of strings");
  std::vector<std::string> out;
  for (const auto& item : v) {
    if (!item.is_string()) return Bad(where, key, "array items must be strings");
    out.push_back(item.get<std::string>());
  }
  return out;
}

absl::StatusOr<absl::Duration> Duration(const json& v, const std::string& where,
                                        const std::string& key) {
  if (v.is_number_integer()) {
    int64_t s = v.get<int64_t>();
    if (s <= 0) return Bad(where, key, "must be positive");
    return absl::Seconds(s);
  }
  absl::Duration d;
  if (!v.is_string() || !absl::ParseDuration(v.get<std::string>(), &d) ||
      d <= absl::ZeroDuration() || d == absl::InfiniteDuration()) {
    return Bad(where, key, "want a positive duration (seconds, or e.g. \"90s\", \"10m\")");
  }
  return d;
}

absl::StatusOr<int64_t> Bytes(const json& v, const std::string& where, const std::string& key) {
  if (!v.is_number_integer() || v.get<int64_t>() < 0) {
    return Bad(where, key, "must be a non-negative integer (bytes)");
  }
  return v.get<int64_t>();
}

// Every "{name}" in `arg` must be a known placeholder.
absl::Status CheckPlaceholders(const std::string& arg, const std::string& where,
                               const std::string& key) {
  size_t pos = 0;
  while ((pos = arg.find('{', pos)) != std::string::npos) {
    size_t end = arg.find('}', pos);
    if (end == std::string::npos) break;
    std::string name = arg.substr(pos + 1, end - pos - 1);
    bool ident = !name.empty();
    for (char c : name) ident = ident && (absl::ascii_isalnum(c) || c == '_');
    if (ident) {
      bool known = false;
      for (const char* p : kPlaceholders) known = known || name == p;
      if (!known) {
        return Bad(where, key,
                   absl::StrCat("unknown placeholder {", name,
                                "} (want {archive}, {oci_dir}, {image}, {digest} or {report})"));
      }
    }
    pos = end + 1;
  }
  return absl::OkStatus();
}

absl::StatusOr<HookConfig> ParseHook(const json& v, const std::string& where,
                                     const std::string& prefix) {
  if (!v.is_object()) return Bad(where, prefix, "must be an object");
  SLIPWAY_RETURN_IF_ERROR(CheckKeys(v,
                                    {"name", "type", "url", "argv", "timeout", "memory_limit",
                                     "env_allow", "on_timeout", "version", "version_command",
                                     "max_report_bytes", "report_media_type"},
                                    where, prefix + "."));
  HookConfig h;
  if (!v.contains("name")) return Bad(where, prefix + ".name", "is required");
  SLIPWAY_ASSIGN_OR_RETURN(h.name, String(v["name"], where, prefix + ".name"));
  if (h.name.empty()) return Bad(where, prefix + ".name", "must not be empty");
  for (char c : h.name) {
    if (!absl::ascii_isalnum(c) && c != '-' && c != '_' && c != '.') {
      return Bad(where, prefix + ".name", "use letters, digits, '-', '_' and '.' only");
    }
  }
  if (v.contains("type")) {
    SLIPWAY_ASSIGN_OR_RETURN(std::string type, String(v["type"], where, prefix + ".type"));
    if (type == "http") {
      h.type = HookConfig::Type::kHttp;
    } else if (type != "exec") {
      return Bad(where, prefix + ".type",
                 absl::StrCat("\"", type, "\" is not a hook type (want \"exec\" or \"http\")"));
    }
  }
  if (h.type == HookConfig::Type::kHttp) {
    if (!v.contains("url")) return Bad(where, prefix + ".url", "is required for an http hook");
    SLIPWAY_ASSIGN_OR_RETURN(h.url, String(v["url"], where, prefix + ".url"));
    if (!absl::StartsWith(h.url, "http://") && !absl::StartsWith(h.url, "https://")) {
      return Bad(where, prefix + ".url", "must be an http:// or https:// URL");
    }
    for (const char* exec_only : {"argv", "memory_limit", "env_allow"}) {
      if (v.contains(exec_only)) {
        return Bad(where, absl::StrCat(prefix, ".", exec_only), "is for exec hooks only");
      }
    }
  } else if (v.contains("url")) {
    return Bad(where, prefix + ".url", "is for http hooks only");
  }
  if (h.type == HookConfig::Type::kExec && !v.contains("argv")) {
    return Bad(where, prefix + ".argv", "is required");
  }
  if (h.type == HookConfig::Type::kExec) {
  SLIPWAY_ASSIGN_OR_RETURN(h.argv, Strings(v["argv"], where, prefix + ".argv"));
  if (h.argv.empty() || h.argv[0].empty()) {
    return Bad(where, prefix + ".argv", "must name a program");
  }
  for (size_t i = 0; i < h.argv.size(); ++i) {
    SLIPWAY_RETURN_IF_ERROR(
        CheckPlaceholders(h.argv[i], where, absl::StrCat(prefix, ".argv[", i, "]")));
  }
  }
  if (v.contains("timeout")) {
    SLIPWAY_ASSIGN_OR_RETURN(h.timeout, Duration(v["timeout"], where, prefix + ".timeout"));
  }
  if (v.contains("memory_limit")) {
    SLIPWAY_ASSIGN_OR_RETURN(h.memory_limit_bytes,
                             Bytes(v["memory_limit"], where, prefix + ".memory_limit"));
  }
  if (v.contains("env_allow")) {
    SLIPWAY_ASSIGN_OR_RETURN(h.env_allow, Strings(v["env_allow"], where, prefix + ".env_allow"));
  }
  if (v.contains("on_timeout")) {
    SLIPWAY_ASSIGN_OR_RETURN(std::string t, String(v["on_timeout"], where, prefix + ".on_timeout"));
    if (t == "fail") {
      h.pass_on_timeout = false;
    } else if (t == "pass") {
      h.pass_on_timeout = true;
    } else {
      return Bad(where, prefix + ".on_timeout", "want \"fail\" (default) or \"pass\"");
    }
  }
  if (v.contains("version")) {
    SLIPWAY_ASSIGN_OR_RETURN(h.version, String(v["version"], where, prefix + ".version"));
  }
  if (v.contains("version_command")) {
    SLIPWAY_ASSIGN_OR_RETURN(h.version_command,
                             Strings(v["version_command"], where, prefix + ".version_command"));
    if (h.version_command.empty()) {
      return Bad(where, prefix + ".version_command", "must name a program");
    }
  }
  if (v.contains("max_report_bytes")) {
    SLIPWAY_ASSIGN_OR_RETURN(h.max_report_bytes,
                             Bytes(v["max_report_bytes"], where, prefix + ".max_report_bytes"));
  }
  if (v.contains("report_media_type")) {
    SLIPWAY_ASSIGN_OR_RETURN(h.report_media_type, String(v["report_media_type"], where,
                                                         prefix + ".report_media_type"));
  }
  return h;
}

}  // namespace

absl::StatusOr<SeverityLimit> ParseSeverityLimit(const std::string& text) {
  std::string t = absl::AsciiStrToLower(text);
  SeverityLimit l;
  if (t.empty()) return l;
  if (t == "none") {
    l.any_finding_fails = true;
  } else if (t == "low") {
    l.max = Severity::kLow;
  } else if (t == "medium") {
    l.max = Severity::kMedium;
  } else if (t == "high") {
    l.max = Severity::kHigh;
  } else if (t == "critical") {
    l.max = Severity::kCritical;
  } else {
    return absl::InvalidArgumentError(absl::StrCat(
        "unknown severity \"", text, "\" (want none, low, medium, high or critical)"));
  }
  return l;
}

std::string SeverityLimitName(const SeverityLimit& limit) {
  if (limit.any_finding_fails) return "none";
  if (!limit.max) return "";
  switch (*limit.max) {
    case Severity::kLow: return "low";
    case Severity::kMedium: return "medium";
    case Severity::kHigh: return "high";
    case Severity::kCritical: return "critical";
  }
  return "";
}

absl::StatusOr<Require> ParseRequire(const std::string& text) {
  std::string t = absl::AsciiStrToLower(text);
  if (t == "none" || t.empty()) return Require::kNone;
  if (t == "any") return Require::kAny;
  if (t == "all") return Require::kAll;
  return absl::InvalidArgumentError(
      absl::StrCat("unknown requirement \"", text, "\" (want none, any or all)"));
}

const char* RequireName(Require r) {
  switch (r) {
    case Require::kNone: return "none";
    case Require::kAny: return "any";
    case Require::kAll: return "all";
  }
  return "none";
}

absl::StatusOr<ScanConfig> ParseScanConfig(const json& value, const std::string& where) {
  if (!value.is_object()) return Bad(where, "scan", "must be an object");
  SLIPWAY_RETURN_IF_ERROR(CheckKeys(
      value, {"hooks", "push_gate", "work_dir", "record_scan_token_file", "attach_reports_on_push"}, where, "scan."));
  ScanConfig config;
  if (value.contains("hooks")) {
    const json& hooks = value["hooks"];
    if (!hooks.is_array()) return Bad(where, "scan.hooks", "must be an array of objects");
    std::set<std::string> names;
    for (size_t i = 0; i < hooks.size(); ++i) {
      std::string prefix = absl::StrCat("scan.hooks[", i, "]");
      SLIPWAY_ASSIGN_OR_RETURN(HookConfig h, ParseHook(hooks[i], where, prefix));
      if (!names.insert(h.name).second) {
        return Bad(where, prefix + ".name", absl::StrCat("duplicate hook name \"", h.name, "\""));
      }
      config.hooks.push_back(std::move(h));
    }
  }
  if (value.contains("work_dir")) {
    SLIPWAY_ASSIGN_OR_RETURN(config.work_dir, String(value["work_dir"], where, "scan.work_dir"));
  }
  if (value.contains("record_scan_token_file")) {
    SLIPWAY_ASSIGN_OR_RETURN(
        config.record_scan_token_file,
        String(value["record_scan_token_file"], where, "scan.record_scan_token_file"));
  }
  if (value.contains("attach_reports_on_push")) {
    if (!value["attach_reports_on_push"].is_boolean()) {
      return Bad(where, "scan.attach_reports_on_push", "must be true or false");
    }
    config.attach_reports_on_push = value["attach_reports_on_push"].get<bool>();
  }
  if (value.contains("push_gate")) {
    const json& g = value["push_gate"];
    if (!g.is_object()) return Bad(where, "scan.push_gate", "must be an object");
    SLIPWAY_RETURN_IF_ERROR(
        CheckKeys(g, {"require", "max_severity", "scanners"}, where, "scan.push_gate."));
    if (g.contains("require")) {
      SLIPWAY_ASSIGN_OR_RETURN(std::string r,
                               String(g["require"], where, "scan.push_gate.require"));
      auto req = ParseRequire(r);
      if (!req.ok()) return Bad(where, "scan.push_gate.require", std::string(req.status().message()));
      config.push_gate.require = *req;
    }
    if (g.contains("max_severity")) {
      SLIPWAY_ASSIGN_OR_RETURN(std::string s,
                               String(g["max_severity"], where, "scan.push_gate.max_severity"));
      auto limit = ParseSeverityLimit(s);
      if (!limit.ok()) {
        return Bad(where, "scan.push_gate.max_severity", std::string(limit.status().message()));
      }
      config.push_gate.max_severity = *limit;
    }
    if (g.contains("scanners")) {
      SLIPWAY_ASSIGN_OR_RETURN(config.push_gate.scanners,
                               Strings(g["scanners"], where, "scan.push_gate.scanners"));
      if (config.push_gate.scanners.empty()) {
        return Bad(where, "scan.push_gate.scanners",
                   "must name at least one scanner (leave it out for every configured hook)");
      }
    }
  }
  return config;
}

}  // namespace slipway::scan
