#include "server/build/run/run_mounts.h"

#include <cmath>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "storage/status_macros.h"

namespace slipway::build {
namespace {

absl::Status Bad(absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat("--mount: ", why));
}

// The value is one CSV record, as BuildKit reads it: fields split at commas, a field may be
// double-quoted (so a target can hold a comma), "" inside quotes is a quote.
absl::StatusOr<std::vector<std::string>> SplitCsv(absl::string_view value) {
  std::vector<std::string> fields(1);
  bool quoted = false, at_field_start = true;
  for (size_t i = 0; i < value.size(); ++i) {
    char c = value[i];
    if (quoted) {
      if (c != '"') {
        fields.back().push_back(c);
      } else if (i + 1 < value.size() && value[i + 1] == '"') {
        fields.back().push_back('"');
        ++i;
      } else {
        quoted = false;
      }
    } else if (c == ',') {
      fields.emplace_back();
      at_field_start = true;
      continue;
    } else if (c == '"' && at_field_start) {
      quoted = true;
    } else {
      fields.back().push_back(c);
    }
    at_field_start = false;
  }
  if (quoted) return Bad(absl::StrCat("unterminated quote in \"", value, "\""));
  return fields;
}

// Go's strconv.ParseBool, which BuildKit uses.
absl::StatusOr<bool> ParseBool(absl::string_view key, absl::string_view value) {
  for (const char* t : {"1", "t", "T", "TRUE", "true", "True"}) {
    if (value == t) return true;
  }
  for (const char* f : {"0", "f", "F", "FALSE", "false", "False"}) {
    if (value == f) return false;
  }
  return Bad(absl::StrCat(key, "=", value, ": expected true or false"));
}

absl::StatusOr<uint32_t> ParseId(absl::string_view key, absl::string_view value) {
  uint32_t out = 0;
  if (value.empty() || !absl::ascii_isdigit(static_cast<unsigned char>(value[0])) ||
      !absl::SimpleAtoi(value, &out)) {
    return Bad(absl::StrCat(key, "=", value, ": expected a decimal number below 2^32"));
  }
  return out;
}

absl::StatusOr<uint32_t> ParseMode(absl::string_view value) {
  uint32_t mode = 0;
  bool ok = !value.empty() && value.size() <= 12;
  for (char c : value) {
    if (c < '0' || c > '7') ok = false;
    if (ok) mode = mode * 8 + static_cast<uint32_t>(c - '0');
  }
  if (!ok || mode > 07777) {
    return Bad(absl::StrCat("mode=", value, ": expected octal permission bits (at most 7777)"));
  }
  return mode;
}

// tmpfs size= as Docker's units.RAMInBytes reads it: a number (a fraction allowed) with an
// optional binary unit k, m, g, t or p and an optional "b"/"ib" ("64m", "1.5GiB", "4096").
absl::StatusOr<int64_t> ParseSize(absl::string_view value) {
  auto bad = [&] {
    return Bad(absl::StrCat("size=", value, ": expected a size such as 64m, 1g or 4096"));
  };
  std::string v = absl::AsciiStrToLower(value);
  absl::string_view rest(v);
  if (absl::EndsWith(rest, "ib")) {
    rest.remove_suffix(2);
  } else if (absl::EndsWith(rest, "b")) {
    rest.remove_suffix(1);
  }
  double unit = 1;
  if (!rest.empty()) {
    switch (rest.back()) {
      case 'k': unit = 1024.0; break;
      case 'm': unit = 1024.0 * 1024; break;
      case 'g': unit = 1024.0 * 1024 * 1024; break;
      case 't': unit = 1024.0 * 1024 * 1024 * 1024; break;
      case 'p': unit = 1024.0 * 1024 * 1024 * 1024 * 1024; break;
      default: break;
    }
    if (unit != 1) rest.remove_suffix(1);
  }
  double number = 0;
  if (rest.empty() || !absl::ascii_isdigit(static_cast<unsigned char>(rest[0])) ||
      !absl::SimpleAtod(rest, &number)) {
    return bad();
  }
  double bytes = number * unit;
  if (!std::isfinite(bytes) || bytes >= 9.2e18) return bad();
  return static_cast<int64_t>(bytes);
}

// Makes `target` absolute against `workdir` and cleans it; ".." is refused (a mount target
// must say where it goes without resolving anything).
absl::StatusOr<std::string> CleanTarget(const std::string& target, const std::string& workdir) {
  std::string joined = target;
  if (!absl::StartsWith(target, "/")) {
    joined = absl::StrCat(workdir.empty() ? "/" : workdir, "/", target);
  }
  std::vector<absl::string_view> parts;
  for (absl::string_view part : absl::StrSplit(joined, '/', absl::SkipEmpty())) {
    if (part == "..") return Bad(absl::StrCat("target \"", target, "\" contains \"..\""));
    if (part == ".") continue;
    parts.push_back(part);
  }
  if (parts.empty()) return Bad(absl::StrCat("target \"", target, "\" is the root directory"));
  return absl::StrCat("/", absl::StrJoin(parts, "/"));
}

const char* TypeName(RunMountSpec::Type type) {
  switch (type) {
    case RunMountSpec::Type::kBind: return "bind";
    case RunMountSpec::Type::kCache: return "cache";
    case RunMountSpec::Type::kTmpfs: return "tmpfs";
    case RunMountSpec::Type::kSecret: return "secret";
    case RunMountSpec::Type::kSsh: return "ssh";
  }
  return "?";
}

}  // namespace

