// Canonical JSON for manifests and indexes we write: keys sorted (nlohmann::json keeps objects
// in a std::map), no whitespace, so equal documents always hash to the same digest.

#include "nlohmann/json.hpp"
#include "storage/json_util.h"
#include "storage/manifest.h"

namespace slipway {

std::string SerializeManifest(const ImageManifest& manifest) {
  nlohmann::json j = nlohmann::json::object();
  j["schemaVersion"] = 2;
  if (!manifest.media_type.empty()) j["mediaType"] = manifest.media_type;
  j["config"] = DescriptorToJson(manifest.config);
  j["layers"] = nlohmann::json::array();
  for (const Descriptor& d : manifest.layers) j["layers"].push_back(DescriptorToJson(d));
  if (manifest.subject) j["subject"] = DescriptorToJson(*manifest.subject);
  return DumpCompact(j);
}

std::string SerializeIndex(const ImageIndexDocument& index) {
  nlohmann::json j = nlohmann::json::object();
  j["schemaVersion"] = 2;
  if (!index.media_type.empty()) j["mediaType"] = index.media_type;
  j["manifests"] = nlohmann::json::array();
  for (const auto& entry : index.manifests) {
    nlohmann::json e = DescriptorToJson(entry.descriptor);
    if (entry.platform) {
      nlohmann::json p = nlohmann::json::object();
      p["os"] = entry.platform->os;
      p["architecture"] = entry.platform->architecture;
      if (!entry.platform->variant.empty()) p["variant"] = entry.platform->variant;
      e["platform"] = std::move(p);
    }
    j["manifests"].push_back(std::move(e));
  }
  return DumpCompact(j);
}

}  // namespace slipway
