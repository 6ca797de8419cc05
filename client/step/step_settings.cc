#include "client/step/step_settings.h"

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <system_error>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "client/step/auto_tags.h"
#include "client/step/dotenv.h"
#include "client/step/registry_flavours.h"
#include "client/step/setting_source.h"
#include "client/step/step_flags.h"
#include "storage/status_macros.h"

namespace slipway::client::step {
namespace {

using Value = std::optional<SettingSource::Value>;

absl::Status Invalid(const std::string& message) { return absl::InvalidArgumentError(message); }

std::string Str(const Value& v) { return v ? v->value : ""; }

absl::StatusOr<bool> Bool(const Value& v, bool fallback = false) { return ParseBool(v, fallback); }

std::vector<std::string> List(const Value& v, char sep = ',') { return ParseList(v, sep); }

// KEY=VALUE entries of a list into `out` (a later key wins). An entry without '=' takes its
// value from the environment like `docker build --build-arg KEY` when `from_env` is set (and
// is dropped when the variable is unset), else gets the empty value.
absl::Status KeyValues(const Value& v, char sep, SettingSource* src, bool from_env,
                       std::map<std::string, std::string>* out) {
  for (const std::string& item : List(v, sep)) {
    size_t eq = item.find('=');
    std::string key(absl::StripAsciiWhitespace(item.substr(0, eq)));
    bool bad_key = key.empty() || std::any_of(key.begin(), key.end(), [](char c) {
                     return std::isspace(static_cast<unsigned char>(c));
                   });
    if (bad_key) {
      // The value part is not shown: build args often carry tokens.
      return Invalid(absl::StrCat(v->origin, ": malformed entry \"", item.substr(0, eq),
                                  eq == std::string::npos ? "" : "=...", "\" (want KEY=VALUE)"));
    }
    if (eq != std::string::npos) {
      (*out)[key] = item.substr(eq + 1);
    } else if (!from_env) {
      (*out)[key] = "";
    } else if (auto env = src->Plain(key)) {
      (*out)[key] = *env;
    }
  }
  return absl::OkStatus();
}

// Docker's tag grammar: [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}.
bool ValidTag(const std::string& tag) {
  if (tag.empty() || tag.size() > 128 || tag[0] == '.' || tag[0] == '-') return false;
  return std::all_of(tag.begin(), tag.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '-';
  });
}

// os/arch[/variant], lower case.
bool ValidPlatform(const std::string& p) {
  std::vector<absl::string_view> parts = absl::StrSplit(p, '/');
  if (parts.size() < 2 || parts.size() > 3) return false;
  for (auto part : parts) {
    if (part.empty()) return false;
    for (char c : part) {
      if (!(std::islower(static_cast<unsigned char>(c)) ||
            std::isdigit(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.')) {
        return false;
      }
    }
  }
  return true;
}

absl::StatusOr<std::string> ReadText(const std::string& origin, const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Invalid(absl::StrCat(origin, "=", path, ": cannot open"));
  std::stringstream buffer;
  buffer << in.rdbuf();
  if (in.bad()) return Invalid(absl::StrCat(origin, "=", path, ": cannot read"));
  return buffer.str();
}

// REGISTRY_CERTIFICATE: PEM text as given, or the path of a PEM file.
absl::StatusOr<std::string> Certificate(const SettingSource::Value& v) {
  std::string pem;
  if (absl::StrContains(v.value, "-----BEGIN")) {
    pem = v.value;
  } else {
    SLIPWAY_ASSIGN_OR_RETURN(pem, ReadText(v.origin, v.value));
    if (!absl::StrContains(pem, "-----BEGIN CERTIFICATE-----")) {
      return Invalid(absl::StrCat(v.origin, "=", v.value, ": not a PEM certificate"));
    }
    return pem;
  }
  if (!absl::StrContains(pem, "-----BEGIN CERTIFICATE-----")) {
    return Invalid(absl::StrCat(v.origin, ": neither a PEM certificate nor a file path"));
  }
  return pem;
}

absl::StatusOr<int64_t> NonNegative(const SettingSource::Value& v) {
  int64_t n = 0;
  if (!absl::SimpleAtoi(absl::StripAsciiWhitespace(v.value), &n) || n < 0) {
    return Invalid(absl::StrCat(v.origin, ": \"", v.value, "\" is not a non-negative integer"));
  }
  return n;
}

// The ref AUTO_TAG reads: DRONE_COMMIT_REF, else built from DRONE_TAG / DRONE_COMMIT_BRANCH.
std::string CommitRef(SettingSource& src) {
  if (auto ref = src.Get({"DRONE_COMMIT_REF"}, "commit-ref")) return ref->value;
  if (auto tag = src.Plain("DRONE_TAG"); tag && !tag->empty()) return "refs/tags/" + *tag;
  if (auto branch = src.Plain("DRONE_COMMIT_BRANCH"); branch && !branch->empty()) {
    return "refs/heads/" + *branch;
  }
  return "";
}

absl::Status ParseNaming(SettingSource& src, StepSettings* s, bool* expand_repo) {
  s->repo = std::string(absl::StripAsciiWhitespace(Str(src.Get({"PLUGIN_REPO"}, "repo"))));
  if (!s->repo.empty()) {
    absl::string_view last = s->repo;
    if (size_t slash = last.rfind('/'); slash != absl::string_view::npos)
      last.remove_prefix(slash + 1);
    if (absl::StrContains(last, ':') || absl::StrContains(s->repo, '@') ||
        absl::StrContains(s->repo, "://")) {
      return Invalid(absl::StrCat("PLUGIN_REPO \"", s->repo,
                                  "\" must be a repository name without scheme, tag or digest "
                                  "(tags go in PLUGIN_TAGS)"));
    }
  }
  s->registry = NormalizeRegistryHost(Str(src.Get({"PLUGIN_REGISTRY"}, "registry")));
  SLIPWAY_ASSIGN_OR_RETURN(*expand_repo, Bool(src.Get({"PLUGIN_EXPAND_REPO"}, "expand-repo")));
  // kaniko's EXPAND_REPO: prefix a host-less repo with the registry.
  if (*expand_repo && !s->registry.empty() && s->registry != "docker.io" && !s->repo.empty() &&
      RepoHost(s->repo) == "docker.io" && !absl::StartsWith(s->repo, "docker.io/")) {
    s->repo = absl::StrCat(s->registry, "/", s->repo);
  }

  auto tags_var = src.Get({"PLUGIN_TAGS", "PLUGIN_TAG"}, "tags");
  if (!tags_var) {
    // Like the plugins, a ".tags" file in the working directory (written by a tagging step
    // before this one) stands in for unset TAGS.
    std::ifstream dot_tags(".tags", std::ios::binary);
    if (dot_tags) {
      std::stringstream text;
      text << dot_tags.rdbuf();
      std::string joined = text.str();
      std::replace(joined.begin(), joined.end(), '\n', ',');
      tags_var = SettingSource::Value{joined, ".tags"};
    }
  }
  std::vector<std::string> tags = List(tags_var);
  auto auto_tag_var = src.Get({"PLUGIN_AUTO_TAG", "PLUGIN_DEFAULT_TAGS"}, "auto-tag");
  SLIPWAY_ASSIGN_OR_RETURN(bool auto_tag, Bool(auto_tag_var));
  std::string suffix =
      Str(src.Get({"PLUGIN_AUTO_TAG_SUFFIX", "PLUGIN_DEFAULT_SUFFIX"}, "auto-tag-suffix"));
  SLIPWAY_ASSIGN_OR_RETURN(bool expand_tag, Bool(src.Get({"PLUGIN_EXPAND_TAG"}, "expand-tag")));
  std::string ref = CommitRef(src);
  std::string default_branch = Str(src.Get({"DRONE_REPO_BRANCH"}, "default-branch"));
  if (auto_tag) {
    if (expand_tag) return Invalid("the auto-tag flag conflicts with the expand-tag flag");
    // "latest" alone may be the plugins' default value, so it does not count as user tags.
    if (tags.size() > 1 || (tags.size() == 1 && tags[0] != "latest")) {
      return Invalid(absl::StrCat("the auto-tag flag does not work with user provided tags ",
                                  absl::StrJoin(tags, ",")));
    }
    SLIPWAY_ASSIGN_OR_RETURN(auto auto_tags, AutoTags(ref, default_branch, suffix));
    if (!auto_tags) {
      s->skip_reason = absl::StrCat("skipping automated docker build for ",
                                    ref.empty() ? "(no commit ref)" : ref);
      tags.clear();
    } else {
      tags = std::move(*auto_tags);
    }
  } else if (expand_tag) {
    std::vector<std::string> expanded;
    for (const auto& tag : tags) {
      for (auto& t : ExpandTag(tag)) {
        if (std::find(expanded.begin(), expanded.end(), t) == expanded.end()) expanded.push_back(t);
      }
    }
    tags = std::move(expanded);
  }
  if (tags.empty() && s->skip_reason.empty()) tags.push_back("latest");
  for (const auto& tag : tags) {
    if (!ValidTag(tag)) {
      std::string origin = auto_tag ? "PLUGIN_AUTO_TAG" : (tags_var ? tags_var->origin : "tags");
      return Invalid(absl::StrCat(origin, ": \"", tag, "\" is not a valid image tag"));
    }
  }
  s->tags = std::move(tags);
  return absl::OkStatus();
}

absl::Status ParseBuild(SettingSource& src, StepSettings* s) {
  s->context = Str(src.Get({"PLUGIN_CONTEXT"}, "context"));
  if (s->context.empty()) s->context = ".";
  s->dockerfile = Str(src.Get({"PLUGIN_DOCKERFILE"}, "dockerfile"));
  // The plugins' default; the runner finds it in the working directory or the context.
  if (s->dockerfile.empty()) s->dockerfile = "Dockerfile";
  // Build args: from the environment first, then BUILD_ARGS, then BUILD_ARGS_NEW (a later
  // definition of a key wins, like repeated docker --build-arg).
  for (const auto& name : List(src.Get({"PLUGIN_BUILD_ARGS_FROM_ENV"}, "build-args-from-env"))) {
    if (auto value = src.Plain(name)) s->build_args[name] = *value;
  }
  SLIPWAY_RETURN_IF_ERROR(
      KeyValues(src.Get({"PLUGIN_BUILD_ARGS"}, "build-args"), ',', &src, true, &s->build_args));
  SLIPWAY_RETURN_IF_ERROR(KeyValues(src.Get({"PLUGIN_BUILD_ARGS_NEW"}, "build-args-new"), ';', &src,
                                    true, &s->build_args));
  // Harness sets this to say BUILD_ARGS_NEW is in use; both are always read here.
  src.GetEnv({"PLUGIN_MULTIPLE_BUILD_ARGS"});
  s->target = Str(src.Get({"PLUGIN_TARGET"}, "target"));

  // Labels: automatic OCI ones (AUTO_LABEL, default on, as in the buildx plugin), then
  // LABEL_SCHEMA (org.label-schema.*), then LABELS / CUSTOM_LABELS, each overriding the last.
  SLIPWAY_ASSIGN_OR_RETURN(bool auto_label,
                           Bool(src.Get({"PLUGIN_AUTO_LABEL"}, "auto-label"), true));
  if (auto_label) {
    // No "created" label: it would make every build differ.
    if (auto sha = src.Plain("DRONE_COMMIT_SHA"); sha && !sha->empty()) {
      s->labels["org.opencontainers.image.revision"] = *sha;
    }
    for (const char* var : {"DRONE_GIT_HTTP_URL", "DRONE_REMOTE_URL"}) {
      if (auto url = src.Plain(var); url && !url->empty()) {
        s->labels["org.opencontainers.image.source"] = *url;
        break;
      }
    }
    if (auto link = src.Get({"PLUGIN_REPO_LINK", "DRONE_REPO_LINK"}); link) {
      s->labels["org.opencontainers.image.url"] = link->value;
    }
  } else {
    src.GetEnv({"PLUGIN_REPO_LINK"});
  }
  std::map<std::string, std::string> schema;
  SLIPWAY_RETURN_IF_ERROR(
      KeyValues(src.Get({"PLUGIN_LABEL_SCHEMA"}, "label-schema"), ',', &src, false, &schema));
  for (const auto& [k, v] : schema) s->labels["org.label-schema." + k] = v;
  SLIPWAY_RETURN_IF_ERROR(KeyValues(src.Get({"PLUGIN_LABELS", "PLUGIN_CUSTOM_LABELS"}, "labels"),
                                    ',', &src, false, &s->labels));

  if (auto platform = src.Get({"PLUGIN_PLATFORM", "PLUGIN_CUSTOM_PLATFORM"}, "platform")) {
    s->platform = std::string(absl::StripAsciiWhitespace(platform->value));
    if (absl::StrContains(s->platform, ',')) {
      return Invalid(absl::StrCat(platform->origin, ": \"", platform->value,
                                  "\": one platform per step (multi-platform builds are not "
                                  "supported)"));
    }
    if (!ValidPlatform(s->platform)) {
      return Invalid(
          absl::StrCat(platform->origin, ": \"", platform->value, "\" is not os/arch[/variant]"));
    }
  }
  SLIPWAY_ASSIGN_OR_RETURN(s->no_cache, Bool(src.Get({"PLUGIN_NO_CACHE"}, "no-cache")));
  SLIPWAY_ASSIGN_OR_RETURN(s->reproducible, Bool(src.Get({"PLUGIN_REPRODUCIBLE"}, "reproducible")));
  // An explicit epoch always applies; SOURCE_DATE_EPOCH (the reproducible-builds convention)
  // and the fallback 0 only with REPRODUCIBLE.
  if (auto epoch = src.Get({"PLUGIN_SOURCE_DATE_EPOCH"}, "source-date-epoch")) {
    SLIPWAY_ASSIGN_OR_RETURN(s->source_date_epoch, NonNegative(*epoch));
  } else if (s->reproducible) {
    s->source_date_epoch = 0;
    if (auto env = src.Get({"SOURCE_DATE_EPOCH"})) {
      SLIPWAY_ASSIGN_OR_RETURN(s->source_date_epoch, NonNegative(*env));
    }
  }
  return absl::OkStatus();
}

absl::Status ParseTransport(SettingSource& src, StepSettings* s) {
  SLIPWAY_ASSIGN_OR_RETURN(bool insecure, Bool(src.Get({"PLUGIN_INSECURE"}, "insecure")));
  SLIPWAY_ASSIGN_OR_RETURN(
      bool skip_verify, Bool(src.Get({"PLUGIN_SKIP_TLS_VERIFY", "PLUGIN_SKIP_TLS_VERIFY_REGISTRY"},
                                     "skip-tls-verify")));
  s->tls.set_insecure_http(insecure);
  s->tls.set_skip_verify(skip_verify);
  if (auto cert = src.Get({"PLUGIN_REGISTRY_CERTIFICATE"}, "registry-certificate")) {
    SLIPWAY_ASSIGN_OR_RETURN(std::string pem, Certificate(*cert));
    s->tls.set_ca_pem(pem);
  }
  for (auto& mirror :
       List(src.Get({"PLUGIN_REGISTRY_MIRRORS", "PLUGIN_MIRROR"}, "registry-mirrors"))) {
    s->mirrors.push_back(std::string(absl::StripSuffix(mirror, "/")));
  }
  if (auto retry = src.Get({"PLUGIN_PUSH_RETRY"}, "push-retry")) {
    SLIPWAY_ASSIGN_OR_RETURN(int64_t n, NonNegative(*retry));
    if (n > 100) return Invalid(absl::StrCat(retry->origin, ": at most 100 retries"));
    s->push_retry = static_cast<int>(n);
  }
  s->destinations = List(src.Get({"PLUGIN_DESTINATIONS"}, "destinations"));
  return absl::OkStatus();
}

absl::Status ParseModes(SettingSource& src, StepSettings* s) {
  auto no_push_var = src.Get({"PLUGIN_NO_PUSH", "PLUGIN_DRY_RUN"}, "no-push");
  auto push_only_var = src.Get({"PLUGIN_PUSH_ONLY"}, "push-only");
  SLIPWAY_ASSIGN_OR_RETURN(bool no_push, Bool(no_push_var));
  SLIPWAY_ASSIGN_OR_RETURN(bool push_only, Bool(push_only_var));
  if (no_push && push_only) return Invalid("inputs no-push and push-only cannot be used together");
  s->mode = no_push
                ? StepSettings::Mode::kBuildOnly
                : (push_only ? StepSettings::Mode::kPushOnly : StepSettings::Mode::kBuildAndPush);

  auto tar = src.Get({"PLUGIN_TAR_PATH", "PLUGIN_DESTINATION_TAR_PATH"}, "tar-path");
  auto oci = src.Get({"PLUGIN_OCI_LAYOUT_PATH"}, "oci-layout-path");
  auto source_tar = src.Get({"PLUGIN_SOURCE_TAR_PATH"}, "source-tar-path");
  auto source_image = src.Get({"PLUGIN_SOURCE_IMAGE"}, "source-image");
  s->tar_path = Str(tar);
  s->oci_layout_path = Str(oci);
  s->source_tar_path = Str(source_tar);
  s->source_image = Str(source_image);
  if (push_only) {
    for (const Value* out : {&tar, &oci}) {
      if (*out) {
        return Invalid(
            absl::StrCat((*out)->origin, " is a build output; it cannot be used with push-only"));
      }
    }
    if (source_tar && source_image) {
      return Invalid(absl::StrCat(source_tar->origin, " and ", source_image->origin,
                                  " cannot be used together"));
    }
  } else {
    for (const Value* in : {&source_tar, &source_image}) {
      if (!*in) continue;
      if (no_push) {
        return Invalid(absl::StrCat((*in)->origin,
                                    " is a push-only input; it cannot be used "
                                    "with no-push"));
      }
      return Invalid(
          absl::StrCat((*in)->origin, " is a push-only input; set PLUGIN_PUSH_ONLY=true"));
    }
  }
  SLIPWAY_ASSIGN_OR_RETURN(s->buildx_load, Bool(src.Get({"PLUGIN_BUILDX_LOAD"}, "buildx-load")));
  SLIPWAY_ASSIGN_OR_RETURN(s->daemon_off, Bool(src.Get({"PLUGIN_DAEMON_OFF"}, "daemon-off")));
  if (auto host = src.Get({"DOCKER_HOST"}, "docker-host")) {
    s->docker_host = host->value;
  } else {
    std::error_code ec;
    if (std::filesystem::exists("/var/run/docker.sock", ec)) {
      s->docker_host = "unix:///var/run/docker.sock";
    }
  }
  return absl::OkStatus();
}

absl::Status ParseScan(SettingSource& src, StepSettings* s) {
  auto scan_var = src.Get({"PLUGIN_SCAN"}, "scan");
  SLIPWAY_ASSIGN_OR_RETURN(s->scan, Bool(scan_var));
  s->scanners = List(src.Get({"PLUGIN_SCANNERS"}, "scanners"));
  if (!scan_var && !s->scanners.empty()) s->scan = true;  // naming scanners asks for a scan
  if (auto require = src.Get({"PLUGIN_SCAN_REQUIRE"}, "scan-require")) {
    std::string r = absl::AsciiStrToLower(absl::StripAsciiWhitespace(require->value));
    if (r == "any") {
      s->gate.set_require(v1::ScanGate::ANY);
    } else if (r == "all") {
      s->gate.set_require(v1::ScanGate::ALL);
    } else {
      return Invalid(absl::StrCat(require->origin, ": \"", require->value, "\" is not any or all"));
    }
  }
  if (auto max = src.Get({"PLUGIN_MAX_SEVERITY"}, "max-severity")) {
    std::string m = absl::AsciiStrToLower(absl::StripAsciiWhitespace(max->value));
    static constexpr const char* kLevels[] = {"none", "low", "medium", "high", "critical"};
    if (std::find(std::begin(kLevels), std::end(kLevels), m) == std::end(kLevels)) {
      return Invalid(absl::StrCat(max->origin, ": \"", max->value,
                                  "\" is not none, low, medium, high or critical"));
    }
    s->gate.set_max_severity(m);
  }
  return absl::OkStatus();
}

absl::Status ParseOutputs(SettingSource& src, StepSettings* s) {
  s->drone_output = Str(src.Get({"DRONE_OUTPUT"}, "drone-output"));
  s->artifact_file = Str(src.Get({"PLUGIN_ARTIFACT_FILE"}, "artifact-file"));
  s->digest_file = Str(src.Get({"PLUGIN_DIGEST_FILE"}, "digest-file"));
  s->image_name_with_digest_file =
      Str(src.Get({"PLUGIN_IMAGE_NAME_WITH_DIGEST_FILE"}, "image-name-with-digest-file"));
  s->image_name_tag_with_digest_file =
      Str(src.Get({"PLUGIN_IMAGE_NAME_TAG_WITH_DIGEST_FILE"}, "image-name-tag-with-digest-file"));
  SLIPWAY_ASSIGN_OR_RETURN(s->json, Bool(src.Get({"PLUGIN_JSON"}, "json")));
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<StepSettings> ParseStepSettings(const EnvLookup& env,
                                               const std::vector<std::string>& names,
                                               const std::vector<std::string>& args) {
  SLIPWAY_ASSIGN_OR_RETURN(auto flags, ParseStepFlags(args));

  // PLUGIN_ENV_FILE itself comes from a flag or the environment only.
  DotenvEntries file;
  std::string env_file_origin;
  {
    SettingSource bootstrap(env, names, {}, flags);
    if (auto path = bootstrap.Get({"PLUGIN_ENV_FILE"}, "env-file")) {
      SLIPWAY_ASSIGN_OR_RETURN(file, ReadDotenvFile(path->origin, path->value, env));
    }
  }
  SettingSource src(env, names, file, std::move(flags));
  src.Get({"PLUGIN_ENV_FILE"}, "env-file");

  StepSettings s;
  bool expand_repo = false;
  SLIPWAY_RETURN_IF_ERROR(ParseNaming(src, &s, &expand_repo));
  SLIPWAY_RETURN_IF_ERROR(ParseModes(src, &s));
  SLIPWAY_RETURN_IF_ERROR(ParseBuild(src, &s));
  SLIPWAY_RETURN_IF_ERROR(ParseTransport(src, &s));
  SLIPWAY_RETURN_IF_ERROR(ResolveRegistryCredentials(src, &s));
  SLIPWAY_RETURN_IF_ERROR(ParseScan(src, &s));
  SLIPWAY_RETURN_IF_ERROR(ParseOutputs(src, &s));

  if (s.mode != StepSettings::Mode::kBuildOnly && s.repo.empty() && s.skip_reason.empty()) {
    return Invalid("repository name to publish image must be specified");
  }
  s.ignored = src.Unconsumed();
  return s;
}

}  // namespace slipway::client::step
