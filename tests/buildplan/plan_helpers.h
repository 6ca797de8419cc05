#ifndef SLIPWAY_TESTS_BUILDPLAN_PLAN_HELPERS_H_
#define SLIPWAY_TESTS_BUILDPLAN_PLAN_HELPERS_H_

// Shared pieces of the COPY planner tests: the standard build context and stage filesystem,
// and compact renderings of planned entries.

#include <map>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "server/build/copy_planner_internal.h"
#include "server/build/layer/layer_entry.h"
#include "tests/buildplan/memory_tree.h"

namespace slipway::testing {

// The fixed clock of the planner tests (unix ns).
inline constexpr int64_t kNow = 5000000000;

inline char TypeChar(build::EntryType type) {
  switch (type) {
    case build::EntryType::kFile: return 'f';
    case build::EntryType::kDirectory: return 'd';
    case build::EntryType::kSymlink: return 'l';
    case build::EntryType::kHardlink: return 'h';
    default: return '?';
  }
}

// "path:t" per entry, in planned order.
inline std::vector<std::string> Shape(const std::vector<build::LayerEntry>& entries) {
  std::vector<std::string> out;
  for (const build::LayerEntry& e : entries) out.push_back(absl::StrCat(e.path, ":", std::string(1, TypeChar(e.type))));
  return out;
}

inline std::map<std::string, build::LayerEntry> ByPath(const std::vector<build::LayerEntry>& entries) {
  std::map<std::string, build::LayerEntry> out;
  for (const build::LayerEntry& e : entries) out[e.path] = e;
  return out;
}

// A build context: files owned by 501:20 (as a developer's checkout would be).
inline void FillContext(MemoryTree& t) {
  t.File("a.txt", "alpha\n", 0644, 501, 20)
      .File("b.txt", "beta\n", 0664, 501, 20)
      .Dir("dir", 0750, 501, 20)
      .File("dir/x", "x\n", 0600, 501, 20)
      .Dir("dir/sub", 0700, 501, 20)
      .File("dir/sub/y", "y\n", 0755, 501, 20)
      .Symlink("dir/link", "x", 501, 20)
      .Dir("dir2", 0755, 501, 20)
      .File("dir2/x", "other x\n", 0644, 501, 20)
      .Symlink("linkfile", "a.txt")
      .Symlink("linkdir", "dir")
      .Symlink("dangling", "nowhere")
      .Dir("hl", 0755, 501, 20)
      .File("hl/one", "linked\n", 0644, 501, 20)
      .Hardlink("hl/two", "hl/one")
      .Dir("other", 0755, 501, 20)
      .File("other/one", "replacement\n", 0644, 501, 20)
      .Dir("clash", 0755)
      .File("clash/app", "a file where the image has a directory\n");
}

// A stage filesystem with accounts, an existing directory with distinct metadata and a symlink
// to it.
inline void FillRootfs(MemoryTree& t) {
  t.Dir("app", 0700, 1000, 1000, 7000000000)
      .Dir("etc", 0755, 0, 0, 6000000000)
      .File("etc/passwd",
            "root:x:0:0:root:/root:/bin/sh\n"
            "app:x:1000:1001:App:/home/app:/bin/sh\n"
            "# comment\n"
            "svc:x:2000:2000::/:/sbin/nologin\n")
      .File("etc/group", "root:x:0:\nappgrp:x:1001:\nstaff:x:50:app\n")
      .File("existing.txt", "old\n")
      .Symlink("srv", "app")
      .Symlink("abs", "/app");
}

// Only the clock: a test that reaches a collaborator it did not set gets FAILED_PRECONDITION.
inline build::CopyPlannerDeps TestDeps() {
  build::CopyPlannerDeps deps;
  deps.now_unix_nanos = [] { return kNow; };
  return deps;
}

}  // namespace slipway::testing

#endif  // SLIPWAY_TESTS_BUILDPLAN_PLAN_HELPERS_H_
