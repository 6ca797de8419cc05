#include "storage/image_index.h"

#include <algorithm>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "storage/status_macros.h"

namespace slipway {

// Only for implementations that do not keep the blob list: what the record itself names. The
// config's size is not in ImageRecord, so it is reported as -1.
absl::StatusOr<std::vector<Descriptor>> ImageIndex::ImageBlobs(const Digest& manifest) const {
  SLIPWAY_ASSIGN_OR_RETURN(ImageRecord image, Resolve(manifest.ToString()));
  std::vector<Descriptor> out;
  absl::flat_hash_set<Digest> seen;
  auto add = [&](Descriptor d) {
    if (seen.insert(d.digest).second) out.push_back(std::move(d));
  };
  add(image.manifest);
  if (image.config.has_value()) add(Descriptor{"", *image.config, -1, {}});
  for (const Descriptor& layer : image.layers) add(layer);
  std::sort(out.begin(), out.end(),
            [](const Descriptor& a, const Descriptor& b) { return a.digest < b.digest; });
  return out;
}

absl::Status ImageIndex::RecordBlobLocation(absl::string_view, absl::string_view,
                                            const Digest&) {
  return absl::OkStatus();
}

absl::StatusOr<std::vector<std::string>> ImageIndex::FindBlobLocations(absl::string_view,
                                                                       const Digest&) const {
  return std::vector<std::string>{};
}

absl::Status ImageIndex::PutBuildCache(const BuildCacheEntry&) { return absl::OkStatus(); }

absl::StatusOr<BuildCacheEntry> ImageIndex::FindBuildCache(absl::string_view key) const {
  return absl::NotFoundError(absl::StrCat("build cache key ", key));
}

absl::Status ImageIndex::RecordScanResult(const ScanResultRecord&) {
  return absl::UnimplementedError("this image index does not record scan results");
}

absl::StatusOr<std::vector<ScanResultRecord>> ImageIndex::ScanResults(const Digest&) const {
  return absl::UnimplementedError("this image index does not record scan results");
}

}  // namespace slipway
