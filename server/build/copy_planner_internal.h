#ifndef SLIPWAY_SERVER_BUILD_COPY_PLANNER_INTERNAL_H_
#define SLIPWAY_SERVER_BUILD_COPY_PLANNER_INTERNAL_H_

// The COPY/ADD planner with its collaborators passed in, so the planning rules (destinations,
// parent directories, ownership, modes, links, heredocs) are testable without the archive
// extractor, the path-pattern matcher or the network. PlanCopy (copy_planner_deps.cc) wires the
// real ones; only the builder and tests include this header.

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "server/build/copy_planner.h"
#include "server/build/layer/source_tree.h"
#include "server/build/url_source.h"

namespace slipway::build {

// Whether a source-relative path is excluded by --exclude; `is_dir` lets a directory that an
// exception pattern may re-enter stay (its excluded children are still dropped one by one).
using ExcludeFilter = std::function<bool(absl::string_view path, bool is_dir)>;

struct CopyPlannerDeps {
  // Builds the --exclude filter (IgnoreMatcher in production). Only called when the command
  // has --exclude patterns. INVALID_ARGUMENT for a bad pattern.
  std::function<absl::StatusOr<ExcludeFilter>(const std::vector<std::string>& patterns)>
      make_exclude_filter;
  // ADD: whether the local file at `path` is an archive to unpack (IsExtractableArchive).
  std::function<absl::StatusOr<bool>(const std::string& path)> is_archive;
  // ADD: unpacks `path` under `staging_dir` (ExtractArchive); `root` receives the archive's
  // "./" entry when it has one.
  std::function<absl::StatusOr<std::unique_ptr<SourceTree>>(
      const std::string& path, const std::string& staging_dir, std::optional<LayerEntry>* root)>
      extract_archive;
  // ADD <url>: downloads into `staging_dir` (DownloadUrl).
  std::function<absl::StatusOr<DownloadedUrl>(const UrlDownloadRequest& request)> download_url;
  // Wall clock for the mtime of directories and files this step creates (unix ns); null = now.
  std::function<int64_t()> now_unix_nanos;
};

// PlanCopy with explicit collaborators; a missing collaborator that the command needs is
// FAILED_PRECONDITION (e.g. ADD of a URL without download_url).
absl::StatusOr<std::vector<LayerEntry>> PlanCopyWithDeps(const CopyPlanRequest& request,
                                                         const std::string& staging_dir,
                                                         const CopyPlannerDeps& deps);

// The production collaborators: IgnoreMatcher, IsExtractableArchive/ExtractArchive, DownloadUrl
// (defined in copy_planner_deps.cc, which needs storage/path_pattern and server/build/layer).
CopyPlannerDeps DefaultCopyPlannerDeps();

namespace copy_internal {

// Resolves symlinks in `path` inside `tree` (a final symlink only with `follow_final`) without
// ever leaving the tree's root; components past the first missing one are kept as written.
// INVALID_ARGUMENT after 40 links (a loop). Other Stat errors are passed through.
absl::StatusOr<std::string> ResolveInTree(const SourceTree& tree, absl::string_view path,
                                          bool follow_final);
// Whether a source names a pattern (unescaped '*', '?' or '[').
bool HasWildcard(absl::string_view pattern);

// One thing a COPY/ADD copies, in command order.
struct Source {
  enum Kind { kTree, kHeredoc, kUrl } kind = kTree;
  std::string written;    // as the Dockerfile wrote it
  std::string tree_path;  // kTree: the (matched) path, cleaned; its name names the copy
  const Heredoc* heredoc = nullptr;  // kHeredoc: points into the command
};

// The command's sources: "<<NAME" markers (and heredocs the sources do not list, appended),
// ADD http(s) URLs, and tree paths with wildcards expanded by `tree->Glob` (a pattern matching
// nothing contributes nothing). NOT_FOUND "<COPY|ADD> failed: no source files were specified"
// (naming unmatched patterns) when nothing remains; INVALID_ARGUMENT for a heredoc marker
// without a body or --checksum with a non-URL source; FAILED_PRECONDITION when a tree path is
// given without a tree.
absl::StatusOr<std::vector<Source>> CollectSources(const CopyCommand& cmd,
                                                   const SourceTree* tree);

}  // namespace copy_internal

}  // namespace slipway::build

#endif  // SLIPWAY_SERVER_BUILD_COPY_PLANNER_INTERNAL_H_
