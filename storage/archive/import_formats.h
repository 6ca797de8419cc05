#ifndef SLIPWAY_STORAGE_ARCHIVE_IMPORT_FORMATS_H_
#define SLIPWAY_STORAGE_ARCHIVE_IMPORT_FORMATS_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "storage/archive/staged_archive.h"
#include "storage/descriptor.h"

namespace slipway {

enum class ImportFormat {
  kOciLayout,       // oci-layout + index.json + blobs/sha256/* (oci-archive, tarred layout)
  kDockerCombined,  // Docker 25+: an OCI layout plus manifest.json
  kDockerArchive,   // manifest.json only: legacy docker save, go-containerregistry/kaniko
};
const char* ImportFormatName(ImportFormat format);

// The one image of an archive that an import records.
struct SelectedImage {
  ImportFormat format = ImportFormat::kDockerArchive;
  // OCI formats: the manifest, or a multi-platform index (a one-platform index is looked
  // through to its manifest).
  std::optional<Descriptor> manifest;
  // Docker archives: entry names from manifest.json.
  std::string config_entry;
  std::vector<std::string> layer_entries;
  std::vector<std::string> tags;  // normalized archive tags of this image
};

// Checks that every blobs/sha256/<hex> entry hashes to its name (DATA_LOSS naming the entry
// otherwise; INVALID_ARGUMENT for names that are not a sha256 hex).
absl::Status VerifyBlobNames(const StagedArchive& archive);

// Detects the format by content (which documents exist, not file extensions) and picks the
// image: the one tagged `select_tag` when given (NOT_FOUND if none is), else the only one
// (INVALID_ARGUMENT listing the tags when there are several). INVALID_ARGUMENT naming
// manifest.json / index.json / oci-layout when they are missing, null or malformed.
//
// Tags of OCI images come from the `io.containerd.image.name` annotation, else from
// `org.opencontainers.image.ref.name` when that is a full reference ("name:tag"); a bare
// ref.name such as "latest" names no repository and is only used to match `select_tag`.
absl::StatusOr<SelectedImage> SelectImage(StagedArchive& archive, const std::string& select_tag);

}  // namespace slipway

#endif  // SLIPWAY_STORAGE_ARCHIVE_IMPORT_FORMATS_H_
