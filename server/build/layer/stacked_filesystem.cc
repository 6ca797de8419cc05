// StackedFilesystem (declared in unpacked_layers.h): the merged view of overlay-form layer
// directories, computed the way overlayfs does it, without mounting anything.
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>
#include <dirent.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <deque>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "server/build/layer/unpacked_layers.h"
#include "storage/status_macros.h"

namespace slipway::build {
namespace {

constexpr int kMaxSymlinks = 40;  // as Linux's MAXSYMLINKS
constexpr char kOverlayXattrPrefix[] = "trusted.overlay.";

bool IsWhiteout(const struct stat& st) { return S_ISCHR(st.st_mode) && st.st_rdev == 0; }

bool IsOpaque(const std::string& path) {
  char value[4];
  ssize_t n = lgetxattr(path.c_str(), "trusted.overlay.opaque", value, sizeof(value));
  return n == 1 && value[0] == 'y';
}

std::string Join(const std::string& dir, absl::string_view name) {
  return dir.empty() ? std::string(name) : absl::StrCat(dir, "/", name);
}

absl::StatusOr<std::string> ReadLink(const std::string& path) {
  std::string buf(4096, '\0');
  ssize_t n = readlink(path.c_str(), buf.data(), buf.size());
  if (n < 0) return absl::InternalError(absl::StrCat("readlink ", path, ": ", std::strerror(errno)));
  buf.resize(static_cast<size_t>(n));
  return buf;
}

absl::StatusOr<std::map<std::string, std::string>> ReadXattrs(const std::string& path) {
  std::map<std::string, std::string> out;
  ssize_t size = llistxattr(path.c_str(), nullptr, 0);
  if (size <= 0) return out;  // none, or a filesystem without xattrs
  std::string names(static_cast<size_t>(size), '\0');
  size = llistxattr(path.c_str(), names.data(), names.size());
  if (size < 0) return out;
  names.resize(static_cast<size_t>(size));
  for (absl::string_view name : absl::StrSplit(names, '\0', absl::SkipEmpty())) {
    if (absl::StartsWith(name, kOverlayXattrPrefix)) continue;  // overlayfs' own bookkeeping
    std::string n(name);
    ssize_t vsize = lgetxattr(path.c_str(), n.c_str(), nullptr, 0);
    if (vsize < 0) continue;
    std::string value(static_cast<size_t>(vsize), '\0');
    vsize = lgetxattr(path.c_str(), n.c_str(), value.data(), value.size());
    if (vsize < 0) continue;
    value.resize(static_cast<size_t>(vsize));
    out.emplace(std::move(n), std::move(value));
  }
  return out;
}

class StackedTree : public SourceTree {
 public:
  explicit StackedTree(std::vector<std::string> layers) : layers_(std::move(layers)) {}

  absl::StatusOr<LayerEntry> Stat(absl::string_view path, bool follow) const override {
    SLIPWAY_ASSIGN_OR_RETURN(Node node, Resolve(path, follow));
    return MakeEntry(node);
  }

  absl::StatusOr<std::vector<LayerEntry>> Walk(absl::string_view dir) const override {
    SLIPWAY_ASSIGN_OR_RETURN(Node top, Resolve(dir, /*follow=*/true));
    if (!S_ISDIR(top.st.st_mode)) {
      return absl::FailedPreconditionError(absl::StrCat("\"", dir, "\" is not a directory"));
    }
    std::vector<LayerEntry> entries;
    std::map<std::pair<dev_t, ino_t>, std::vector<size_t>> links;
    std::vector<Node> todo{top};
    while (!todo.empty()) {
      Node node = std::move(todo.back());
      todo.pop_back();
      std::set<std::string> names;
      for (int layer : node.dir_layers) {
        SLIPWAY_RETURN_IF_ERROR(ListNames(layers_[layer] + "/" + node.path, names));
      }
      for (const std::string& name : names) {
        SLIPWAY_ASSIGN_OR_RETURN(std::optional<Node> child, Child(node, name));
        if (!child) continue;
        SLIPWAY_ASSIGN_OR_RETURN(LayerEntry entry, MakeEntry(*child));
        if (S_ISREG(child->st.st_mode) && child->st.st_nlink > 1) {
          links[{child->st.st_dev, child->st.st_ino}].push_back(entries.size());
        }
        entries.push_back(std::move(entry));
        if (S_ISDIR(child->st.st_mode)) todo.push_back(std::move(*child));
      }
    }
    // Hard links: the first path of each group (in sorted order) stays the file.
    for (auto& [key, group] : links) {
      if (group.size() < 2) continue;
      std::sort(group.begin(), group.end(),
                [&](size_t a, size_t b) { return entries[a].path < entries[b].path; });
      for (size_t i = 1; i < group.size(); ++i) {
        entries[group[i]].type = EntryType::kHardlink;
        entries[group[i]].link_target = entries[group[0]].path;
      }
    }
    std::sort(entries.begin(), entries.end(),
              [](const LayerEntry& a, const LayerEntry& b) { return a.path < b.path; });
    return entries;
  }

