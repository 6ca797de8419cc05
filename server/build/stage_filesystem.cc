#include "server/build/stage_filesystem.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace slipway::build {
namespace {

std::string ParentOf(const std::string& path) {
  auto slash = path.rfind('/');
  return slash == std::string::npos ? "" : path.substr(0, slash);
}

class Overlay : public SourceTree {
 public:
  Overlay(std::shared_ptr<const SourceTree> lower,
          std::vector<std::shared_ptr<const std::map<std::string, LayerEntry>>> uppers)
      : lower_(std::move(lower)), uppers_(std::move(uppers)) {}

  absl::StatusOr<LayerEntry> Stat(absl::string_view raw, bool follow) const override {
    std::string path = CleanPath(raw);
    for (int hops = 0; hops < 40; ++hops) {
      if (path.empty()) {
        LayerEntry root;
        root.type = EntryType::kDirectory;
        root.mode = 0755;
        return root;
      }
      const LayerEntry* upper = FindUpper(path);
      if (upper == nullptr) {
        if (lower_ != nullptr) {
          auto below = lower_->Stat(path, follow);
          if (below.ok() || below.status().code() != absl::StatusCode::kNotFound ||
              !ImpliedDirectory(path)) {
            return below;
          }
        }
        // An in-memory parent directory implied by deeper entries.
        if (ImpliedDirectory(path)) {
          LayerEntry dir;
          dir.path = path;
          dir.type = EntryType::kDirectory;
          dir.mode = 0755;
          return dir;
        }
        return absl::NotFoundError(absl::StrCat(path, ": no such file or directory"));
      }
      if (upper->type != EntryType::kSymlink || !follow) return *upper;
      const std::string& target = upper->link_target;
      path = CleanPath(absl::StartsWith(target, "/") ? target
                                                     : absl::StrCat(ParentOf(path), "/", target));
    }
    return absl::InvalidArgumentError(absl::StrCat(raw, ": too many levels of symbolic links"));
  }

  absl::StatusOr<std::vector<LayerEntry>> Walk(absl::string_view raw) const override {
    const std::string dir = CleanPath(raw);
    std::map<std::string, LayerEntry> merged;
    bool found = dir.empty();
    if (lower_ != nullptr) {
      auto below = lower_->Walk(dir);
      if (below.ok()) {
        found = true;
        for (auto& e : *below) merged[e.path] = std::move(e);
      } else if (below.status().code() != absl::StatusCode::kNotFound) {
        return below.status();
      }
    }
    const std::string prefix = dir.empty() ? "" : dir + "/";
    for (const auto& layer : uppers_) {
      if (!dir.empty()) {
        auto it = layer->find(dir);
        if (it != layer->end()) {
          if (it->second.type != EntryType::kDirectory) {
            return absl::FailedPreconditionError(absl::StrCat(dir, ": not a directory"));
          }
          found = true;
        }
      }
      for (auto it = layer->lower_bound(prefix); it != layer->end(); ++it) {
        if (!absl::StartsWith(it->first, prefix)) break;
        found = true;
        merged[it->first] = it->second;
      }
    }
    if (!found) return absl::NotFoundError(absl::StrCat(dir, ": no such directory"));
    std::vector<LayerEntry> out;
    out.reserve(merged.size());
    for (auto& [path, e] : merged) out.push_back(std::move(e));
    return out;
  }

  absl::StatusOr<std::string> ReadFile(absl::string_view path, int64_t max_size) const override {
    auto entry = Stat(path, /*follow=*/true);
    if (!entry.ok()) return entry.status();
    if (entry->type != EntryType::kFile || entry->source_path.empty()) {
      if (lower_ != nullptr && FindUpper(CleanPath(path)) == nullptr) {
        return lower_->ReadFile(path, max_size);
      }
      return absl::FailedPreconditionError(absl::StrCat(path, ": not a regular file"));
    }
    if (entry->size > max_size) {
      return absl::ResourceExhaustedError(absl::StrCat(path, ": larger than ", max_size, " bytes"));
    }
    int fd = open(entry->source_path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return absl::NotFoundError(absl::StrCat(path, ": cannot open its content"));
    std::string out(static_cast<size_t>(entry->size), '\0');
    size_t got = 0;
    while (got < out.size()) {
      ssize_t n = read(fd, out.data() + got, out.size() - got);
      if (n <= 0) break;
      got += static_cast<size_t>(n);
    }
    close(fd);
    out.resize(got);
    return out;
  }

 private:
  const LayerEntry* FindUpper(const std::string& path) const {
    for (auto it = uppers_.rbegin(); it != uppers_.rend(); ++it) {
      auto found = (*it)->find(path);
      if (found != (*it)->end()) return &found->second;
    }
    return nullptr;
  }
  bool ImpliedDirectory(const std::string& path) const {
    const std::string prefix = path + "/";
    for (const auto& layer : uppers_) {
      auto it = layer->lower_bound(prefix);
      if (it != layer->end() && absl::StartsWith(it->first, prefix)) return true;
    }
    return false;
  }

  std::shared_ptr<const SourceTree> lower_;
  std::vector<std::shared_ptr<const std::map<std::string, LayerEntry>>> uppers_;
};

}  // namespace

std::shared_ptr<const SourceTree> OverlayTree(
    std::shared_ptr<const SourceTree> lower,
    std::vector<std::shared_ptr<const std::map<std::string, LayerEntry>>> uppers) {
  return std::make_shared<Overlay>(std::move(lower), std::move(uppers));
}

void StageFilesystem::Append(Layer layer) {
  absl::MutexLock lock(&mu_);
  layers_.push_back(std::move(layer));
}

std::vector<StageFilesystem::Layer> StageFilesystem::layers() const {
  absl::MutexLock lock(&mu_);
  return layers_;
}

absl::StatusOr<std::vector<std::string>> StageFilesystem::UnpackedDirs() {
  std::vector<std::string> dirs;
  for (const Layer& layer : layers()) {
    auto dir = unpacked_.Get(layer.diff_id, layer.blob);
    if (!dir.ok()) return dir.status();
    dirs.push_back(*std::move(dir));
  }
  return dirs;
}

absl::StatusOr<std::shared_ptr<const SourceTree>> StageFilesystem::View() {
  std::vector<Layer> layers = this->layers();
  // Everything up to the last layer without in-memory entries must be unpacked; the layers
  // after it are overlaid from memory.
  size_t first_in_memory = layers.size();
  while (first_in_memory > 0 && layers[first_in_memory - 1].entries != nullptr) {
    --first_in_memory;
  }
  std::shared_ptr<const SourceTree> lower;
  if (first_in_memory > 0) {
    std::vector<std::string> dirs;
    for (size_t i = 0; i < first_in_memory; ++i) {
      auto dir = unpacked_.Get(layers[i].diff_id, layers[i].blob);
      if (!dir.ok()) return dir.status();
      dirs.push_back(*dir);
    }
    auto stacked = StackedFilesystem(std::move(dirs));
    if (!stacked.ok()) return stacked.status();
    lower = std::shared_ptr<const SourceTree>(std::move(*stacked));
  }
  std::vector<std::shared_ptr<const std::map<std::string, LayerEntry>>> uppers;
  for (size_t i = first_in_memory; i < layers.size(); ++i) uppers.push_back(layers[i].entries);
  return OverlayTree(std::move(lower), std::move(uppers));
}

}  // namespace slipway::build
