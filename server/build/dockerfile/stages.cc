#include "server/build/dockerfile/stages.h"

#include <algorithm>
#include <set>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "server/build/dockerfile/commands.h"
#include "server/build/dockerfile/variable_expander.h"
#include "server/build/dockerfile/words.h"
#include "storage/status_macros.h"

namespace slipway::build {
namespace {

std::string PlatformString(const std::string& os, const std::string& arch,
                           const std::string& variant) {
  return variant.empty() ? absl::StrCat(os, "/", arch) : absl::StrCat(os, "/", arch, "/", variant);
}

// The automatic platform ARG `name`, or nullopt when it is not one.
std::optional<std::string> AutomaticArg(const PlatformArgs& p, absl::string_view name) {
  if (name == "BUILDPLATFORM") return PlatformString(p.build_os, p.build_arch, p.build_variant);
  if (name == "BUILDOS") return p.build_os;
  if (name == "BUILDARCH") return p.build_arch;
  if (name == "BUILDVARIANT") return p.build_variant;
  if (name == "TARGETPLATFORM") {
    return PlatformString(p.target_os, p.target_arch, p.target_variant);
  }
  if (name == "TARGETOS") return p.target_os;
  if (name == "TARGETARCH") return p.target_arch;
  if (name == "TARGETVARIANT") return p.target_variant;
  return std::nullopt;
}

// Build args Docker defines without an ARG (proxies): never reported as unused.
bool IsPredefinedProxyArg(const std::string& name) {
  static const char* const kNames[] = {"HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy",
                                       "FTP_PROXY",  "ftp_proxy",  "NO_PROXY",    "no_proxy",
                                       "ALL_PROXY",  "all_proxy"};
  return std::find(std::begin(kNames), std::end(kNames), name) != std::end(kNames);
}

bool IsValidStageName(const std::string& name) {
  if (name.empty() || !(name[0] >= 'a' && name[0] <= 'z')) return false;
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.';
    if (!ok) return false;
  }
  return true;
}

absl::Status LineError(absl::string_view file, int line, absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat(file, ":", line, ": ", what));
}

}  // namespace

absl::StatusOr<StagePlan> PlanStages(const ParsedDockerfile& dockerfile,
                                     const std::map<std::string, std::string>& build_args,
                                     const PlatformArgs& platform) {
  StagePlan plan;
  plan.build_args = build_args;
  plan.platform = platform;
  const std::string& file = dockerfile.file_name;
  // FROM sees the global ARGs (declared before the first FROM) and the automatic platform ARGs.
  VariableLookup global_lookup = [&plan](absl::string_view name) -> std::optional<std::string> {
    auto it = plan.global_args.find(std::string(name));
    if (it != plan.global_args.end() && it->second.has_value()) return it->second;
    return AutomaticArg(plan.platform, name);
  };
  ExpandOptions options;
  options.escape = dockerfile.escape;

  StageDefinition* current = nullptr;
  for (const Instruction& in : dockerfile.instructions) {
    if (in.keyword != "FROM") {
      if (current != nullptr) {
        current->instructions.push_back(in);
        continue;
      }
      if (in.keyword != "ARG") {
        return LineError(file, in.line, absl::StrCat(in.keyword, " before the first FROM"));
      }
      SLIPWAY_ASSIGN_OR_RETURN(Command command,
                               ToCommand(in, file, global_lookup, dockerfile.escape));
      for (const auto& arg : std::get<ArgCommand>(command.body).args) {
        auto given = build_args.find(arg.name);
        plan.global_args[arg.name] = given != build_args.end()
                                         ? std::optional<std::string>(given->second)
                                         : arg.default_value;
      }
      continue;
    }
    StageDefinition stage;
    stage.index = static_cast<int>(plan.stages.size());
    stage.line = in.line;
    std::vector<std::string> words = dockerfile_internal::SplitWhitespace(in.raw_args);
    if (words.empty()) return LineError(file, in.line, "FROM requires an image");
    auto base = ExpandWord(words[0], global_lookup, options);
    if (!base.ok())
      return LineError(file, in.line, absl::StrCat("FROM: ", base.status().message()));
    stage.base = std::move(*base);
    if (stage.base.empty()) {
      return LineError(file, in.line,
                       absl::StrCat("base name (", words[0], ") should not be blank"));
    }
    for (const InstructionFlag& flag : in.flags) {
      if (flag.name != "platform") continue;
      if (!flag.has_value || flag.value.empty()) {
        return LineError(file, in.line, "FROM --platform requires a value");
      }
      auto value = ExpandWord(flag.value, global_lookup, options);
      if (!value.ok()) {
        return LineError(file, in.line,
                         absl::StrCat("FROM --platform: ", value.status().message()));
      }
      stage.platform = std::move(*value);
    }
    if (words.size() == 3) {
      stage.name = absl::AsciiStrToLower(words[2]);
      if (!IsValidStageName(stage.name)) {
        return LineError(file, in.line,
                         absl::StrCat("invalid name for build stage: \"", words[2],
                                      "\", name can't start with a number or contain symbols"));
      }
    }
    for (const StageDefinition& earlier : plan.stages) {
      if (!stage.name.empty() && earlier.name == stage.name) {
        return LineError(file, in.line,
                         absl::StrCat("duplicate stage name \"", stage.name,
                                      "\" (first defined on line ", earlier.line, ")"));
      }
      // Stage references are case-insensitive, like their names.
      if (!earlier.name.empty() && absl::AsciiStrToLower(stage.base) == earlier.name) {
        stage.base = earlier.name;
      }
    }
    plan.stages.push_back(std::move(stage));
    current = &plan.stages.back();
  }
  if (plan.stages.empty()) {
    int line = dockerfile.instructions.empty() ? 1 : dockerfile.instructions.back().line;
    return LineError(file, line, "no build stage: the Dockerfile has no FROM");
  }
  return plan;
}

