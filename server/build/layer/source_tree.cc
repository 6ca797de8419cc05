#include "server/build/layer/source_tree.h"

#include <algorithm>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "storage/path_pattern.h"

namespace slipway::build {

std::string CleanPath(absl::string_view path) {
  std::vector<absl::string_view> parts;
  for (absl::string_view part : absl::StrSplit(path, '/')) {
    if (part.empty() || part == ".") continue;
    if (part == "..") {
      if (!parts.empty()) parts.pop_back();  // ".." at the root stays at the root
      continue;
    }
    parts.push_back(part);
  }
  return absl::StrJoin(parts, "/");
}
namespace {

bool HasWildcard(absl::string_view component) {
  return component.find_first_of("*?[\\") != absl::string_view::npos;
}

// The pattern's components after cleaning: "" and "." dropped, ".." pops (and stays at the
// root), so "./src/../lib/*.c" is {"lib", "*.c"}.
std::vector<std::string> CleanComponents(absl::string_view pattern) {
  std::vector<std::string> out;
  for (absl::string_view part : absl::StrSplit(pattern, '/')) {
    if (part.empty() || part == ".") continue;
    if (part == "..") {
      if (!out.empty()) out.pop_back();
      continue;
    }
    out.emplace_back(part);
  }
  return out;
}

std::string Join(const std::string& dir, absl::string_view name) {
  return dir.empty() ? std::string(name) : absl::StrCat(dir, "/", name);
}

absl::string_view Dirname(absl::string_view p) {
  size_t slash = p.rfind('/');
  return slash == absl::string_view::npos ? absl::string_view() : p.substr(0, slash);
}

absl::string_view Basename(absl::string_view p) {
  size_t slash = p.rfind('/');
  return slash == absl::string_view::npos ? p : p.substr(slash + 1);
}

}  // namespace

absl::StatusOr<std::vector<std::string>> SourceTree::Glob(absl::string_view pattern) const {
  std::vector<std::string> components = CleanComponents(pattern);
  // Validate every component up front so a malformed pattern fails even when nothing exists.
  for (const auto& c : components) {
    auto valid = PathMatch(c, "");
    if (!valid.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("bad pattern \"", pattern, "\": ", valid.status().message()));
    }
  }
  std::vector<std::string> current = {""};  // the root
  for (const auto& component : components) {
    std::vector<std::string> next;
    for (const auto& dir : current) {
      if (!HasWildcard(component)) {
        std::string candidate = Join(dir, component);
        auto st = Stat(candidate, /*follow=*/false);
        if (st.ok()) {
          next.push_back(std::move(candidate));
        } else if (!absl::IsNotFound(st.status()) &&
                   !absl::IsFailedPrecondition(st.status())) {
          return st.status();
        }
        continue;
      }
      // List the directory's direct children (following a symlinked directory, as Go's
      // filepath.Glob does) and keep the matching names.
      auto st = Stat(dir, /*follow=*/true);
      if (!st.ok() || st->type != EntryType::kDirectory) continue;
      auto entries = Walk(dir);
      if (!entries.ok()) {
        if (absl::IsNotFound(entries.status()) || absl::IsFailedPrecondition(entries.status()))
          continue;
        return entries.status();
      }
      for (const auto& e : *entries) {
        absl::string_view parent = Dirname(e.path);
        if (parent != dir && parent != st->path) continue;
        absl::string_view name = Basename(e.path);
        auto m = PathMatch(component, name);
        if (!m.ok()) return m.status();
        if (*m) next.push_back(Join(dir, name));
      }
    }
    current = std::move(next);
    if (current.empty()) break;
  }
  std::sort(current.begin(), current.end());
  current.erase(std::unique(current.begin(), current.end()), current.end());
  return current;
}

}  // namespace slipway::build
