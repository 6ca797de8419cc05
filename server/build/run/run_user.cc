#include "server/build/run/run_user.h"

#include <optional>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "server/build/layer/account_files.h"

namespace slipway::build {
namespace {

// A missing account file reads as empty: numeric ids still work without one.
std::string ReadOrEmpty(const SourceTree& rootfs, absl::string_view path) {
  auto text = rootfs.ReadFile(path, kMaxAccountFileBytes);
  return text.ok() ? *text : std::string();
}

}  // namespace

absl::StatusOr<RunUser> ResolveRunUser(const std::string& spec, const SourceTree& rootfs) {
  RunUser user;
  std::vector<std::string> parts = absl::StrSplit(spec, absl::MaxSplits(':', 1));
  const std::string name = parts.empty() ? "" : parts[0];
  const bool explicit_group = parts.size() == 2;
  const std::string passwd = ReadOrEmpty(rootfs, "etc/passwd");
  const std::string groups = ReadOrEmpty(rootfs, "etc/group");

  std::optional<std::vector<std::string>> entry;
  if (name.empty()) {
    entry = FindAccountEntry(passwd, "0", 2);
  } else if (std::optional<uint32_t> uid = ParseAccountId(name)) {
    user.uid = *uid;
    entry = FindAccountEntry(passwd, name, 2);
  } else {
    entry = FindAccountEntry(passwd, name, 0);
    if (!entry) {
      return absl::InvalidArgumentError(absl::StrCat(
          "USER ", spec, ": unable to find user ", name, ": no matching entries in passwd file"));
    }
  }
  if (entry) {
    std::optional<uint32_t> uid = entry->size() > 2 ? ParseAccountId((*entry)[2]) : std::nullopt;
    std::optional<uint32_t> gid = entry->size() > 3 ? ParseAccountId((*entry)[3]) : std::nullopt;
    if (!uid || !gid) {
      return absl::InvalidArgumentError(
          absl::StrCat("USER ", spec, ": malformed /etc/passwd entry for ", (*entry)[0]));
    }
    user.uid = *uid;
    user.gid = *gid;
    if (entry->size() > 5 && !(*entry)[5].empty()) user.home = (*entry)[5];
    if (!explicit_group) {
      // The primary group first, then the groups listing the user (as runc and buildah do).
      user.supplementary_gids.push_back(user.gid);
      for (uint32_t gid : SupplementaryGroups(groups, (*entry)[0])) {
        if (gid != user.gid) user.supplementary_gids.push_back(gid);
      }
    }
  }
  if (explicit_group) {
    const std::string& group = parts[1];
    if (std::optional<uint32_t> gid = ParseAccountId(group)) {
      user.gid = *gid;
    } else {
      std::optional<std::vector<std::string>> g = FindAccountEntry(groups, group, 0);
      std::optional<uint32_t> named =
          g && g->size() > 2 ? ParseAccountId((*g)[2]) : std::nullopt;
      if (!named) {
        return absl::InvalidArgumentError(absl::StrCat(
            "USER ", spec, ": unable to find group ", group, ": no matching entries in group file"));
      }
      user.gid = *named;
    }
  }
  return user;
}

}  // namespace slipway::build
