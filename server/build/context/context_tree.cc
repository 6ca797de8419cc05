#include "server/build/context/context_tree.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <deque>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace slipway::build {
namespace {

// Enough for any sane tree; Linux stops at 40 for one lookup.
constexpr int kMaxSymlinkHops = 255;

std::string Join(const std::string& dir, absl::string_view name) {
  return dir.empty() ? std::string(name) : absl::StrCat(dir, "/", name);
}

void PushComponents(absl::string_view path, std::deque<std::string>& out, bool front) {
  std::vector<std::string> parts;
  for (absl::string_view p : absl::StrSplit(path, '/')) {
    if (!p.empty()) parts.emplace_back(p);
  }
  if (front) {
    out.insert(out.begin(), parts.begin(), parts.end());
  } else {
    out.insert(out.end(), parts.begin(), parts.end());
  }
}

}  // namespace

ContextTree::ContextTree(std::map<std::string, Node> nodes) : nodes_(std::move(nodes)) {
  // Synthesize parent directories the listing left out, so every path has a directory chain.
  std::vector<std::string> missing;
  for (const auto& [path, node] : nodes_) {
    for (size_t pos = path.find('/'); pos != std::string::npos; pos = path.find('/', pos + 1)) {
      std::string parent = path.substr(0, pos);
      if (!nodes_.count(parent)) missing.push_back(std::move(parent));
    }
  }
  for (auto& p : missing) {
    Node dir;
    dir.entry.path = p;
    dir.entry.type = EntryType::kDirectory;
    dir.entry.mode = 0755;
    nodes_.emplace(std::move(p), std::move(dir));
  }
}

absl::StatusOr<std::string> ContextTree::Resolve(absl::string_view path, bool follow) const {
  std::deque<std::string> todo;
  PushComponents(path, todo, false);
  std::string current;  // resolved so far; "" = root
  int hops = 0;
  while (!todo.empty()) {
    std::string comp = std::move(todo.front());
    todo.pop_front();
    if (comp == ".") continue;
    if (comp == "..") {
      size_t slash = current.rfind('/');
      current = slash == std::string::npos ? "" : current.substr(0, slash);
      continue;
    }
    // `current` must be a directory to have children.
    if (!current.empty() && nodes_.at(current).entry.type != EntryType::kDirectory) {
      return absl::NotFoundError(absl::StrCat(path, ": ", current, " is not a directory"));
    }
    std::string next = Join(current, comp);
    auto it = nodes_.find(next);
    if (it == nodes_.end()) {
      return absl::NotFoundError(absl::StrCat(path, ": no such file or directory in the context"));
    }
    const LayerEntry& e = it->second.entry;
    bool last = todo.empty();
    if (e.type == EntryType::kSymlink && (!last || follow)) {
      if (++hops > kMaxSymlinkHops) {
        return absl::InvalidArgumentError(
            absl::StrCat(path, ": too many levels of symbolic links"));
      }
      // Absolute targets resolve against the context root; relative ones against the link's
      // directory. ".." at the root stays at the root, so nothing escapes.
      if (absl::StartsWith(e.link_target, "/")) current.clear();
      PushComponents(e.link_target, todo, true);
      continue;
    }
    current = std::move(next);
  }
  return current;
}

absl::StatusOr<LayerEntry> ContextTree::Stat(absl::string_view path, bool follow) const {
  auto key = Resolve(path, follow);
  if (!key.ok()) return key.status();
  if (key->empty()) {
    LayerEntry root;
    root.type = EntryType::kDirectory;
    root.mode = 0755;
    return root;
  }
  return nodes_.at(*key).entry;
}

absl::StatusOr<std::vector<LayerEntry>> ContextTree::Walk(absl::string_view dir) const {
  auto key = Resolve(dir, /*follow=*/true);
  if (!key.ok()) return key.status();
  if (!key->empty() && nodes_.at(*key).entry.type != EntryType::kDirectory) {
    return absl::FailedPreconditionError(absl::StrCat(dir, " is not a directory"));
  }
  std::string prefix = key->empty() ? "" : *key + "/";
  std::vector<LayerEntry> out;
  // link group → the first member seen inside this subtree (the map iterates in path order).
  absl::flat_hash_map<std::string, std::string> first_member;
  for (auto it = nodes_.lower_bound(prefix); it != nodes_.end(); ++it) {
    if (!absl::StartsWith(it->first, prefix)) break;
    LayerEntry e = it->second.entry;
    const std::string& group = it->second.link_group;
    if (!group.empty()) {
      auto [pos, inserted] = first_member.emplace(group, e.path);
      if (!inserted) {
        e.type = EntryType::kHardlink;
        e.link_target = pos->second;
      }
    }
    out.push_back(std::move(e));
  }
  return out;
}

absl::StatusOr<std::string> ContextTree::ReadFile(absl::string_view path, int64_t max_size) const {
  auto st = Stat(path, /*follow=*/true);
  if (!st.ok()) return st.status();
  if (st->type != EntryType::kFile) {
    return absl::FailedPreconditionError(absl::StrCat(path, " is not a regular file"));
  }
  if (st->size > max_size) {
    return absl::ResourceExhaustedError(
        absl::StrCat(path, " is ", st->size, " bytes, more than the limit of ", max_size));
  }
  int fd = ::open(st->source_path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return absl::InternalError(absl::StrCat("open ", st->source_path, " for ", path, ": ",
                                            std::strerror(errno)));
  }
  std::string out(static_cast<size_t>(st->size), '\0');
  size_t done = 0;
  while (done < out.size()) {
    ssize_t n = ::read(fd, out.data() + done, out.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      int err = errno;
      ::close(fd);
      return absl::DataLossError(absl::StrCat("read ", st->source_path, " for ", path, ": ",
                                              n == 0 ? "short file" : std::strerror(err)));
    }
    done += static_cast<size_t>(n);
  }
  ::close(fd);
  return out;
}

}  // namespace slipway::build
