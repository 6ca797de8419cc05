// Path helpers of the COPY planner: cleaning, wildcard detection and symlink resolution confined
// to a tree's root.

#include <algorithm>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "server/build/copy_planner_internal.h"

namespace slipway::build::copy_internal {
namespace {

// Linux gives up after 40 links (ELOOP); so do we.
constexpr int kMaxSymlinks = 40;

}  // namespace

bool HasWildcard(absl::string_view pattern) {
  for (size_t i = 0; i < pattern.size(); ++i) {
    char c = pattern[i];
    if (c == '\\') {
      ++i;  // an escaped character is literal
    } else if (c == '*' || c == '?' || c == '[') {
      return true;
    }
  }
  return false;
}

absl::StatusOr<std::string> ResolveInTree(const SourceTree& tree, absl::string_view path,
                                          bool follow_final) {
  // Components still to walk, the next one at the back.
  std::vector<std::string> pending;
  for (absl::string_view part : absl::StrSplit(path, '/')) pending.emplace_back(part);
  std::reverse(pending.begin(), pending.end());
  std::vector<std::string> resolved;
  bool missing = false;  // once a component is absent the rest cannot be links
  int links = 0;
  while (!pending.empty()) {
    std::string part = std::move(pending.back());
    pending.pop_back();
    if (part.empty() || part == ".") continue;
    if (part == "..") {
      if (!resolved.empty()) resolved.pop_back();
      continue;
    }
    resolved.push_back(std::move(part));
    if (missing) continue;
    bool is_final = true;
    for (const std::string& rest : pending) {
      if (!rest.empty() && rest != ".") {
        is_final = false;
        break;
      }
    }
    if (is_final && !follow_final) break;
    absl::StatusOr<LayerEntry> entry = tree.Stat(absl::StrJoin(resolved, "/"), false);
    if (absl::IsNotFound(entry.status())) {
      missing = true;
      continue;
    }
    if (!entry.ok()) return entry.status();
    if (entry->type != EntryType::kSymlink) continue;
    if (++links > kMaxSymlinks) {
      return absl::InvalidArgumentError(
          absl::StrCat("too many levels of symbolic links resolving \"", path, "\""));
    }
    resolved.pop_back();
    const std::string& target = entry->link_target;
    if (!target.empty() && target[0] == '/') resolved.clear();  // absolute: from the tree root
    std::vector<std::string> target_parts;
    for (absl::string_view p : absl::StrSplit(target, '/')) target_parts.emplace_back(p);
    for (auto it = target_parts.rbegin(); it != target_parts.rend(); ++it) {
      pending.push_back(std::move(*it));
    }
  }
  return absl::StrJoin(resolved, "/");
}

}  // namespace slipway::build::copy_internal
