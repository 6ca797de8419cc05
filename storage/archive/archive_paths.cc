#include "storage/archive/archive_paths.h"

#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"

namespace slipway {

std::string QuoteForError(absl::string_view text) {
  std::string out;
  for (char c : text.substr(0, 200)) out.push_back((c >= 0x20 && c < 0x7f) ? c : '?');
  if (text.size() > 200) out += "...";
  return absl::StrCat("\"", out, "\"");
}

absl::StatusOr<std::string> NormalizeEntryName(absl::string_view name) {
  if (!name.empty() && name[0] == '/') {
    return absl::InvalidArgumentError(
        absl::StrCat("archive entry ", QuoteForError(name), " has an absolute path"));
  }
  std::vector<absl::string_view> parts;
  for (absl::string_view part : absl::StrSplit(name, '/')) {
    if (part.empty() || part == ".") continue;
    if (part == "..") {
      return absl::InvalidArgumentError(
          absl::StrCat("archive entry ", QuoteForError(name), " has a \"..\" component"));
    }
    parts.push_back(part);
  }
  return absl::StrJoin(parts, "/");
}

absl::StatusOr<std::string> ResolveLinkTarget(absl::string_view link_name,
                                              absl::string_view target) {
  if (target.empty() || target[0] == '/') {
    return absl::InvalidArgumentError(absl::StrCat("symlink ", QuoteForError(link_name), " -> ",
                                                   QuoteForError(target),
                                                   " must be relative and inside the archive"));
  }
  std::vector<std::string> parts = absl::StrSplit(link_name, '/', absl::SkipEmpty());
  if (!parts.empty()) parts.pop_back();  // the link's own name
  for (absl::string_view part : absl::StrSplit(target, '/')) {
    if (part.empty() || part == ".") continue;
    if (part == "..") {
      if (parts.empty()) {
        return absl::InvalidArgumentError(absl::StrCat("symlink ", QuoteForError(link_name),
                                                       " -> ", QuoteForError(target),
                                                       " escapes the archive"));
      }
      parts.pop_back();
      continue;
    }
    parts.emplace_back(part);
  }
  return absl::StrJoin(parts, "/");
}

}  // namespace slipway
