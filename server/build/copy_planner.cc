// The COPY/ADD planner: turns one COPY or ADD into the entries of its layer. Only planning
// happens here: no file content is read except heredocs written to the staging directory and
// what the injected collaborators (archive extraction, URL download) produce.
//
// Rules follow BuildKit's file operation (dockerfile2llb + fsutil copy), which Docker uses:
//  * missing parent directories of the destination are created 0755, owned by the --chown
//    owner (0:0 without it), mtime = now (clamped to SOURCE_DATE_EPOCH);
//  * a directory source copies its contents; when the destination does not exist it is created
//    like a parent (0755), when it exists its metadata is kept;
//  * directories and files inside a copied directory take the source's metadata (--chmod
//    replaces the mode of files and directories; Docker's reference documents --chmod for
//    files and directories alike, BuildKit applies it to both; symlinks keep theirs);
//  * parent directories that already exist in the stage are written with their existing
//    metadata so applying the layer changes nothing about them.
// Choices where Docker's builders disagree (the buildah differential tests arbitrate):
//  * several sources, or a wildcard matching several, make the destination a directory even
//    without a trailing "/" (the classic builder errors, BuildKit renames each match onto it);
//  * a wildcard matching nothing is skipped; NOT_FOUND only when no source at all remains
//    (classic builder and buildah; BuildKit accepts an empty COPY);
//  * ownership: --chown for everything the step writes; else 0:0 for build-context files and
//    created directories, kept for --from files and for entries unpacked from an ADD archive
//    (--chmod is not applied to unpacked entries);
//  * a file over a directory (or a directory over a non-directory) already in the stage is
//    FAILED_PRECONDITION, as BuildKit's copier refuses it.

#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <system_error>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "server/build/copy_planner_internal.h"
#include "server/registry/http_client.h"
#include "storage/digest.h"
#include "storage/file_util.h"
#include "storage/status_macros.h"

