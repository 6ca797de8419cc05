#include "client/step/step_outputs.h"

#include <set>

#include "absl/strings/str_cat.h"
#include "client/atomic_file.h"
#include "client/step/step_targets.h"
#include "nlohmann/json.hpp"
#include "storage/file_util.h"

namespace slipway::client::step {
namespace {

// "name" of "name:tag" (the ':' after the last '/').
std::string NameOf(const std::string& image) {
  const size_t slash = image.rfind('/');
  const size_t colon = image.rfind(':');
  if (colon == std::string::npos || (slash != std::string::npos && colon < slash)) return image;
  return image.substr(0, colon);
}

absl::Status Named(const char* variable, const std::string& path, const absl::Status& s) {
  if (s.ok()) return s;
  return absl::Status(s.code(), absl::StrCat(variable, " ", path, ": ", s.message()));
}

}  // namespace

std::string RegistryType(const StepSettings& settings) {
  switch (settings.flavour) {
    case StepSettings::Flavour::kEcr: return "ECR";
    case StepSettings::Flavour::kGar: return "GAR";
    case StepSettings::Flavour::kAcr: return "ACR";
    default: return "Docker";
  }
}

std::string DroneOutputLines(const StepResult& result) {
  std::string out = absl::StrCat("digest=", result.digest, "\n");
  if (!result.tar_path.empty()) absl::StrAppend(&out, "IMAGE_TAR_PATH=", result.tar_path, "\n");
  return out;
}

std::string ArtifactJson(const StepSettings& settings, const StepResult& result) {
  std::string url = settings.registry;
  if (url.empty()) {
    absl::StatusOr<ImageName> name = ParseImageName(settings.repo);
    if (name.ok()) url = name->registry;
  }
  nlohmann::json images = nlohmann::json::array();
  for (const auto& image : result.images) {
    images.push_back({{"image", image}, {"digest", result.digest}});
  }
  nlohmann::json j = {
      {"kind", "docker/v1"},
      {"data", {{"registryType", RegistryType(settings)}, {"registryUrl", url}, {"images", images}}}};
  return j.dump() + "\n";
}

std::string ImageNameWithDigest(const StepResult& result) {
  std::string out;
  std::set<std::string> seen;
  for (const auto& image : result.images) {
    std::string name = NameOf(image);
    if (seen.insert(name).second) absl::StrAppend(&out, name, "@", result.digest, "\n");
  }
  return out;
}

std::string ImageNameTagWithDigest(const StepResult& result) {
  std::string out;
  for (const auto& image : result.images) absl::StrAppend(&out, image, "@", result.digest, "\n");
  return out;
}

absl::Status WriteStepOutputs(const StepSettings& settings, const StepResult& result) {
  if (!settings.drone_output.empty()) {
    std::string text;
    absl::StatusOr<std::string> existing = ReadFileToString(settings.drone_output);
    if (existing.ok()) {
      text = *std::move(existing);
      if (!text.empty() && text.back() != '\n') text.push_back('\n');
    } else if (!absl::IsNotFound(existing.status())) {
      return Named("DRONE_OUTPUT", settings.drone_output, existing.status());
    }
    text += DroneOutputLines(result);
    absl::Status s = WriteFileAtomically(settings.drone_output, text);
    if (!s.ok()) return Named("DRONE_OUTPUT", settings.drone_output, s);
  }
  struct File {
    const char* variable;
    const std::string& path;
    std::string text;
  };
  const File files[] = {
      {"PLUGIN_ARTIFACT_FILE", settings.artifact_file, ArtifactJson(settings, result)},
      {"PLUGIN_DIGEST_FILE", settings.digest_file, result.digest},
      {"PLUGIN_IMAGE_NAME_WITH_DIGEST_FILE", settings.image_name_with_digest_file,
       ImageNameWithDigest(result)},
      {"PLUGIN_IMAGE_NAME_TAG_WITH_DIGEST_FILE", settings.image_name_tag_with_digest_file,
       ImageNameTagWithDigest(result)},
  };
  for (const File& f : files) {
    if (f.path.empty()) continue;
    absl::Status s = WriteFileAtomically(f.path, f.text);
    if (!s.ok()) return Named(f.variable, f.path, s);
  }
  return absl::OkStatus();
}

}  // namespace slipway::client::step
