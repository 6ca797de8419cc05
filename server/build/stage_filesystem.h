#ifndef SLIPWAY_SERVER_BUILD_STAGE_FILESYSTEM_H_
#define SLIPWAY_SERVER_BUILD_STAGE_FILESYSTEM_H_

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "server/build/layer/source_tree.h"
#include "server/build/layer/unpacked_layers.h"
#include "storage/descriptor.h"
#include "storage/digest.h"

namespace slipway::build {

// The layers of a stage so far, and a SourceTree over their union made on demand.
//
// Layers written by this build carry their entries in memory, so COPY can look at a stage's
// filesystem (is the destination a directory? what does COPY --from take?) without unpacking
// them: their files are read straight from the context blobs. Layers that came from a base
// image or a cache hit are unpacked once (by diff_id, through UnpackedLayers) when a view
// needs them. Thread-safe.
class StageFilesystem {
 public:
  explicit StageFilesystem(UnpackedLayers& unpacked) : unpacked_(unpacked) {}

  struct Layer {
    Descriptor blob;
    Digest diff_id;
    // Set for layers written by this build: the entries, by path.
    std::shared_ptr<const std::map<std::string, LayerEntry>> entries;
  };
  void Append(Layer layer);
  std::vector<Layer> layers() const;

  // Every layer unpacked (through UnpackedLayers, by diff_id), bottom first: the lower
  // directories a RUN stacks with overlayfs.
  absl::StatusOr<std::vector<std::string>> UnpackedDirs();

  // A view of the union of every layer appended so far (later layers win). Unpacks the layers
  // without entries that the view needs. The view stays valid after further Append() calls
  // (it sees the layers as they were).
  absl::StatusOr<std::shared_ptr<const SourceTree>> View();

 private:
  UnpackedLayers& unpacked_;
  mutable absl::Mutex mu_;
  std::vector<Layer> layers_ ABSL_GUARDED_BY(mu_);
};

// A SourceTree of in-memory layers over an optional lower tree (exposed for tests).
std::shared_ptr<const SourceTree> OverlayTree(
    std::shared_ptr<const SourceTree> lower,
    std::vector<std::shared_ptr<const std::map<std::string, LayerEntry>>> uppers);

}  // namespace slipway::build

#endif  // SLIPWAY_SERVER_BUILD_STAGE_FILESYSTEM_H_