namespace slipway::build {
namespace {

using copy_internal::CollectSources;
using copy_internal::Source;
using copy_internal::ResolveInTree;

std::string JoinPath(const std::string& a, const std::string& b) {
  if (a.empty()) return b;
  if (b.empty()) return a;
  return a + "/" + b;
}

std::string BaseName(const std::string& path) {
  size_t slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

std::string ParentPath(const std::string& path) {
  size_t slash = path.rfind('/');
  return slash == std::string::npos ? "" : path.substr(0, slash);
}

// How a path appears in messages: absolute, like the Dockerfile writes it.
std::string Shown(const std::string& path) { return "/" + path; }

absl::string_view TypeName(EntryType type) {
  switch (type) {
    case EntryType::kFile: return "file";
    case EntryType::kDirectory: return "directory";
    case EntryType::kSymlink: return "symlink";
    case EntryType::kHardlink: return "hard link";
    case EntryType::kCharDevice: return "character device";
    case EntryType::kBlockDevice: return "block device";
    case EntryType::kFifo: return "fifo";
  }
  return "entry";
}


// A hard link whose group file may still be overwritten by a later source: if that happens the
// link becomes a plain copy of `file`.
struct LinkFallback {
  LayerEntry file;
};

class Planner {
 public:
  Planner(const CopyPlanRequest& request, const std::string& staging_dir,
          const CopyPlannerDeps& deps)
      : req_(request), cmd_(*request.command), staging_(staging_dir), deps_(deps) {}

  absl::StatusOr<std::vector<LayerEntry>> Run();

 private:
  absl::Status ResolveDestination(size_t source_count);
  absl::Status CopyTreeSource(const Source& source, int index);
  absl::Status CopyDirectory(const SourceTree& tree, const std::string& dir,
                             const std::string& target_dir, bool keep_owner, bool apply_chmod,
                             const ExcludeFilter* exclude);
  absl::Status CopyArchive(const LayerEntry& file, const std::string& written, int index);
  absl::Status CopyHeredoc(const Source& source, int index);
  absl::Status CopyUrl(const Source& source, int index);
  absl::Status Put(LayerEntry entry);
  absl::Status AddParents();

  // Where a single file named `name` goes: into the destination directory, or the destination.
  std::string FileTarget(const std::string& name) const {
    bool into = dest_is_dir_ || dest_existing_ == EntryType::kDirectory;
    return into ? JoinPath(dest_, name) : dest_;
  }
  absl::Status RequireDirectoryDestination(absl::string_view what) const;
  void Adopt(LayerEntry& entry, bool keep_owner, bool apply_chmod) const;
  LayerEntry NewEntry(const std::string& path, EntryType type, uint32_t mode) const;
  absl::string_view Keyword() const { return cmd_.is_add ? "ADD" : "COPY"; }

  const CopyPlanRequest& req_;
  const CopyCommand& cmd_;
  const std::string staging_;
  const CopyPlannerDeps& deps_;

  int64_t now_ = 0;
  bool has_chown_ = false;
  Ownership created_owner_;     // of directories and files this step creates itself
  ExcludeFilter exclude_;       // empty without --exclude
  std::string dest_;            // cleaned, symlinks in the stage resolved
  bool dest_is_dir_ = false;
  std::optional<EntryType> dest_existing_;  // what the stage has at dest_, if anything

  std::map<std::string, LayerEntry> out_;
  std::set<std::string> required_dirs_;  // directories to emit even when empty
  std::set<std::string> preserved_;      // existing stage directories re-emitted unchanged
  std::map<std::string, LinkFallback> link_fallbacks_;
};

absl::StatusOr<std::vector<LayerEntry>> Planner::Run() {
  now_ = deps_.now_unix_nanos ? deps_.now_unix_nanos() : absl::ToUnixNanos(absl::Now());
  has_chown_ = !cmd_.chown.empty();
  if (has_chown_) created_owner_ = req_.owner;
  if (!cmd_.excludes.empty()) {
    if (!deps_.make_exclude_filter) {
      return absl::FailedPreconditionError("--exclude: no pattern matcher configured");
    }
    SLIPWAY_ASSIGN_OR_RETURN(exclude_, deps_.make_exclude_filter(cmd_.excludes));
  }
  SLIPWAY_ASSIGN_OR_RETURN(std::vector<Source> sources, CollectSources(cmd_, req_.source));
  SLIPWAY_RETURN_IF_ERROR(ResolveDestination(sources.size()));

  for (size_t i = 0; i < sources.size(); ++i) {
    const Source& source = sources[i];
    int index = static_cast<int>(i);
    switch (source.kind) {
      case Source::kTree: SLIPWAY_RETURN_IF_ERROR(CopyTreeSource(source, index)); break;
      case Source::kHeredoc: SLIPWAY_RETURN_IF_ERROR(CopyHeredoc(source, index)); break;
      case Source::kUrl: SLIPWAY_RETURN_IF_ERROR(CopyUrl(source, index)); break;
    }
  }

  // A hard link whose group file was replaced by a later source becomes a copy of that file.
  for (auto& [path, fallback] : link_fallbacks_) {
    auto it = out_.find(path);
    if (it == out_.end() || it->second.type != EntryType::kHardlink) continue;
    auto target = out_.find(it->second.link_target);
    if (target == out_.end() || target->second.type != EntryType::kFile ||
        target->second.source_path != fallback.file.source_path) {
      it->second = fallback.file;
    }
  }
  SLIPWAY_RETURN_IF_ERROR(AddParents());

  std::vector<LayerEntry> entries;
  entries.reserve(out_.size());
  std::optional<int64_t> clamp;
  if (req_.source_date_epoch) clamp = *req_.source_date_epoch * 1000000000;
  for (auto& [path, entry] : out_) {
    if (clamp && !preserved_.count(path) && entry.mtime_unix_nanos > *clamp) {
      entry.mtime_unix_nanos = *clamp;
    }
    entries.push_back(std::move(entry));
  }
  return entries;
}

absl::Status Planner::ResolveDestination(size_t source_count) {
  const std::string& raw = cmd_.destination;
  bool dir_hint = raw.empty() || absl::EndsWith(raw, "/") || raw == "." || raw == ".." ||
                  absl::EndsWith(raw, "/.") || absl::EndsWith(raw, "/..");
  std::string absolute = absl::StartsWith(raw, "/") ? raw : req_.workdir + "/" + raw;
  dest_ = CleanPath(absolute);
  if (req_.rootfs != nullptr) {
    // The stage's symlinks are followed (BuildKit resolves the destination inside the root).
    SLIPWAY_ASSIGN_OR_RETURN(dest_, ResolveInTree(*req_.rootfs, dest_, true));
    absl::StatusOr<LayerEntry> existing = req_.rootfs->Stat(dest_, false);
    if (existing.ok()) {
      dest_existing_ = existing->type;
    } else if (!absl::IsNotFound(existing.status())) {
      return existing.status();
    }
  }
  // Several sources (named or matched) always land in a directory.
  dest_is_dir_ = dir_hint || source_count > 1 || dest_.empty();
  if (dest_is_dir_) return RequireDirectoryDestination("several sources");
  return absl::OkStatus();
}

absl::Status Planner::RequireDirectoryDestination(absl::string_view what) const {
  if (dest_existing_ && *dest_existing_ != EntryType::kDirectory) {
    return absl::FailedPreconditionError(
        absl::StrCat(Keyword(), ": cannot copy ", what, " to ", Shown(dest_), ": it is a ",
                     TypeName(*dest_existing_), ", not a directory"));
  }
  return absl::OkStatus();
}

void Planner::Adopt(LayerEntry& entry, bool keep_owner, bool apply_chmod) const {
  if (has_chown_) {
    entry.uid = req_.owner.uid;
    entry.gid = req_.owner.gid;
  } else if (!keep_owner) {
    entry.uid = 0;
    entry.gid = 0;
  }
  if (apply_chmod && cmd_.chmod &&
      (entry.type == EntryType::kFile || entry.type == EntryType::kDirectory ||
       entry.type == EntryType::kHardlink)) {
    entry.mode = *cmd_.chmod & 07777;
  }
}

LayerEntry Planner::NewEntry(const std::string& path, EntryType type, uint32_t mode) const {
  LayerEntry entry;
  entry.path = path;
  entry.type = type;
  entry.mode = mode;
  entry.uid = created_owner_.uid;
  entry.gid = created_owner_.gid;
  entry.mtime_unix_nanos = now_;
  return entry;
}

absl::Status Planner::CopyTreeSource(const Source& source, int index) {
  const SourceTree& tree = *req_.source;
  SLIPWAY_ASSIGN_OR_RETURN(std::string real, ResolveInTree(tree, source.tree_path, true));
  absl::StatusOr<LayerEntry> stat = tree.Stat(real, false);
  if (absl::IsNotFound(stat.status())) {
    std::string what = source.tree_path == CleanPath(source.written)
                           ? absl::StrCat("\"", source.written, "\"")
                           : absl::StrCat("\"", source.tree_path, "\" (matched by \"",
                                          source.written, "\")");
    return absl::NotFoundError(absl::StrCat(Keyword(), " failed: ", what,
                                            " not found in the source (or a dangling symlink)"));
  }
  if (!stat.ok()) return stat.status();
  bool keep_owner = !cmd_.from.empty();  // --from files keep their owner, context files are 0:0
  bool is_dir = stat->type == EntryType::kDirectory;
  if (exclude_ && !source.tree_path.empty() && exclude_(source.tree_path, is_dir)) {
    return absl::OkStatus();
  }
  if (is_dir) {
    SLIPWAY_RETURN_IF_ERROR(RequireDirectoryDestination(
        absl::StrCat("directory \"", source.written, "\"")));
    required_dirs_.insert(dest_);
    return CopyDirectory(tree, real, dest_, keep_owner, /*apply_chmod=*/true,
                         exclude_ ? &exclude_ : nullptr);
  }
  LayerEntry entry = *std::move(stat);
  if (entry.type == EntryType::kHardlink) {
    // Named alone, a member of a link group is just its file.
    SLIPWAY_ASSIGN_OR_RETURN(entry, tree.Stat(entry.link_target, false));
  }
  if (cmd_.is_add && entry.type == EntryType::kFile && !entry.source_path.empty()) {
    if (!deps_.is_archive) {
      return absl::FailedPreconditionError("ADD: no archive detector configured");
    }
    SLIPWAY_ASSIGN_OR_RETURN(bool archive, deps_.is_archive(entry.source_path));
    if (archive) return CopyArchive(entry, source.written, index);
  }
  // The copy is named after the source as written (a followed symlink keeps its own name).
  entry.path = FileTarget(BaseName(source.tree_path));
  if (entry.path.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(Keyword(), " ", source.written, ": cannot replace the root with a file"));
  }
  Adopt(entry, keep_owner, /*apply_chmod=*/true);
  return Put(std::move(entry));
}

absl::Status Planner::CopyDirectory(const SourceTree& tree, const std::string& dir,
                                    const std::string& target_dir, bool keep_owner,
                                    bool apply_chmod, const ExcludeFilter* exclude) {
  SLIPWAY_ASSIGN_OR_RETURN(std::vector<LayerEntry> walked, tree.Walk(dir));
  const std::string prefix = dir.empty() ? "" : dir + "/";
  // Tree path of each link group's file → the copy it became.
  std::map<std::string, LayerEntry> group_files;
  for (LayerEntry& source : walked) {
    if (!absl::StartsWith(source.path, prefix) || source.path.size() == prefix.size()) {
      return absl::InternalError(absl::StrCat("walking \"", dir, "\" returned \"", source.path,
                                              "\", which is not below it"));
    }
    std::string rel = source.path.substr(prefix.size());
    if (exclude != nullptr && (*exclude)(rel, source.type == EntryType::kDirectory)) continue;
    std::string tree_path = source.path;
    LayerEntry entry = std::move(source);
    entry.path = JoinPath(target_dir, rel);
    if (entry.type == EntryType::kHardlink) {
      auto group = group_files.find(entry.link_target);
      if (group != group_files.end()) {
        const LayerEntry& file = group->second;
        entry.link_target = file.path;
        entry.mode = file.mode;
        entry.uid = file.uid;
        entry.gid = file.gid;
        entry.size = 0;
        entry.source_path.clear();
        LayerEntry fallback = file;
        fallback.path = entry.path;
        SLIPWAY_RETURN_IF_ERROR(Put(std::move(entry)));  // (drops any older fallback here)
        std::string link_path = fallback.path;
        link_fallbacks_[link_path] = LinkFallback{std::move(fallback)};
        continue;
      }
      // The group's first file was excluded: this member carries the content instead.
      std::string group_path = entry.link_target;
      SLIPWAY_ASSIGN_OR_RETURN(LayerEntry file, tree.Stat(group_path, false));
      file.path = entry.path;
      entry = std::move(file);
      tree_path = group_path;
    }
    Adopt(entry, keep_owner, apply_chmod);
    if (entry.type == EntryType::kFile) group_files[tree_path] = entry;
    SLIPWAY_RETURN_IF_ERROR(Put(std::move(entry)));
  }
  return absl::OkStatus();
}

absl::Status Planner::CopyArchive(const LayerEntry& file, const std::string& written,
                                  int index) {
  if (!deps_.extract_archive) {
    return absl::FailedPreconditionError("ADD: no archive extractor configured");
  }
  SLIPWAY_RETURN_IF_ERROR(
      RequireDirectoryDestination(absl::StrCat("the contents of archive \"", written, "\"")));
  std::string stage = absl::StrCat(staging_, "/archive-", index);
  std::optional<LayerEntry> root;
  absl::StatusOr<std::unique_ptr<SourceTree>> tree =
      deps_.extract_archive(file.source_path, stage, &root);
  if (!tree.ok()) {
    return absl::Status(tree.status().code(),
                        absl::StrCat("ADD ", written, ": ", tree.status().message()));
  }
  required_dirs_.insert(dest_);
  // The archive's "./" entry gives the destination directory its metadata, even when it
  // already exists (Docker and buildah both apply it).
  if (root.has_value() && !dest_.empty()) {
    root->path = dest_;
    SLIPWAY_RETURN_IF_ERROR(Put(*std::move(root)));
  }
  // The archive's own modes and owners are kept (--chown still applies, --chmod does not).
  return CopyDirectory(**tree, "", dest_, /*keep_owner=*/true, /*apply_chmod=*/false, nullptr);
}

absl::Status Planner::CopyHeredoc(const Source& source, int index) {
  const Heredoc& heredoc = *source.heredoc;
  std::error_code ec;
  std::filesystem::create_directories(staging_, ec);
  if (ec) return absl::InternalError(absl::StrCat("creating ", staging_, ": ", ec.message()));
  std::string file = absl::StrCat(staging_, "/heredoc-", index);
  int fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return ErrnoStatus(errno, "create", file);
  absl::Status written = WriteAll(fd, heredoc.content, file);
  if (::close(fd) != 0 && written.ok()) written = ErrnoStatus(errno, "close", file);
  SLIPWAY_RETURN_IF_ERROR(written);

  LayerEntry entry = NewEntry(FileTarget(heredoc.name), EntryType::kFile,
                              cmd_.chmod ? (*cmd_.chmod & 07777) : 0644);
  if (entry.path.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(Keyword(), " ", source.written, ": cannot replace the root with a file"));
  }
  entry.size = static_cast<int64_t>(heredoc.content.size());
  entry.source_path = file;
  entry.content_digest = Sha256Of(heredoc.content).ToString();
  return Put(std::move(entry));
}

absl::Status Planner::CopyUrl(const Source& source, int index) {
  if (!deps_.download_url) {
    return absl::FailedPreconditionError("ADD: no URL downloader configured");
  }
  UrlDownloadRequest request;
  request.url = source.written;
  request.checksum = cmd_.checksum;
  request.staging_dir = absl::StrCat(staging_, "/url-", index);
  SLIPWAY_ASSIGN_OR_RETURN(DownloadedUrl download, deps_.download_url(request));
  bool into = dest_is_dir_ || dest_existing_ == EntryType::kDirectory;
  if (into && download.file_name.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "ADD ", registry::RedactUrl(source.written),
        ": the URL has no file name; give the destination a file name"));
  }
  // Docker creates downloaded files 0600 (--chmod overrides).
  LayerEntry entry = NewEntry(FileTarget(download.file_name), EntryType::kFile,
                              cmd_.chmod ? (*cmd_.chmod & 07777) : 0600);
  if (entry.path.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("ADD ", registry::RedactUrl(source.written),
                     ": cannot replace the root with a file"));
  }
  if (download.last_modified_unix_nanos) entry.mtime_unix_nanos = *download.last_modified_unix_nanos;
  entry.size = download.size;
  entry.source_path = download.path;
  entry.content_digest = download.digest;
  return Put(std::move(entry));
}

