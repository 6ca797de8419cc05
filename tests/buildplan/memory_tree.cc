#include "tests/buildplan/memory_tree.h"

#include <utility>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "tests/support/temp_dir.h"

namespace slipway::testing {
namespace {

std::vector<std::string> Parts(absl::string_view path) {
  std::vector<std::string> parts;
  for (absl::string_view p : absl::StrSplit(path, '/', absl::SkipEmpty())) {
    if (p == ".") continue;
    if (p == "..") {
      if (!parts.empty()) parts.pop_back();
      continue;
    }
    parts.emplace_back(p);
  }
  return parts;
}

}  // namespace

void MemoryTree::AddParents(const std::string& path) {
  std::vector<std::string> parts = Parts(path);
  std::string dir;
  for (size_t i = 0; i + 1 < parts.size(); ++i) {
    dir = dir.empty() ? parts[i] : dir + "/" + parts[i];
    if (!entries_.count(dir)) {
      build::LayerEntry e;
      e.path = dir;
      e.type = build::EntryType::kDirectory;
      e.mode = 0755;
      entries_[dir] = e;
    }
  }
}

MemoryTree& MemoryTree::Dir(const std::string& path, uint32_t mode, uint32_t uid, uint32_t gid,
                            int64_t mtime) {
  AddParents(path);
  build::LayerEntry e;
  e.path = path;
  e.type = build::EntryType::kDirectory;
  e.mode = mode;
  e.uid = uid;
  e.gid = gid;
  e.mtime_unix_nanos = mtime;
  entries_[path] = e;
  return *this;
}

MemoryTree& MemoryTree::File(const std::string& path, const std::string& content, uint32_t mode,
                             uint32_t uid, uint32_t gid, int64_t mtime) {
  AddParents(path);
  build::LayerEntry e;
  e.path = path;
  e.type = build::EntryType::kFile;
  e.mode = mode;
  e.uid = uid;
  e.gid = gid;
  e.mtime_unix_nanos = mtime;
  e.size = static_cast<int64_t>(content.size());
  if (backing_dir_.empty()) {
    e.source_path = "mem:" + path;
  } else {
    e.source_path = absl::StrCat(backing_dir_, "/f", next_file_++);
    WriteFile(e.source_path, content);
  }
  entries_[path] = e;
  contents_[path] = content;
  return *this;
}

MemoryTree& MemoryTree::Symlink(const std::string& path, const std::string& target, uint32_t uid,
                                uint32_t gid) {
  AddParents(path);
  build::LayerEntry e;
  e.path = path;
  e.type = build::EntryType::kSymlink;
  e.mode = 0777;
  e.uid = uid;
  e.gid = gid;
  e.link_target = target;
  e.mtime_unix_nanos = 3000000000;
  entries_[path] = e;
  return *this;
}

MemoryTree& MemoryTree::Hardlink(const std::string& path, const std::string& target) {
  AddParents(path);
  build::LayerEntry e = entries_.at(target);
  e.path = path;
  e.type = build::EntryType::kHardlink;
  e.link_target = target;
  e.size = 0;
  e.source_path.clear();
  entries_[path] = e;
  contents_[path] = contents_.at(target);
  return *this;
}

absl::StatusOr<std::string> MemoryTree::Resolve(absl::string_view path, bool follow,
                                                int depth) const {
  if (depth > 40) return absl::InvalidArgumentError("symlink loop");
  std::vector<std::string> parts = Parts(path);
  std::string current;
  for (size_t i = 0; i < parts.size(); ++i) {
    std::string next = current.empty() ? parts[i] : current + "/" + parts[i];
    auto it = entries_.find(next);
    if (it == entries_.end()) {
      return absl::NotFoundError(absl::StrCat("memory tree: ", path, " not found"));
    }
    bool last = i + 1 == parts.size();
    if (it->second.type == build::EntryType::kSymlink && (!last || follow)) {
      const std::string& target = it->second.link_target;
      std::string joined = absl::StartsWith(target, "/") ? target : current + "/" + target;
      absl::StatusOr<std::string> resolved = Resolve(joined, true, depth + 1);
      if (!resolved.ok()) return resolved.status();
      next = *resolved;
    }
    current = next;
  }
  return current;
}

absl::StatusOr<build::LayerEntry> MemoryTree::Stat(absl::string_view path, bool follow) const {
  absl::StatusOr<std::string> resolved = Resolve(path, follow, 0);
  if (!resolved.ok()) return resolved.status();
  if (resolved->empty()) {
    build::LayerEntry root;
    root.type = build::EntryType::kDirectory;
    root.mode = 0755;
    return root;
  }
  return entries_.at(*resolved);
}

absl::StatusOr<std::vector<build::LayerEntry>> MemoryTree::Walk(absl::string_view dir) const {
  absl::StatusOr<build::LayerEntry> top = Stat(dir, true);
  if (!top.ok()) return top.status();
  if (top->type != build::EntryType::kDirectory) {
    return absl::FailedPreconditionError(absl::StrCat(dir, " is not a directory"));
  }
  std::string prefix = top->path.empty() ? "" : top->path + "/";
  std::vector<build::LayerEntry> out;
  for (const auto& [path, entry] : entries_) {
    if (absl::StartsWith(path, prefix) && path.size() > prefix.size()) out.push_back(entry);
  }
  return out;
}

absl::StatusOr<std::string> MemoryTree::ReadFile(absl::string_view path, int64_t max_size) const {
  absl::StatusOr<build::LayerEntry> entry = Stat(path, true);
  if (!entry.ok()) return entry.status();
  auto it = contents_.find(entry->path);
  if (it == contents_.end()) return absl::FailedPreconditionError("not a regular file");
  if (static_cast<int64_t>(it->second.size()) > max_size) {
    return absl::ResourceExhaustedError("too big");
  }
  return it->second;
}

}  // namespace slipway::testing
