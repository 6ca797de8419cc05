#include "server/build/layer/account_files.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"

namespace slipway::build {

std::optional<uint32_t> ParseAccountId(absl::string_view text) {
  uint32_t id = 0;
  if (text.empty() || !absl::SimpleAtoi(text, &id)) return std::nullopt;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;  // SimpleAtoi accepts "+1" and spaces
  }
  return id;
}

std::optional<std::vector<std::string>> FindAccountEntry(absl::string_view file,
                                                         absl::string_view value, int field) {
  for (absl::string_view line : absl::StrSplit(file, '\n')) {
    if (line.empty() || line[0] == '#') continue;
    std::vector<std::string> fields = absl::StrSplit(line, ':');
    if (static_cast<int>(fields.size()) > field && fields[field] == value) return fields;
  }
  return std::nullopt;
}

std::vector<uint32_t> SupplementaryGroups(absl::string_view group_file, absl::string_view user) {
  std::vector<uint32_t> gids;
  for (absl::string_view line : absl::StrSplit(group_file, '\n')) {
    if (line.empty() || line[0] == '#') continue;
    std::vector<absl::string_view> fields = absl::StrSplit(line, ':');
    if (fields.size() < 4) continue;
    std::optional<uint32_t> gid = ParseAccountId(fields[2]);
    if (!gid) continue;
    for (absl::string_view member : absl::StrSplit(fields[3], ',')) {
      if (member == user) {
        gids.push_back(*gid);
        break;
      }
    }
  }
  return gids;
}

}  // namespace slipway::build
