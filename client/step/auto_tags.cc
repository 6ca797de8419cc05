#include "client/step/auto_tags.h"

#include <cctype>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace slipway::client::step {
namespace {

bool AllDigits(absl::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (!std::isdigit(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

// Identifiers of a pre-release or build part: dot-separated, non-empty, [0-9A-Za-z-].
bool ValidIdentifiers(absl::string_view s) {
  if (s.empty()) return false;
  for (absl::string_view part : absl::StrSplit(s, '.')) {
    if (part.empty()) return false;
    for (char c : part) {
      if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-')) return false;
    }
  }
  return true;
}

struct Version {
  std::vector<std::string> parts;  // as written (leading zeros kept), 1 to 3 of them
  std::string prerelease;          // without '-'
  std::string build;               // without '+'
};

// Splits "1.2.3-rc.1+b5" (no "v"). `min_parts` is 3 for tag refs (coreos/go-semver wants all
// three numbers) and 1 for EXPAND_TAG (golang.org/x/mod/semver accepts v1 and v1.2).
std::optional<Version> ParseVersion(absl::string_view v, size_t min_parts, bool allow_zeros) {
  Version out;
  if (size_t plus = v.find('+'); plus != absl::string_view::npos) {
    out.build = std::string(v.substr(plus + 1));
    if (!ValidIdentifiers(out.build)) return std::nullopt;
    v = v.substr(0, plus);
  }
  if (size_t dash = v.find('-'); dash != absl::string_view::npos) {
    out.prerelease = std::string(v.substr(dash + 1));
    if (!ValidIdentifiers(out.prerelease)) return std::nullopt;
    v = v.substr(0, dash);
  }
  out.parts = absl::StrSplit(v, '.');
  if (out.parts.size() < min_parts || out.parts.size() > 3) return std::nullopt;
  for (const auto& p : out.parts) {
    if (!AllDigits(p)) return std::nullopt;
    if (!allow_zeros && p.size() > 1 && p[0] == '0') return std::nullopt;
  }
  return out;
}

// The number without its leading zeros ("06" -> "6", "0" -> "0").
std::string Number(const std::string& s) {
  size_t i = s.find_first_not_of('0');
  return i == std::string::npos ? "0" : s.substr(i);
}

}  // namespace

absl::StatusOr<std::optional<std::vector<std::string>>> AutoTags(const std::string& commit_ref,
                                                                 const std::string& default_branch,
                                                                 const std::string& suffix) {
  std::vector<std::string> tags;
  absl::string_view ref = commit_ref;
  if (absl::ConsumePrefix(&ref, "refs/tags/")) {
    absl::ConsumePrefix(&ref, "v");
    auto version = ParseVersion(ref, 3, /*allow_zeros=*/true);
    if (!version) {
      return absl::InvalidArgumentError(
          absl::StrCat("invalid semantic version when auto detecting the tag from ", commit_ref,
                       " (want refs/tags/[v]MAJOR.MINOR.PATCH)"));
    }
    const auto& p = version->parts;
    if (!version->prerelease.empty() || !version->build.empty()) {
      // The semver library prints the numbers canonically.
      std::string full = absl::StrCat(Number(p[0]), ".", Number(p[1]), ".", Number(p[2]));
      if (!version->prerelease.empty()) absl::StrAppend(&full, "-", version->prerelease);
      if (!version->build.empty()) absl::StrAppend(&full, "+", version->build);
      tags.push_back(full);
    } else {
      if (Number(p[0]) != "0") tags.push_back(p[0]);
      tags.push_back(absl::StrCat(p[0], ".", p[1]));
      tags.push_back(absl::StrCat(p[0], ".", p[1], ".", p[2]));
    }
  } else {
    absl::string_view branch = ref;
    absl::ConsumePrefix(&branch, "refs/heads/");
    if (branch != default_branch) return std::optional<std::vector<std::string>>();
    tags.push_back("latest");
  }
  if (!suffix.empty()) {
    for (auto& tag : tags) tag = tag == "latest" ? suffix : absl::StrCat(tag, "-", suffix);
  }
  return std::optional<std::vector<std::string>>(std::move(tags));
}

std::vector<std::string> ExpandTag(const std::string& tag) {
  // Semantic versions allow no underscores; the plugin reads them as dashes.
  std::string v = absl::StrReplaceAll(tag, {{"_", "-"}});
  absl::string_view body = v;
  absl::ConsumePrefix(&body, "v");
  auto version = ParseVersion(body, 1, /*allow_zeros=*/false);
  if (!version) return {tag};
  if (!version->prerelease.empty()) return {std::string(body)};
  const auto& p = version->parts;
  std::string minor = p.size() > 1 ? p[1] : "0";
  std::string patch = p.size() > 2 ? p[2] : "0";
  std::string build = version->build.empty() ? "" : absl::StrCat("+", version->build);
  return {absl::StrCat(p[0], build), absl::StrCat(p[0], ".", minor, build),
          absl::StrCat(p[0], ".", minor, ".", patch, build)};
}

}  // namespace slipway::client::step