absl::Status Planner::Put(LayerEntry entry) {
  bool is_dir = entry.type == EntryType::kDirectory;
  auto it = out_.find(entry.path);
  std::optional<EntryType> existing;
  if (it != out_.end()) {
    existing = it->second.type;
  } else if (req_.rootfs != nullptr) {
    absl::StatusOr<LayerEntry> stat = req_.rootfs->Stat(entry.path, false);
    if (stat.ok()) {
      existing = stat->type;
    } else if (!absl::IsNotFound(stat.status())) {
      return stat.status();
    }
  }
  if (existing && (*existing == EntryType::kDirectory) != is_dir) {
    return absl::FailedPreconditionError(absl::StrCat(
        Keyword(), ": cannot replace ", TypeName(*existing), " ", Shown(entry.path),
        " with a ", TypeName(entry.type)));
  }
  link_fallbacks_.erase(entry.path);
  out_[entry.path] = std::move(entry);
  return absl::OkStatus();
}

absl::Status Planner::AddParents() {
  std::set<std::string> needed;
  auto need_with_parents = [&needed](std::string dir) {
    for (; !dir.empty(); dir = ParentPath(dir)) {
      if (!needed.insert(dir).second) break;  // its parents are in already
    }
  };
  for (const std::string& dir : required_dirs_) need_with_parents(dir);
  for (const auto& [path, entry] : out_) need_with_parents(ParentPath(path));
  for (const std::string& dir : needed) {
    auto it = out_.find(dir);
    if (it != out_.end()) {
      if (it->second.type != EntryType::kDirectory) {
        return absl::FailedPreconditionError(absl::StrCat(
            Keyword(), ": ", Shown(dir), " is a ", TypeName(it->second.type),
            " in this step and also the parent of copied files"));
      }
      continue;
    }
    if (req_.rootfs != nullptr) {
      absl::StatusOr<LayerEntry> stat = req_.rootfs->Stat(dir, false);
      if (stat.ok()) {
        if (stat->type != EntryType::kDirectory) {
          return absl::FailedPreconditionError(
              absl::StrCat(Keyword(), ": cannot copy into ", Shown(dir), ": it is a ",
                           TypeName(stat->type), " in the image, not a directory"));
        }
        LayerEntry kept = *std::move(stat);
        kept.path = dir;
        preserved_.insert(dir);
        out_[dir] = std::move(kept);
        continue;
      }
      if (!absl::IsNotFound(stat.status())) return stat.status();
    }
    out_[dir] = NewEntry(dir, EntryType::kDirectory, 0755);
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::vector<LayerEntry>> PlanCopyWithDeps(const CopyPlanRequest& request,
                                                         const std::string& staging_dir,
                                                         const CopyPlannerDeps& deps) {
  if (request.command == nullptr) {
    return absl::InvalidArgumentError("PlanCopy: no command");
  }
  Planner planner(request, staging_dir, deps);
  return planner.Run();
}

}  // namespace slipway::build
