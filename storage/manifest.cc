#include "storage/manifest.h"

#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"
#include "storage/json_util.h"
#include "storage/media_types.h"
#include "storage/status_macros.h"

namespace slipway {
namespace {

using nlohmann::json;

// Content types that say nothing about which manifest this is (old registries, plain files).
bool IsGenericContentType(absl::string_view type) {
  return type.empty() || type == "application/json" || type == "application/octet-stream" ||
         type == "text/plain";
}

// "application/vnd.oci.image.manifest.v1+json; charset=utf-8" → the bare type.
std::string BareContentType(absl::string_view content_type) {
  absl::string_view t = content_type.substr(0, content_type.find(';'));
  return absl::AsciiStrToLower(absl::StripAsciiWhitespace(t));
}

bool IsKnownDocumentType(absl::string_view t) {
  return media::IsManifestType(t) || media::IsIndexType(t);
}

absl::StatusOr<PlatformSpec> ParsePlatform(const json& j, const std::string& where) {
  if (!j.is_object()) return JsonError(where, "is not an object");
  PlatformSpec p;
  SLIPWAY_ASSIGN_OR_RETURN(p.os, JsonOptionalString(j, "os", where));
  SLIPWAY_ASSIGN_OR_RETURN(p.architecture, JsonOptionalString(j, "architecture", where));
  SLIPWAY_ASSIGN_OR_RETURN(p.variant, JsonOptionalString(j, "variant", where));
  if (p.os.empty() || p.architecture.empty()) {
    return JsonError(where, "needs non-empty \"os\" and \"architecture\"");
  }
  return p;
}

absl::StatusOr<ImageManifest> ParseImageManifest(const json& doc, std::string media_type) {
  if (!doc.contains("config")) return JsonError("manifest", "has no \"config\"");
  SLIPWAY_ASSIGN_OR_RETURN(Descriptor config, ParseDescriptor(doc["config"], "config"));
  if (!doc.contains("layers")) return JsonError("manifest", "has no \"layers\"");
  const json& layers_json = doc["layers"];
  if (!layers_json.is_array()) return JsonError("layers", "is not an array");
  std::vector<Descriptor> layers;
  layers.reserve(layers_json.size());
  for (size_t i = 0; i < layers_json.size(); ++i) {
    SLIPWAY_ASSIGN_OR_RETURN(Descriptor d,
                             ParseDescriptor(layers_json[i], absl::StrCat("layers[", i, "]")));
    layers.push_back(std::move(d));
  }
  std::optional<Descriptor> subject;
  if (doc.contains("subject")) {
    SLIPWAY_ASSIGN_OR_RETURN(Descriptor d, ParseDescriptor(doc["subject"], "subject"));
    subject = std::move(d);
  }
  return ImageManifest{std::move(media_type), std::move(config), std::move(layers),
                       std::move(subject)};
}

absl::StatusOr<ImageIndexDocument> ParseIndex(const json& doc, std::string media_type) {
  const json& entries = doc["manifests"];
  if (!entries.is_array()) return JsonError("manifests", "is not an array");
  ImageIndexDocument index;
  index.media_type = std::move(media_type);
  index.manifests.reserve(entries.size());
  for (size_t i = 0; i < entries.size(); ++i) {
    std::string where = absl::StrCat("manifests[", i, "]");
    SLIPWAY_ASSIGN_OR_RETURN(Descriptor d, ParseDescriptor(entries[i], where));
    std::optional<PlatformSpec> platform;
    if (entries[i].contains("platform")) {
      SLIPWAY_ASSIGN_OR_RETURN(platform,
                               ParsePlatform(entries[i]["platform"], where + ".platform"));
    }
    index.manifests.push_back(ImageIndexDocument::Entry{std::move(d), std::move(platform)});
  }
  return index;
}

// Decides what the document is from, in order: the content type it came with, its own
// mediaType field, and (OCI allows omitting mediaType) its shape.
absl::StatusOr<std::string> DocumentType(const json& doc, absl::string_view content_type) {
  std::string served = BareContentType(content_type);
  if (IsGenericContentType(served)) served.clear();
  if (!served.empty() && !IsKnownDocumentType(served)) {
    return absl::InvalidArgumentError(
        absl::StrCat("manifest: unsupported content type \"", served, "\""));
  }
  SLIPWAY_ASSIGN_OR_RETURN(std::string declared, JsonOptionalString(doc, "mediaType", "manifest"));
  if (doc.contains("mediaType") && !IsKnownDocumentType(declared)) {
    return absl::InvalidArgumentError(
        absl::StrCat("manifest: unsupported mediaType \"", declared, "\""));
  }
  if (!served.empty() && !declared.empty() && served != declared) {
    return absl::InvalidArgumentError(absl::StrCat("manifest: mediaType \"", declared,
                                                   "\" contradicts the content type \"", served,
                                                   "\""));
  }
  const bool has_manifests = doc.contains("manifests");
  const bool has_image_parts = doc.contains("config") || doc.contains("layers");
  if (has_manifests && has_image_parts) {
    return absl::InvalidArgumentError(
        "manifest: ambiguous document has both \"manifests\" and \"config\"/\"layers\"");
  }
  std::string type = !served.empty() ? served : declared;
  if (type.empty()) {
    if (has_manifests) return std::string(media::kOciIndex);
    if (has_image_parts) return std::string(media::kOciManifest);
    return absl::InvalidArgumentError(
        "manifest: no mediaType and neither \"manifests\" nor \"config\"/\"layers\"");
  }
  if (media::IsIndexType(type) && has_image_parts) {
    return absl::InvalidArgumentError(
        absl::StrCat("manifest: an index (", type, ") must not have \"config\"/\"layers\""));
  }
  if (media::IsManifestType(type) && has_manifests) {
    return absl::InvalidArgumentError(
        absl::StrCat("manifest: an image manifest (", type, ") must not have \"manifests\""));
  }
  if (media::IsIndexType(type) && !has_manifests) {
    return absl::InvalidArgumentError(
        absl::StrCat("manifest: an index (", type, ") has no \"manifests\""));
  }
  return type;
}

}  // namespace

absl::StatusOr<ManifestDocument> ParseManifestDocument(absl::string_view bytes,
                                                       absl::string_view content_type) {
  if (static_cast<int64_t>(bytes.size()) > kMaxManifestBytes) {
    return absl::ResourceExhaustedError(absl::StrCat("manifest has ", bytes.size(),
                                                     " bytes, more than the limit of ",
                                                     kMaxManifestBytes));
  }
  SLIPWAY_ASSIGN_OR_RETURN(json doc, ParseJsonObject(bytes, "manifest"));
  if (!doc.contains("schemaVersion")) {
    return absl::InvalidArgumentError("manifest: schemaVersion is missing");
  }
  const json& version = doc["schemaVersion"];
  if (!version.is_number_integer() || version.get<int64_t>() != 2) {
    return absl::InvalidArgumentError(
        absl::StrCat("manifest: schemaVersion is ", JsonSnippet(version), ", want 2"));
  }
  SLIPWAY_ASSIGN_OR_RETURN(std::string type, DocumentType(doc, content_type));
  ManifestDocument out;
  if (media::IsIndexType(type)) {
    SLIPWAY_ASSIGN_OR_RETURN(out.index, ParseIndex(doc, std::move(type)));
  } else {
    SLIPWAY_ASSIGN_OR_RETURN(out.manifest, ParseImageManifest(doc, std::move(type)));
  }
  return out;
}

absl::StatusOr<ImageConfigSummary> ParseImageConfig(absl::string_view bytes) {
  if (static_cast<int64_t>(bytes.size()) > kMaxManifestBytes) {
    return absl::ResourceExhaustedError(absl::StrCat("image config has ", bytes.size(),
                                                     " bytes, more than the limit of ",
                                                     kMaxManifestBytes));
  }
  SLIPWAY_ASSIGN_OR_RETURN(json doc, ParseJsonObject(bytes, "image config"));
  ImageConfigSummary out;
  SLIPWAY_ASSIGN_OR_RETURN(out.platform.os, JsonOptionalString(doc, "os", "image config"));
  SLIPWAY_ASSIGN_OR_RETURN(out.platform.architecture,
                           JsonOptionalString(doc, "architecture", "image config"));
  SLIPWAY_ASSIGN_OR_RETURN(out.platform.variant,
                           JsonOptionalString(doc, "variant", "image config"));
  SLIPWAY_ASSIGN_OR_RETURN(out.created, JsonOptionalString(doc, "created", "image config"));
  if (!doc.contains("rootfs") || !doc["rootfs"].is_object()) {
    return absl::InvalidArgumentError("image config: rootfs is missing or not an object");
  }
  const json& rootfs = doc["rootfs"];
  SLIPWAY_ASSIGN_OR_RETURN(std::string type, JsonOptionalString(rootfs, "type", "rootfs"));
  if (type != "layers") {
    return absl::InvalidArgumentError(
        absl::StrCat("image config: rootfs.type is \"", type, "\", want \"layers\""));
  }
  if (!rootfs.contains("diff_ids") || !rootfs["diff_ids"].is_array()) {
    return absl::InvalidArgumentError("image config: rootfs.diff_ids is missing or not an array");
  }
  const json& ids = rootfs["diff_ids"];
  for (size_t i = 0; i < ids.size(); ++i) {
    std::string where = absl::StrCat("image config: rootfs.diff_ids[", i, "]");
    if (!ids[i].is_string()) return JsonError(where, "is not a string");
    auto d = Digest::Parse(ids[i].get_ref<const std::string&>());
    if (!d.ok()) return JsonError(where, d.status().message());
    out.diff_ids.push_back(*std::move(d));
  }
  return out;
}

}  // namespace slipway
