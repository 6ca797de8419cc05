// ResolveChown: --chown "user[:group]" against the stage's /etc/passwd and /etc/group.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "server/build/copy_planner.h"
#include "storage/status_macros.h"

namespace slipway::build {
namespace {

// Account files are small; a bigger one is not an account file we should parse.
constexpr int64_t kMaxAccountFileBytes = 4 << 20;

std::optional<uint32_t> ParseId(absl::string_view text) {
  uint32_t id = 0;
  if (text.empty() || !absl::SimpleAtoi(text, &id)) return std::nullopt;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;  // SimpleAtoi accepts "+1" and spaces
  }
  return id;
}

// The fields of the first line of `file` (colon-separated, as in passwd(5)/group(5)) whose
// name is `name`, or nullopt.
std::optional<std::vector<std::string>> FindEntry(absl::string_view file, absl::string_view name) {
  for (absl::string_view line : absl::StrSplit(file, '\n')) {
    if (line.empty() || line[0] == '#') continue;
    std::vector<std::string> fields = absl::StrSplit(line, ':');
    if (!fields.empty() && fields[0] == name) return fields;
  }
  return std::nullopt;
}

// Reads a tree file, INVALID_ARGUMENT naming what was being looked up when it is missing.
absl::StatusOr<std::string> ReadAccountFile(const SourceTree* rootfs, absl::string_view path,
                                            absl::string_view looking_for) {
  if (rootfs == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--chown: unable to find ", looking_for, ": the stage has no filesystem (no /", path,
        ")"));
  }
  absl::StatusOr<std::string> text = rootfs->ReadFile(path, kMaxAccountFileBytes);
  if (absl::IsNotFound(text.status())) {
    return absl::InvalidArgumentError(
        absl::StrCat("--chown: unable to find ", looking_for, ": no /", path, " in the stage"));
  }
  return text;
}

}  // namespace

absl::StatusOr<Ownership> ResolveChown(const std::string& chown, const SourceTree* rootfs) {
  Ownership owner;
  if (chown.empty()) return owner;
  std::vector<std::string> parts = absl::StrSplit(chown, absl::MaxSplits(':', 1));
  const std::string& user = parts[0];
  std::optional<std::string> group;
  if (parts.size() == 2) group = parts[1];
  if (user.empty() || (group && group->empty())) {
    return absl::InvalidArgumentError(
        absl::StrCat("--chown=", chown, ": expected user[:group] (names or numeric ids)"));
  }

  if (std::optional<uint32_t> uid = ParseId(user)) {
    owner.uid = *uid;
    owner.gid = *uid;  // a bare numeric uid also names the gid (BuildKit, Docker)
  } else {
    SLIPWAY_ASSIGN_OR_RETURN(std::string passwd,
                             ReadAccountFile(rootfs, "etc/passwd", "user " + user));
    std::optional<std::vector<std::string>> entry = FindEntry(passwd, user);
    if (!entry) {
      return absl::InvalidArgumentError(
          absl::StrCat("--chown: unable to find user ", user, " in /etc/passwd"));
    }
    std::optional<uint32_t> named_uid = entry->size() > 2 ? ParseId((*entry)[2]) : std::nullopt;
    std::optional<uint32_t> primary = entry->size() > 3 ? ParseId((*entry)[3]) : std::nullopt;
    if (!named_uid || !primary) {
      return absl::InvalidArgumentError(
          absl::StrCat("--chown: malformed /etc/passwd entry for user ", user));
    }
    owner.uid = *named_uid;
    owner.gid = *primary;  // the user's primary group
  }

  if (group) {
    if (std::optional<uint32_t> gid = ParseId(*group)) {
      owner.gid = *gid;
    } else {
      SLIPWAY_ASSIGN_OR_RETURN(std::string groups,
                               ReadAccountFile(rootfs, "etc/group", "group " + *group));
      std::optional<std::vector<std::string>> entry = FindEntry(groups, *group);
      if (!entry) {
        return absl::InvalidArgumentError(
            absl::StrCat("--chown: unable to find group ", *group, " in /etc/group"));
      }
      std::optional<uint32_t> named_gid =
          entry->size() > 2 ? ParseId((*entry)[2]) : std::nullopt;
      if (!named_gid) {
        return absl::InvalidArgumentError(
            absl::StrCat("--chown: malformed /etc/group entry for group ", *group));
      }
      owner.gid = *named_gid;
    }
  }
  return owner;
}

}  // namespace slipway::build
