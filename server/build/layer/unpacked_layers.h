#ifndef SLIPWAY_SERVER_BUILD_LAYER_UNPACKED_LAYERS_H_
#define SLIPWAY_SERVER_BUILD_LAYER_UNPACKED_LAYERS_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "server/build/layer/source_tree.h"
#include "storage/blob_store.h"
#include "storage/descriptor.h"
#include "storage/digest.h"

namespace slipway::build {

struct UnpackedLayersOptions {
  std::string root;  // e.g. <data-dir>/layers; one directory per diff_id hex
};

// Layers unpacked once, by diff_id, and reused (by COPY --from, name lookups in /etc/passwd,
// and the overlayfs RUN executor). Each directory holds the layer's files with ownership, modes,
// xattrs, hard links and device nodes as in the tar (ownership and devices need root; without
// it they are recorded in the xattrs user.slipway.uid/gid/dev), and whiteouts in overlayfs form:
// a `.wh.x` entry becomes a 0:0 character device `x`, `.wh..wh..opq` the xattr
// trusted.overlay.opaque=y on its directory. Unpacking goes to a temp directory renamed into
// place when complete, so a crash never leaves a half-unpacked layer; an entry that would land
// outside the directory (absolute or ".." path, a path through a symlink) is INVALID_ARGUMENT.
// Thread-safe: concurrent Get() of one layer unpacks it once.
class UnpackedLayers {
 public:
  static absl::StatusOr<std::unique_ptr<UnpackedLayers>> Create(
      const UnpackedLayersOptions& options, const BlobStore& store);
  virtual ~UnpackedLayers() = default;

  // The directory of the layer whose stored blob is `blob` (any supported compression) and
  // whose uncompressed digest is `diff_id` (verified while unpacking: DATA_LOSS).
  virtual absl::StatusOr<std::string> Get(const Digest& diff_id, const Descriptor& blob) = 0;
  // Takes `dir` (a directory on the same filesystem, in overlay form: a RUN's upper directory)
  // as the unpacked form of `diff_id`, by renaming it into place, so the next RUN stacks it
  // without unpacking the layer just written. When the layer is already unpacked, `dir` is
  // removed instead. INTERNAL when the rename fails for another reason.
  virtual absl::Status Adopt(const Digest& diff_id, const std::string& dir) = 0;
  // Removes unpacked layers not in `keep` (GC hook).
  virtual absl::Status Prune(const std::vector<Digest>& keep) = 0;
};

// A read-only view of a stacked image filesystem over unpacked layer directories (bottom
// first), honouring overlay-form whiteouts and opaque directories. Content source_path points
// into the layer directory that provides each file.
absl::StatusOr<std::unique_ptr<SourceTree>> StackedFilesystem(
    std::vector<std::string> layer_dirs);

}  // namespace slipway::build

#endif  // SLIPWAY_SERVER_BUILD_LAYER_UNPACKED_LAYERS_H_
