// ResolveChown: --chown "user[:group]" against the stage's /etc/passwd and /etc/group.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "server/build/copy_planner.h"
#include "server/build/layer/account_files.h"
#include "storage/status_macros.h"

namespace slipway::build {
namespace {

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

  if (std::optional<uint32_t> uid = ParseAccountId(user)) {
    owner.uid = *uid;
    owner.gid = *uid;  // a bare numeric uid also names the gid (BuildKit, Docker)
  } else {
    SLIPWAY_ASSIGN_OR_RETURN(std::string passwd,
                             ReadAccountFile(rootfs, "etc/passwd", "user " + user));
    std::optional<std::vector<std::string>> entry = FindAccountEntry(passwd, user);
    if (!entry) {
      return absl::InvalidArgumentError(
          absl::StrCat("--chown: unable to find user ", user, " in /etc/passwd"));
    }
    std::optional<uint32_t> named_uid = entry->size() > 2 ? ParseAccountId((*entry)[2]) : std::nullopt;
    std::optional<uint32_t> primary = entry->size() > 3 ? ParseAccountId((*entry)[3]) : std::nullopt;
    if (!named_uid || !primary) {
      return absl::InvalidArgumentError(
          absl::StrCat("--chown: malformed /etc/passwd entry for user ", user));
    }
    owner.uid = *named_uid;
    owner.gid = *primary;  // the user's primary group
  }

  if (group) {
    if (std::optional<uint32_t> gid = ParseAccountId(*group)) {
      owner.gid = *gid;
    } else {
      SLIPWAY_ASSIGN_OR_RETURN(std::string groups,
                               ReadAccountFile(rootfs, "etc/group", "group " + *group));
      std::optional<std::vector<std::string>> entry = FindAccountEntry(groups, *group);
      if (!entry) {
        return absl::InvalidArgumentError(
            absl::StrCat("--chown: unable to find group ", *group, " in /etc/group"));
      }
      std::optional<uint32_t> named_gid =
          entry->size() > 2 ? ParseAccountId((*entry)[2]) : std::nullopt;
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
