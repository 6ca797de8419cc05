#include "server/build/base_image.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "storage/image_name.h"
#include "storage/media_types.h"
#include "storage/status_macros.h"

namespace slipway::build {
namespace {

bool PlatformFits(const PlatformSpec& entry, const PlatformSpec& wanted) {
  if (entry.os != wanted.os || entry.architecture != wanted.architecture) return false;
  return wanted.variant.empty() || entry.variant == wanted.variant ||
         (entry.variant.empty() && wanted.architecture == "arm64" && wanted.variant == "v8");
}

std::string PlatformText(const PlatformSpec& p) {
  std::string s = absl::StrCat(p.os, "/", p.architecture);
  if (!p.variant.empty()) absl::StrAppend(&s, "/", p.variant);
  return s;
}

absl::StatusOr<BaseImage> FromManifest(const Digest& digest, const ImageManifest& manifest,
                                       const std::string& ref, const BlobStore& store) {
  BaseImage image{digest, "", {}, {}};
  auto config = store.ReadSmall(manifest.config.digest, kMaxManifestBytes);
  if (!config.ok()) {
    return absl::NotFoundError(absl::StrCat(ref, ": config ", manifest.config.digest.ToString(),
                                            " is not in the store"));
  }
  auto summary = ParseImageConfig(*config);
  if (!summary.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(ref, ": ", summary.status().message()));
  }
  if (summary->diff_ids.size() != manifest.layers.size()) {
    return absl::InvalidArgumentError(
        absl::StrCat(ref, ": config lists ", summary->diff_ids.size(), " diff_ids for ",
                     manifest.layers.size(), " layers"));
  }
  image.config_json = *std::move(config);
  image.layers = manifest.layers;
  image.diff_ids = summary->diff_ids;
  return image;
}

}  // namespace

absl::StatusOr<BaseImage> ResolveStoredImage(const std::string& ref, const PlatformSpec& platform,
                                             const BlobStore& store, const ImageIndex& index) {
  std::string key;
  if (absl::StartsWith(ref, "sha256:")) {
    SLIPWAY_ASSIGN_OR_RETURN(Digest d, Digest::Parse(ref));
    key = d.ToString();
  } else {
    auto tag = NormalizeTag(ref);
    if (!tag.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("\"", ref, "\": ", tag.status().message()));
    }
    key = *std::move(tag);
  }
  auto record = index.Resolve(key);
  if (!record.ok()) return record.status();
  auto bytes = store.ReadSmall(record->manifest.digest, kMaxManifestBytes);
  if (!bytes.ok()) {
    return absl::NotFoundError(absl::StrCat(ref, ": manifest is not in the store"));
  }
  auto doc = ParseManifestDocument(*bytes, record->manifest.media_type);
  if (!doc.ok()) return doc.status();
  if (doc->manifest) return FromManifest(record->manifest.digest, *doc->manifest, ref, store);
  std::vector<std::string> available;
  for (const auto& entry : doc->index->manifests) {
    if (!entry.platform) continue;
    available.push_back(PlatformText(*entry.platform));
    if (!PlatformFits(*entry.platform, platform)) continue;
    auto child = store.ReadSmall(entry.descriptor.digest, kMaxManifestBytes);
    if (!child.ok()) continue;  // a child the store does not hold (partial index)
    auto child_doc = ParseManifestDocument(*child, entry.descriptor.media_type);
    if (!child_doc.ok()) return child_doc.status();
    if (!child_doc->manifest) continue;
    return FromManifest(entry.descriptor.digest, *child_doc->manifest, ref, store);
  }
  return absl::NotFoundError(absl::StrCat(ref, ": no image for ", PlatformText(platform),
                                          " in the store (available: ",
                                          absl::StrJoin(available, ", "), ")"));
}

absl::StatusOr<BaseImage> ResolveBaseImage(const std::string& ref, const PlatformSpec& platform,
                                           const v1::BuildSpec& spec, const BlobStore& store,
                                           const ImageIndex& index,
                                           const BaseImagePuller& puller) {
  auto stored = ResolveStoredImage(ref, platform, store, index);
  if (stored.ok() || !absl::IsNotFound(stored.status()) || !puller) return stored;
  auto pulled = puller(ref, platform, spec);
  if (!pulled.ok()) return pulled.status();
  return ResolveStoredImage(pulled->manifest.digest.ToString(), platform, store, index);
}

}  // namespace slipway::build
