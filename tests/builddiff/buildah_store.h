#ifndef SLIPWAY_TESTS_BUILDDIFF_BUILDAH_STORE_H_
#define SLIPWAY_TESTS_BUILDDIFF_BUILDAH_STORE_H_

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "tests/builddiff/image_snapshot.h"
#include "tests/support/temp_dir.h"

namespace slipway::testing {

// What a differential case hands to a builder, the same for buildah and slipway.
struct BuildRequest {
  std::string context_dir;
  std::string dockerfile;  // absolute path (kept outside the context)
  std::vector<std::pair<std::string, std::string>> build_args;
  std::string target;  // empty: the last stage
};

// A private buildah store (vfs driver, own --root/--runroot under a temp dir) holding the base
// image under `base_name`, imported from an OCI layout. Builds run with --isolation chroot,
// --layers and --format docker (the docker config keeps HEALTHCHECK and ONBUILD, which the OCI
// config cannot carry). Every command is bounded in time. Not thread-safe.
class BuildahStore {
 public:
  // `base_layout`:`base_tag` is copied in (skopeo) as `base_name` (e.g. "localhost/testbase:1").
  static absl::StatusOr<std::unique_ptr<BuildahStore>> Create(const std::string& base_layout,
                                                              const std::string& base_tag,
                                                              const std::string& base_name);

  // Builds `request`, tags it `name`, and returns the image: the root filesystem from an OCI
  // layout pushed into `scratch_dir` and the config from `buildah inspect` (the docker
  // config). `scratch_dir` must exist. Errors carry buildah's output.
  absl::StatusOr<ImageSnapshot> Build(const BuildRequest& request, const std::string& name,
                                      const std::string& scratch_dir);

 private:
  BuildahStore() = default;
  std::vector<std::string> Command(std::vector<std::string> args) const;

  TempDir dir_;
};

}  // namespace slipway::testing

#endif  // SLIPWAY_TESTS_BUILDDIFF_BUILDAH_STORE_H_