  absl::StatusOr<std::string> ReadFile(absl::string_view path, int64_t max_size) const override {
    SLIPWAY_ASSIGN_OR_RETURN(Node node, Resolve(path, /*follow=*/true));
    if (!S_ISREG(node.st.st_mode)) {
      return absl::FailedPreconditionError(absl::StrCat("\"", path, "\" is not a regular file"));
    }
    if (node.st.st_size > max_size) {
      return absl::ResourceExhaustedError(absl::StrCat("\"", path, "\" is ", node.st.st_size,
                                                       " bytes, more than ", max_size));
    }
    std::string full = layers_[node.layer] + "/" + node.path;
    int fd = open(full.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) return absl::InternalError(absl::StrCat("open ", full, ": ", std::strerror(errno)));
    absl::Cleanup close_fd = [fd] { close(fd); };
    std::string out;
    char buf[64 << 10];
    for (;;) {
      ssize_t n = read(fd, buf, sizeof(buf));
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return absl::InternalError(absl::StrCat("read ", full, ": ", std::strerror(errno)));
      if (n == 0) break;
      if (static_cast<int64_t>(out.size()) + n > max_size) {
        return absl::ResourceExhaustedError(absl::StrCat("\"", path, "\" grew past ", max_size));
      }
      out.append(buf, static_cast<size_t>(n));
    }
    return out;
  }

 private:
  // One entry of the merged view.
  struct Node {
    std::string path;             // relative to the root, "" for the root
    int layer = -1;               // the layer that provides it (-1: the synthetic empty root)
    struct stat st {};
    std::vector<int> dir_layers;  // directories: the layers merged into it, top first
  };

  // Extends a directory's layer list below `first` (the topmost layer having it as a
  // directory): lower layers merge in until an opaque directory, a non-directory or a
  // whiteout ends the stack.
  std::vector<int> MergedLayers(const std::vector<int>& candidates, size_t first,
                                const std::string& path) const {
    std::vector<int> out{candidates[first]};
    if (IsOpaque(layers_[candidates[first]] + "/" + path)) return out;
    for (size_t k = first + 1; k < candidates.size(); ++k) {
      std::string full = layers_[candidates[k]] + "/" + path;
      struct stat st {};
      if (lstat(full.c_str(), &st) != 0) continue;
      if (!S_ISDIR(st.st_mode)) break;  // a whiteout or a file: nothing lower shows through
      out.push_back(candidates[k]);
      if (IsOpaque(full)) break;
    }
    return out;
  }

  Node Root() const {
    Node root;
    if (layers_.empty()) {
      root.st.st_mode = S_IFDIR | 0755;
      return root;
    }
    std::vector<int> all;
    for (int i = static_cast<int>(layers_.size()) - 1; i >= 0; --i) all.push_back(i);
    root.layer = all.front();
    lstat(layers_[root.layer].c_str(), &root.st);
    root.dir_layers = MergedLayers(all, 0, "");
    return root;
  }

  // The entry `name` in directory `dir`, nullopt when absent or whited out.
  absl::StatusOr<std::optional<Node>> Child(const Node& dir, const std::string& name) const {
    std::string path = Join(dir.path, name);
    for (size_t k = 0; k < dir.dir_layers.size(); ++k) {
      std::string full = layers_[dir.dir_layers[k]] + "/" + path;
      struct stat st {};
      if (lstat(full.c_str(), &st) != 0) {
        if (errno == ENOENT || errno == ENOTDIR) continue;
        return absl::InternalError(absl::StrCat("lstat ", full, ": ", std::strerror(errno)));
      }
      if (IsWhiteout(st)) return std::optional<Node>();
      Node node;
      node.path = path;
      node.layer = dir.dir_layers[k];
      node.st = st;
      if (S_ISDIR(st.st_mode)) node.dir_layers = MergedLayers(dir.dir_layers, k, path);
      return std::optional<Node>(std::move(node));
    }
    return std::optional<Node>();
  }

