#include "client/step/step_flags.h"

#include <cstring>
#include <optional>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"

namespace slipway::client::step {
namespace {

enum class Kind { kValue, kSwitch, kList, kSemicolonList };

struct FlagSpec {
  const char* name;
  Kind kind;
  const char* alias_of;  // nullptr for a canonical flag
};

// The one table of flags; ParseStepSettings reads each canonical name.
constexpr FlagSpec kFlags[] = {
    {"repo", Kind::kValue, nullptr},
    {"registry", Kind::kValue, nullptr},
    {"expand-repo", Kind::kSwitch, nullptr},
    {"tags", Kind::kList, nullptr},
    {"tag", Kind::kList, "tags"},
    {"auto-tag", Kind::kSwitch, nullptr},
    {"auto-tag-suffix", Kind::kValue, nullptr},
    {"expand-tag", Kind::kSwitch, nullptr},
    {"commit-ref", Kind::kValue, nullptr},
    {"default-branch", Kind::kValue, nullptr},
    {"dockerfile", Kind::kValue, nullptr},
    {"context", Kind::kValue, nullptr},
    {"build-args", Kind::kList, nullptr},
    {"build-arg", Kind::kList, "build-args"},
    {"build-args-new", Kind::kSemicolonList, nullptr},
    {"build-args-from-env", Kind::kList, nullptr},
    {"target", Kind::kValue, nullptr},
    {"labels", Kind::kList, nullptr},
    {"label", Kind::kList, "labels"},
    {"label-schema", Kind::kList, nullptr},
    {"auto-label", Kind::kSwitch, nullptr},
    {"platform", Kind::kValue, nullptr},
    {"no-cache", Kind::kSwitch, nullptr},
    {"reproducible", Kind::kSwitch, nullptr},
    {"source-date-epoch", Kind::kValue, nullptr},
    {"username", Kind::kValue, nullptr},
    {"password", Kind::kValue, nullptr},
    {"docker-config", Kind::kValue, nullptr},
    {"base-image-registry", Kind::kValue, nullptr},
    {"base-image-username", Kind::kValue, nullptr},
    {"base-image-password", Kind::kValue, nullptr},
    {"region", Kind::kValue, nullptr},
    {"access-key", Kind::kValue, nullptr},
    {"secret-key", Kind::kValue, nullptr},
    {"session-token", Kind::kValue, nullptr},
    {"assume-role", Kind::kValue, nullptr},
    {"external-id", Kind::kValue, nullptr},
    {"create-repository", Kind::kSwitch, nullptr},
    {"json-key", Kind::kValue, nullptr},
    {"location", Kind::kValue, nullptr},
    {"client-id", Kind::kValue, nullptr},
    {"client-secret", Kind::kValue, nullptr},
    {"tenant-id", Kind::kValue, nullptr},
    {"client-certificate", Kind::kValue, nullptr},
    {"insecure", Kind::kSwitch, nullptr},
    {"skip-tls-verify", Kind::kSwitch, nullptr},
    {"registry-certificate", Kind::kValue, nullptr},
    {"registry-mirrors", Kind::kList, nullptr},
    {"mirror", Kind::kList, "registry-mirrors"},
    {"push-retry", Kind::kValue, nullptr},
    {"destinations", Kind::kList, nullptr},
    {"no-push", Kind::kSwitch, nullptr},
    {"dry-run", Kind::kSwitch, "no-push"},
    {"push-only", Kind::kSwitch, nullptr},
    {"tar-path", Kind::kValue, nullptr},
    {"destination-tar-path", Kind::kValue, "tar-path"},
    {"source-tar-path", Kind::kValue, nullptr},
    {"source-image", Kind::kValue, nullptr},
    {"oci-layout-path", Kind::kValue, nullptr},
    {"buildx-load", Kind::kSwitch, nullptr},
    {"daemon-off", Kind::kSwitch, nullptr},
    {"docker-host", Kind::kValue, nullptr},
    {"scan", Kind::kSwitch, nullptr},
    {"scanners", Kind::kList, nullptr},
    {"scan-require", Kind::kValue, nullptr},
    {"max-severity", Kind::kValue, nullptr},
    {"drone-output", Kind::kValue, nullptr},
    {"artifact-file", Kind::kValue, nullptr},
    {"digest-file", Kind::kValue, nullptr},
    {"image-name-with-digest-file", Kind::kValue, nullptr},
    {"image-name-tag-with-digest-file", Kind::kValue, nullptr},
    {"json", Kind::kSwitch, nullptr},
    {"env-file", Kind::kValue, nullptr},
};

const FlagSpec* Find(absl::string_view name) {
  for (const auto& f : kFlags) {
    if (name == f.name) return &f;
  }
  return nullptr;
}

}  // namespace

absl::StatusOr<std::map<std::string, std::string>> ParseStepFlags(
    const std::vector<std::string>& args) {
  std::map<std::string, std::string> out;
  for (size_t i = 0; i < args.size(); ++i) {
    absl::string_view arg = args[i];
    if (!absl::ConsumePrefix(&arg, "--") || arg.empty()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "unexpected argument \"", args[i], "\" (settings are --flags or PLUGIN_* variables)"));
    }
    std::optional<std::string> inline_value;
    if (size_t eq = arg.find('='); eq != absl::string_view::npos) {
      inline_value = std::string(arg.substr(eq + 1));
      arg = arg.substr(0, eq);
    }
    const FlagSpec* spec = Find(arg);
    if (spec == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat("unknown flag --", arg));
    }
    const std::string name = spec->alias_of ? spec->alias_of : spec->name;
    std::string value;
    if (spec->kind == Kind::kSwitch) {
      value = "true";
      if (inline_value) {
        std::string v = absl::AsciiStrToLower(*inline_value);
        if (v == "true" || v == "1" || v == "yes") {
          value = "true";
        } else if (v == "false" || v == "0" || v == "no") {
          value = "false";
        } else {
          return absl::InvalidArgumentError(absl::StrCat(
              "--", arg, ": \"", *inline_value, "\" is not a boolean (true/false/1/0/yes/no)"));
        }
      }
    } else if (inline_value) {
      value = *inline_value;
    } else {
      if (i + 1 >= args.size()) {
        return absl::InvalidArgumentError(absl::StrCat("--", arg, " needs a value"));
      }
      value = args[++i];
    }
    auto [it, inserted] = out.emplace(name, value);
    if (!inserted) {
      if (spec->kind == Kind::kList) {
        absl::StrAppend(&it->second, ",", value);
      } else if (spec->kind == Kind::kSemicolonList) {
        absl::StrAppend(&it->second, ";", value);
      } else {
        it->second = value;  // the last one wins, as with most CLIs
      }
    }
  }
  return out;
}

std::string StepFlagsUsage() {
  std::string out;
  size_t column = 0;
  for (const auto& f : kFlags) {
    std::string item = absl::StrCat(" --", f.name, f.kind == Kind::kSwitch ? "" : " V");
    if (column + item.size() > 96) {
      out += "\n";
      column = 0;
    }
    if (column == 0) {
      out += "   ";
      column = 3;
    }
    out += item;
    column += item.size();
  }
  return out + "\n";
}

}  // namespace slipway::client::step
