#ifndef SLIPWAY_SERVER_BUILD_IMAGE_CONFIG_H_
#define SLIPWAY_SERVER_BUILD_IMAGE_CONFIG_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "nlohmann/json.hpp"
#include "server/build/dockerfile/commands.h"
#include "storage/digest.h"
#include "storage/manifest.h"

namespace slipway::build {

// The image config a stage is building: the base image's config with every metadata
// instruction applied, plus history and rootfs. Unknown fields of the base config are kept.
// Not thread-safe (one per stage).
class ImageConfig {
 public:
  // An empty config for FROM scratch.
  static ImageConfig Scratch(const PlatformSpec& platform);
  // The base image's config JSON. INVALID_ARGUMENT naming `what` for a malformed config.
  static absl::StatusOr<ImageConfig> FromJson(absl::string_view json, absl::string_view what);

  // Applies a metadata instruction (ENV is applied by the caller through SetEnv, since the
  // stage scope owns the variables). `shell` wraps shell forms; `comment`-free history is
  // added by the caller. INVALID_ARGUMENT for a command this class does not apply.
  absl::Status Apply(const Command& command);
  void SetEnv(const std::vector<std::string>& env);
  void SetLabel(const std::string& key, const std::string& value);

  std::vector<std::string> Env() const;
  std::string WorkingDir() const;  // "/" when unset
  std::string User() const;
  std::vector<std::string> Shell() const;  // ["/bin/sh", "-c"] when unset
  std::vector<std::string> OnBuild() const;
  // The child of an image does not inherit its ONBUILD triggers (it runs them instead).
  void ClearOnBuild();
  PlatformSpec Platform() const;

  void AddLayer(const Digest& diff_id);
  const std::vector<Digest>& diff_ids() const { return diff_ids_; }
  // Appends a history entry; returns its index for SetHistoryCreated (HistoryTimes decides the
  // time once the stage is done).
  size_t AddHistory(const std::string& created_by, bool empty_layer);
  // `created` is RFC 3339. `index` must come from AddHistory.
  void SetHistoryCreated(size_t index, const std::string& created);
  // The config's own `created` as Unix seconds; none when absent or not RFC 3339.
  std::optional<int64_t> CreatedUnix() const;

  // The config JSON to store: canonical key order, `created` set.
  std::string Serialize(const std::string& created) const;

 private:
  nlohmann::json& Config();  // the "config" object, created on demand
  const nlohmann::json* ConfigOrNull() const;

  nlohmann::json doc_ = nlohmann::json::object();
  std::vector<Digest> diff_ids_;
  bool cmd_set_in_stage_ = false;
};

// RFC 3339 (UTC, seconds) of a Unix time.
std::string Rfc3339(int64_t unix_seconds);

}  // namespace slipway::build

#endif  // SLIPWAY_SERVER_BUILD_IMAGE_CONFIG_H_