absl::StatusOr<RunMountSpec> ParseRunMount(const std::string& value,
                                           const std::string& workdir) {
  SLIPWAY_ASSIGN_OR_RETURN(std::vector<std::string> fields, SplitCsv(value));
  RunMountSpec m;
  // Which keys were given: defaults depend on the type, known only once every field is read,
  // and some keys only make sense for some types.
  bool ro_set = false, sharing_set = false, required_set = false, size_set = false,
       owner_set = false, id_set = false;
  std::string target;
  for (const std::string& field : fields) {
    if (field.empty()) return Bad(absl::StrCat("empty field in \"", value, "\""));
    const size_t eq = field.find('=');
    const std::string key = absl::AsciiStrToLower(field.substr(0, eq));
    const bool bare = eq == std::string::npos;
    const std::string v = bare ? "" : field.substr(eq + 1);
    if (bare && key != "readonly" && key != "ro" && key != "readwrite" && key != "rw" &&
        key != "required") {
      bool known = key == "type" || key == "target" || key == "dst" || key == "destination" ||
                   key == "source" || key == "src" || key == "from" || key == "id" ||
                   key == "sharing" || key == "mode" || key == "uid" || key == "gid" ||
                   key == "size";
      if (!known) return Bad(absl::StrCat("unknown key \"", key, "\""));
      return Bad(absl::StrCat("\"", key, "\" needs a value (", key, "=...)"));
    }
    if (key == "type") {
      const std::string t = absl::AsciiStrToLower(v);
      if (t == "bind") m.type = RunMountSpec::Type::kBind;
      else if (t == "cache") m.type = RunMountSpec::Type::kCache;
      else if (t == "tmpfs") m.type = RunMountSpec::Type::kTmpfs;
      else if (t == "secret") m.type = RunMountSpec::Type::kSecret;
      else if (t == "ssh") m.type = RunMountSpec::Type::kSsh;
      else return Bad(absl::StrCat("type=", v, ": expected bind, cache, tmpfs, secret or ssh"));
    } else if (key == "target" || key == "dst" || key == "destination") {
      if (v.empty()) return Bad(absl::StrCat(key, "= is empty"));
      target = v;
    } else if (key == "source" || key == "src") {
      m.source = v;
    } else if (key == "from") {
      m.from = v;
    } else if (key == "id") {
      m.id = v;
      id_set = true;
    } else if (key == "readonly" || key == "ro") {
      bool b = true;
      if (!bare) {
        SLIPWAY_ASSIGN_OR_RETURN(b, ParseBool(key, v));
      }
      m.read_only = b;
      ro_set = true;
    } else if (key == "readwrite" || key == "rw") {
      bool b = true;
      if (!bare) {
        SLIPWAY_ASSIGN_OR_RETURN(b, ParseBool(key, v));
      }
      m.read_only = !b;
      ro_set = true;
    } else if (key == "required") {
      bool b = true;
      if (!bare) {
        SLIPWAY_ASSIGN_OR_RETURN(b, ParseBool(key, v));
      }
      m.required = b;
      required_set = true;
    } else if (key == "sharing") {
      const std::string s = absl::AsciiStrToLower(v);
      if (s == "shared") m.sharing = RunMountSpec::Sharing::kShared;
      else if (s == "private") m.sharing = RunMountSpec::Sharing::kPrivate;
      else if (s == "locked") m.sharing = RunMountSpec::Sharing::kLocked;
      else return Bad(absl::StrCat("sharing=", v, ": expected shared, private or locked"));
      sharing_set = true;
    } else if (key == "mode") {
      SLIPWAY_ASSIGN_OR_RETURN(m.mode, ParseMode(v));
      owner_set = true;
    } else if (key == "uid") {
      SLIPWAY_ASSIGN_OR_RETURN(m.uid, ParseId(key, v));
      owner_set = true;
    } else if (key == "gid") {
      SLIPWAY_ASSIGN_OR_RETURN(m.gid, ParseId(key, v));
      owner_set = true;
    } else if (key == "size") {
      SLIPWAY_ASSIGN_OR_RETURN(m.size_bytes, ParseSize(v));
      size_set = true;
    } else {
      return Bad(absl::StrCat("unknown key \"", key, "\""));
    }
  }

  const std::string type = TypeName(m.type);
  using Type = RunMountSpec::Type;
  auto only_for = [&](absl::string_view key, bool allowed) -> absl::Status {
    if (allowed) return absl::OkStatus();
    return Bad(absl::StrCat(key, "= is not allowed with type=", type));
  };
  SLIPWAY_RETURN_IF_ERROR(only_for("sharing", !sharing_set || m.type == Type::kCache));
  SLIPWAY_RETURN_IF_ERROR(
      only_for("required", !required_set || m.type == Type::kSecret || m.type == Type::kSsh));
  SLIPWAY_RETURN_IF_ERROR(only_for("size", !size_set || m.type == Type::kTmpfs));
  SLIPWAY_RETURN_IF_ERROR(only_for(
      "mode/uid/gid",
      !owner_set || m.type == Type::kCache || m.type == Type::kSecret || m.type == Type::kSsh));
  SLIPWAY_RETURN_IF_ERROR(only_for("id", !id_set || m.type == Type::kCache ||
                                             m.type == Type::kSecret || m.type == Type::kSsh));
  SLIPWAY_RETURN_IF_ERROR(only_for(
      "from", m.from.empty() || m.type == Type::kBind || m.type == Type::kCache));
  if (id_set && m.id.empty()) return Bad("id= is empty");

  if (!ro_set) m.read_only = m.type != Type::kCache && m.type != Type::kTmpfs;
  switch (m.type) {
    case Type::kBind:
    case Type::kCache:
    case Type::kTmpfs: {
      if (target.empty()) return Bad(absl::StrCat("type=", type, " needs target"));
      SLIPWAY_ASSIGN_OR_RETURN(m.target, CleanTarget(target, workdir));
      if (m.type == Type::kCache && m.id.empty()) m.id = m.target;
      break;
    }
    case Type::kSecret: {
      if (target.empty() && m.id.empty()) return Bad("type=secret needs id or target");
      if (!target.empty()) {
        SLIPWAY_ASSIGN_OR_RETURN(m.target, CleanTarget(target, workdir));
      }
      if (m.id.empty()) m.id = m.target.substr(m.target.rfind('/') + 1);
      if (m.target.empty()) {
        if (m.id.find('/') != std::string::npos || m.id == "." || m.id == "..") {
          return Bad(absl::StrCat("id=", m.id, ": a secret without target needs a plain name"));
        }
        m.target = "/run/secrets/" + m.id;  // BuildKit's default
      }
      break;
    }
    case Type::kSsh: {
      if (m.id.empty()) m.id = "default";
      if (target.empty()) {
        m.target = "/run/buildkit/ssh_agent.0";  // BuildKit's default socket path
      } else {
        SLIPWAY_ASSIGN_OR_RETURN(m.target, CleanTarget(target, workdir));
      }
      break;
    }
  }
  return m;
}

}  // namespace slipway::build