StageScope::StageScope(const StagePlan& plan, std::vector<std::string> base_env) : plan_(&plan) {
  for (const std::string& entry : base_env) {
    size_t eq = entry.find('=');
    if (eq == 0) continue;  // "=x" names nothing
    SetEnv(entry.substr(0, eq), eq == std::string::npos ? "" : entry.substr(eq + 1));
  }
}

void StageScope::DeclareArg(const std::string& name,
                            const std::optional<std::string>& default_value) {
  std::optional<std::string> value;
  if (auto given = plan_->build_args.find(name); given != plan_->build_args.end()) {
    value = given->second;
  } else if (default_value.has_value()) {
    value = default_value;
  } else if (auto automatic = AutomaticArg(plan_->platform, name)) {
    value = std::move(automatic);
  } else if (auto global = plan_->global_args.find(name); global != plan_->global_args.end()) {
    value = global->second;
  }
  args_[name] = std::move(value);
}

void StageScope::SetEnv(const std::string& name, const std::string& value) {
  for (auto& [key, existing] : env_) {
    if (key == name) {
      existing = value;
      return;
    }
  }
  env_.emplace_back(name, value);
}

std::optional<std::string> StageScope::Lookup(absl::string_view name) const {
  for (const auto& [key, value] : env_) {
    if (key == name) return value;
  }
  auto it = args_.find(std::string(name));
  if (it != args_.end()) return it->second;
  return std::nullopt;
}

VariableLookup StageScope::Lookup() const {
  return [this](absl::string_view name) { return Lookup(name); };
}

std::vector<std::pair<std::string, std::string>> StageScope::ArgsInScope() const {
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& [name, value] : args_) {
    if (value.has_value()) out.emplace_back(name, *value);
  }
  return out;
}

std::vector<std::string> StageScope::Env() const {
  std::vector<std::string> out;
  out.reserve(env_.size());
  for (const auto& [key, value] : env_) out.push_back(absl::StrCat(key, "=", value));
  return out;
}

std::vector<std::string> StageScope::UnusedBuildArgs(
    const std::vector<const StageScope*>& all) const {
  std::vector<std::string> unused;
  for (const auto& [name, value] : plan_->build_args) {
    bool declared =
        plan_->global_args.count(name) > 0 || args_.count(name) > 0 || IsPredefinedProxyArg(name);
    for (const StageScope* scope : all) {
      declared = declared || (scope != nullptr && scope->args_.count(name) > 0);
    }
    if (!declared) unused.push_back(name);
  }
  return unused;  // plan_->build_args is a std::map: already sorted
}

}  // namespace slipway::build