  // Walks `path` component by component inside the merged view. Symlinks resolve against the
  // view's root, and ".." at the root stays there, so resolution never leaves the tree.
  absl::StatusOr<Node> Resolve(absl::string_view path, bool follow) const {
    std::vector<Node> stack{Root()};
    std::deque<std::string> todo;
    for (absl::string_view part : absl::StrSplit(path, '/', absl::SkipEmpty())) {
      todo.emplace_back(part);
    }
    int symlinks = 0;
    while (!todo.empty()) {
      std::string name = std::move(todo.front());
      todo.pop_front();
      if (name == ".") continue;
      if (name == "..") {
        if (stack.size() > 1) stack.pop_back();
        continue;
      }
      if (!S_ISDIR(stack.back().st.st_mode)) {
        return absl::NotFoundError(absl::StrCat("\"", path, "\": \"", stack.back().path,
                                                "\" is not a directory"));
      }
      SLIPWAY_ASSIGN_OR_RETURN(std::optional<Node> child, Child(stack.back(), name));
      if (!child) return absl::NotFoundError(absl::StrCat("\"", path, "\" does not exist"));
      if (S_ISLNK(child->st.st_mode) && (!todo.empty() || follow)) {
        if (++symlinks > kMaxSymlinks) {
          return absl::FailedPreconditionError(
              absl::StrCat("\"", path, "\": too many levels of symbolic links"));
        }
        SLIPWAY_ASSIGN_OR_RETURN(std::string target,
                                 ReadLink(layers_[child->layer] + "/" + child->path));
        if (absl::StartsWith(target, "/")) stack.resize(1);
        std::vector<std::string> parts = absl::StrSplit(target, '/', absl::SkipEmpty());
        todo.insert(todo.begin(), parts.begin(), parts.end());
        continue;
      }
      stack.push_back(std::move(*child));
    }
    return stack.back();
  }

  absl::StatusOr<LayerEntry> MakeEntry(const Node& node) const {
    LayerEntry e;
    e.path = node.path;
    const struct stat& st = node.st;
    e.mode = st.st_mode & 07777;
    e.uid = st.st_uid;
    e.gid = st.st_gid;
    e.mtime_unix_nanos = static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
    if (node.layer < 0) {
      e.type = EntryType::kDirectory;
      return e;
    }
    std::string full = layers_[node.layer] + "/" + node.path;
    switch (st.st_mode & S_IFMT) {
      case S_IFREG:
        e.type = EntryType::kFile;
        e.size = st.st_size;
        e.source_path = full;
        break;
      case S_IFDIR: e.type = EntryType::kDirectory; break;
      case S_IFLNK: {
        e.type = EntryType::kSymlink;
        SLIPWAY_ASSIGN_OR_RETURN(e.link_target, ReadLink(full));
        break;
      }
      case S_IFCHR:
      case S_IFBLK:
        e.type = S_ISCHR(st.st_mode) ? EntryType::kCharDevice : EntryType::kBlockDevice;
        e.dev_major = major(st.st_rdev);
        e.dev_minor = minor(st.st_rdev);
        break;
      case S_IFIFO: e.type = EntryType::kFifo; break;
      default:
        return absl::FailedPreconditionError(
            absl::StrCat("\"", node.path, "\" is a socket or an unknown file type"));
    }
    SLIPWAY_ASSIGN_OR_RETURN(e.xattrs, ReadXattrs(full));
    return e;
  }

  static absl::Status ListNames(const std::string& dir, std::set<std::string>& names) {
    DIR* d = opendir(dir.c_str());
    if (d == nullptr) {
      return absl::InternalError(absl::StrCat("opendir ", dir, ": ", std::strerror(errno)));
    }
    absl::Cleanup close_dir = [d] { closedir(d); };
    while (struct dirent* ent = readdir(d)) {
      absl::string_view name = ent->d_name;
      if (name != "." && name != "..") names.emplace(name);
    }
    return absl::OkStatus();
  }

  std::vector<std::string> layers_;  // bottom first
};

}  // namespace

absl::StatusOr<std::unique_ptr<SourceTree>> StackedFilesystem(
    std::vector<std::string> layer_dirs) {
  for (const std::string& dir : layer_dirs) {
    struct stat st {};
    if (stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
      return absl::NotFoundError(absl::StrCat("layer directory ", dir, " does not exist"));
    }
  }
  return std::unique_ptr<SourceTree>(new StackedTree(std::move(layer_dirs)));
}

}  // namespace slipway::build
