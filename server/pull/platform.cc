// Platform matching for index entries (server/pull/puller.h).

#include "absl/strings/str_cat.h"
#include "server/pull/puller.h"

namespace slipway::pull {
namespace {

// The variant an architecture has when none is written: images built for arm64 rarely say
// "v8", so "linux/arm64/v8" must match an entry that only says "linux/arm64" (and the reverse).
std::string EffectiveVariant(const PlatformSpec& p) {
  if (!p.variant.empty()) return p.variant;
  if (p.architecture == "arm64") return "v8";
  if (p.architecture == "arm") return "v7";
  return "";
}

}  // namespace

bool PlatformMatches(const PlatformSpec& entry, const PlatformSpec& wanted) {
  if (entry.os != wanted.os || entry.architecture != wanted.architecture) return false;
  if (wanted.variant.empty()) return true;
  return EffectiveVariant(entry) == EffectiveVariant(wanted);
}

std::string PlatformString(const PlatformSpec& platform) {
  std::string s = absl::StrCat(platform.os, "/", platform.architecture);
  if (!platform.variant.empty()) absl::StrAppend(&s, "/", platform.variant);
  return s;
}

}  // namespace slipway::pull
