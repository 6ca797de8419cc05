#include "storage/archive/exporter.h"

#include <functional>
#include <map>
#include <set>

#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"
#include "storage/archive/decompressor.h"
#include "storage/archive/tar_writer.h"
#include "storage/image_name.h"
#include "storage/manifest.h"
#include "storage/media_types.h"
#include "storage/status_macros.h"

namespace slipway {
namespace {

using json = nlohmann::json;

constexpr size_t kReadChunk = 1 << 20;
constexpr char kRefName[] = "org.opencontainers.image.ref.name";
constexpr char kContainerdName[] = "io.containerd.image.name";

struct ExportTag {
  std::string normalized;  // docker.io/library/app:1
  std::string familiar;    // app:1
  std::string tag;         // 1
};

absl::StatusOr<std::vector<ExportTag>> ExportTags(const ImageRecord& image,
                                                  const ExportOptions& options) {
  const std::vector<std::string>& names = options.repo_tags.empty() ? image.tags : options.repo_tags;
  std::vector<ExportTag> out;
  std::set<std::string> seen;
  for (const std::string& name : names) {
    absl::StatusOr<std::string> normalized = NormalizeTag(name);
    if (!normalized.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("repo tag: ", normalized.status().message()));
    }
    if (!seen.insert(*normalized).second) continue;
    size_t colon = normalized->rfind(':');
    out.push_back({*normalized, FamiliarTag(*normalized), normalized->substr(colon + 1)});
  }
  return out;
}

absl::Status MissingAsDataLoss(absl::Status s, const Digest& digest) {
  if (s.code() == absl::StatusCode::kNotFound) {
    return absl::DataLossError(absl::StrCat("blob ", digest.ToString(), " is missing from the store"));
  }
  return s;
}

// Streams a stored blob in chunks (never whole), re-hashing it: DATA_LOSS if the store's copy
// went bad.
absl::Status StreamBlob(const BlobStore& blobs, const Digest& digest,
                        const std::function<absl::Status(absl::string_view)>& fn) {
  absl::StatusOr<std::unique_ptr<BlobReader>> reader = blobs.NewReader(digest, /*verify=*/true);
  if (!reader.ok()) return MissingAsDataLoss(reader.status(), digest);
  std::string buf(kReadChunk, '\0');
  for (;;) {
    SLIPWAY_ASSIGN_OR_RETURN(size_t n, (*reader)->Read(buf.data(), buf.size()));
    if (n == 0) return absl::OkStatus();
    SLIPWAY_RETURN_IF_ERROR(fn(absl::string_view(buf.data(), n)));
  }
}

absl::StatusOr<int64_t> StoredSize(const BlobStore& blobs, const Descriptor& d) {
  absl::StatusOr<int64_t> size = blobs.Stat(d.digest);
  if (!size.ok()) return MissingAsDataLoss(size.status(), d.digest);
  if (*size != d.size) {
    return absl::DataLossError(absl::StrCat("blob ", d.digest.ToString(), " is ", *size,
                                            " bytes, the image says ", d.size));
  }
  return *size;
}

absl::Status AddBlobFile(TarWriter& tar, const BlobStore& blobs, const Descriptor& d,
                         const std::string& name) {
  SLIPWAY_ASSIGN_OR_RETURN(int64_t size, StoredSize(blobs, d));
  SLIPWAY_RETURN_IF_ERROR(tar.BeginFile(name, size));
  return StreamBlob(blobs, d.digest, [&tar](absl::string_view data) { return tar.WriteData(data); });
}

struct ImageDocs {
  std::string manifest;
  std::string config;
  ImageConfigSummary summary;
};

absl::StatusOr<ImageDocs> LoadDocs(const ImageRecord& image, const BlobStore& blobs) {
  if (!image.config.has_value()) {
    return absl::InternalError(absl::StrCat("image ", image.manifest.digest.ToString(),
                                            " is an index; export it with ExportIndex"));
  }
  ImageDocs docs;
  absl::StatusOr<std::string> manifest = blobs.ReadSmall(image.manifest.digest, kMaxManifestBytes);
  if (!manifest.ok()) return MissingAsDataLoss(manifest.status(), image.manifest.digest);
  absl::StatusOr<std::string> config = blobs.ReadSmall(*image.config, kMaxManifestBytes);
  if (!config.ok()) return MissingAsDataLoss(config.status(), *image.config);
  if (Sha256Of(*manifest) != image.manifest.digest || Sha256Of(*config) != *image.config) {
    return absl::DataLossError(absl::StrCat("manifest or config of ", image.manifest.digest.ToString(),
                                            " does not match its digest"));
  }
  docs.manifest = std::move(*manifest);
  docs.config = std::move(*config);
  SLIPWAY_ASSIGN_OR_RETURN(docs.summary, ParseImageConfig(docs.config));
  if (docs.summary.diff_ids.size() != image.layers.size()) {
    return absl::DataLossError(absl::StrCat("config of ", image.manifest.digest.ToString(),
                                            " lists ", docs.summary.diff_ids.size(),
                                            " diff_ids for ", image.layers.size(), " layers"));
  }
  return docs;
}

// Docker 25+ combined and pure OCI: the store is already an OCI layout, so blobs are copied as
// they are (no recompression) and entries are written in sorted order. `top` is what index.json
// points at (a manifest or an index), `files` every blob to write, `docs` the bytes of those
// already read and verified, `docker_image` the one image manifest.json describes.
absl::Status ExportOci(const Descriptor& top, const std::vector<Descriptor>& files,
                       const std::map<Digest, std::string>& docs, const ImageRecord& docker_image,
                       const std::vector<ExportTag>& tags, bool combined, const BlobStore& blobs,
                       TarWriter& tar) {
  std::map<std::string, Descriptor> blob_files;  // sorted by name
  for (const Descriptor& d : files) {
    blob_files.emplace(absl::StrCat("blobs/sha256/", d.digest.hex()), d);
  }

  json manifests = json::array();
  auto entry = [&](const ExportTag* tag) {
    json m = {{"mediaType", top.media_type},
              {"digest", top.digest.ToString()},
              {"size", top.size}};
    if (tag != nullptr) {
      m["annotations"] = {{kRefName, tag->tag}};
      if (combined) m["annotations"][kContainerdName] = tag->normalized;
    }
    return m;
  };
  if (tags.empty()) manifests.push_back(entry(nullptr));
  for (const ExportTag& t : tags) manifests.push_back(entry(&t));
  json index = {{"schemaVersion", 2},
                {"mediaType", std::string(media::kOciIndex)},
                {"manifests", manifests}};

  SLIPWAY_RETURN_IF_ERROR(tar.AddDirectory("blobs"));
  SLIPWAY_RETURN_IF_ERROR(tar.AddDirectory("blobs/sha256"));
  for (const auto& [name, d] : blob_files) {
    if (auto doc = docs.find(d.digest); doc != docs.end()) {
      SLIPWAY_RETURN_IF_ERROR(tar.AddFile(name, doc->second));
    } else {
      SLIPWAY_RETURN_IF_ERROR(AddBlobFile(tar, blobs, d, name));
    }
  }
  SLIPWAY_RETURN_IF_ERROR(tar.AddFile("index.json", index.dump()));
  if (combined) {
    json repo_tags = json::array();
    for (const ExportTag& t : tags) repo_tags.push_back(t.familiar);
    json layers = json::array();
    for (const Descriptor& d : docker_image.layers) {
      layers.push_back("blobs/sha256/" + d.digest.hex());
    }
    json manifest = json::array({{{"Config", "blobs/sha256/" + docker_image.config->hex()},
                                  {"RepoTags", repo_tags},
                                  {"Layers", layers}}});
    SLIPWAY_RETURN_IF_ERROR(tar.AddFile("manifest.json", manifest.dump()));
  }
  return tar.AddFile("oci-layout", R"({"imageLayoutVersion":"1.0.0"})");
}

absl::Status ExportOciImage(const ImageRecord& image, const ImageDocs& docs,
                            const std::vector<ExportTag>& tags, bool combined,
                            const BlobStore& blobs, TarWriter& tar) {
  std::vector<Descriptor> files = {
      image.manifest, Descriptor{"", *image.config, static_cast<int64_t>(docs.config.size()), {}}};
  for (const Descriptor& d : image.layers) files.push_back(d);
  std::map<Digest, std::string> in_memory = {{image.manifest.digest, docs.manifest},
                                             {*image.config, docs.config}};
  return ExportOci(image.manifest, files, in_memory, image, tags, combined, blobs, tar);
}

// Decompresses a stored layer into `fn`; returns its uncompressed digest and size.
absl::StatusOr<std::pair<Digest, int64_t>> DecompressLayer(
    const BlobStore& blobs, const Descriptor& layer,
    const std::function<absl::Status(absl::string_view)>& fn) {
  Sha256Hasher hasher;
  auto sink = [&](absl::string_view d) {
    hasher.Update(d);
    return fn(d);
  };
  if (media::CompressionOfLayerType(layer.media_type) == media::LayerCompressionKind::kNone) {
    SLIPWAY_RETURN_IF_ERROR(StreamBlob(blobs, layer.digest, sink));
  } else {
    auto decompressor = Decompressor::Create(layer.digest.ToString(), sink);
    SLIPWAY_RETURN_IF_ERROR(StreamBlob(
        blobs, layer.digest, [&](absl::string_view d) { return decompressor->Write(d); }));
    SLIPWAY_RETURN_IF_ERROR(decompressor->Finish());
  }
  int64_t size = hasher.bytes();
  return std::make_pair(hasher.Finish(), size);
}

// Legacy docker-archive: uncompressed <diff_id>/layer.tar, <config>.json, manifest.json,
// repositories. The size goes into each tar header before the bytes, hence the counting pass
// when the index does not know it yet.
absl::Status ExportLegacy(const ImageRecord& image, const ImageDocs& docs,
                          const std::vector<ExportTag>& tags, const BlobStore& blobs,
                          ImageIndex& index, TarWriter& tar) {
  struct LayerFile {
    Descriptor layer;
    int64_t size;
  };
  std::map<std::string, LayerFile> layer_files;  // "<diff_id hex>" → layer
  std::vector<std::string> layer_names;
  for (size_t i = 0; i < image.layers.size(); ++i) {
    const Descriptor& layer = image.layers[i];
    const Digest& diff_id = docs.summary.diff_ids[i];
    layer_names.push_back(diff_id.hex() + "/layer.tar");
    if (layer_files.count(diff_id.hex()) > 0) continue;
    int64_t size = -1;
    absl::StatusOr<LayerCompression> known = index.FindByCompressed(layer.digest);
    if (known.ok() && known->diff_id == diff_id && known->uncompressed_size >= 0) {
      size = known->uncompressed_size;
    } else {
      SLIPWAY_ASSIGN_OR_RETURN(auto counted, DecompressLayer(blobs, layer, [](absl::string_view) {
                                 return absl::OkStatus();
                               }));
      if (counted.first != diff_id) {
        return absl::DataLossError(absl::StrCat("layer ", layer.digest.ToString(),
                                                " decompresses to ", counted.first.ToString(),
                                                ", the config says ", diff_id.ToString()));
      }
      size = counted.second;
      SLIPWAY_RETURN_IF_ERROR(index.RecordLayerCompression({diff_id, layer, size}));
    }
    layer_files.emplace(diff_id.hex(), LayerFile{layer, size});
  }

  json repo_tags = json::array();
  json repositories = json::object();
  for (const ExportTag& t : tags) {
    repo_tags.push_back(t.familiar);
    if (!image.layers.empty()) {
      std::string repo = t.familiar.substr(0, t.familiar.size() - t.tag.size() - 1);
      repositories[repo][t.tag] = docs.summary.diff_ids.back().hex();
    }
  }
  json manifest = json::array({{{"Config", image.config->hex() + ".json"},
                                {"RepoTags", repo_tags},
                                {"Layers", layer_names}}});

  // Sorted entry order: config and layer directories interleave by hex, then the two documents.
  std::map<std::string, std::function<absl::Status()>> entries;
  entries[image.config->hex() + ".json"] = [&] {
    return tar.AddFile(image.config->hex() + ".json", docs.config);
  };
  for (const auto& [hex, file] : layer_files) {
    const LayerFile* f = &file;
    std::string dir = hex;
    entries[dir] = [&tar, dir] { return tar.AddDirectory(dir); };
    entries[dir + "/layer.tar"] = [&tar, &blobs, f, dir]() -> absl::Status {
      SLIPWAY_RETURN_IF_ERROR(tar.BeginFile(dir + "/layer.tar", f->size));
      SLIPWAY_ASSIGN_OR_RETURN(auto written, DecompressLayer(blobs, f->layer, [&tar](absl::string_view d) {
                                 return tar.WriteData(d);
                               }));
      if (written.second != f->size || written.first.hex() != dir) {
        return absl::DataLossError(absl::StrCat("layer ", f->layer.digest.ToString(),
                                                " changed while it was exported"));
      }
      return absl::OkStatus();
    };
  }
  entries["manifest.json"] = [&] { return tar.AddFile("manifest.json", manifest.dump()); };
  if (!repositories.empty()) {
    entries["repositories"] = [&] { return tar.AddFile("repositories", repositories.dump()); };
  }
  for (const auto& [name, write] : entries) SLIPWAY_RETURN_IF_ERROR(write());
  return absl::OkStatus();
}

// The platform image of a stored index that single-image consumers get, as docker picks it:
// linux/amd64, else the first image manifest (attestations are never picked).
absl::StatusOr<ImageRecord> DefaultChild(const ImageRecord& image, const ImageIndexDocument& index,
                                         const BlobStore& blobs) {
  const ImageIndexDocument::Entry* pick = nullptr;
  for (const ImageIndexDocument::Entry& e : index.manifests) {
    if (!media::IsManifestType(e.descriptor.media_type)) continue;
    if (e.platform.has_value() && e.platform->os == "unknown") continue;
    if (pick == nullptr) pick = &e;
    if (e.platform.has_value() && e.platform->os == "linux" &&
        e.platform->architecture == "amd64") {
      pick = &e;
      break;
    }
  }
  if (pick == nullptr) {
    return absl::FailedPreconditionError(absl::StrCat(
        "index ", image.manifest.digest.ToString(), " lists no image manifest to export"));
  }
  const Digest& digest = pick->descriptor.digest;
  absl::StatusOr<std::string> bytes = blobs.ReadSmall(digest, kMaxManifestBytes);
  if (!bytes.ok()) return MissingAsDataLoss(bytes.status(), digest);
  if (Sha256Of(*bytes) != digest) {
    return absl::DataLossError(absl::StrCat("manifest ", digest.ToString(),
                                            " does not match its digest"));
  }
  absl::StatusOr<ManifestDocument> doc = ParseManifestDocument(*bytes, pick->descriptor.media_type);
  if (!doc.ok() || !doc->manifest.has_value()) {
    return absl::DataLossError(absl::StrCat("stored manifest ", digest.ToString(),
                                            " is not an image manifest"));
  }
  ImageRecord child = image;
  child.manifest = pick->descriptor;
  child.manifest.annotations.clear();
  child.config = doc->manifest->config.digest;
  child.layers = doc->manifest->layers;
  if (pick->platform.has_value()) {
    child.os = pick->platform->os;
    child.architecture = pick->platform->architecture;
    child.variant = pick->platform->variant;
  }
  return child;
}

// A stored index: OCI and combined archives carry the index whole (every blob the image
// recorded); legacy docker-archive can hold one platform only, the default child.
absl::Status ExportIndex(const ImageRecord& image, const ExportOptions& options,
                         const std::vector<ExportTag>& tags, const BlobStore& blobs,
                         ImageIndex& index, ByteSink& sink) {
  const Digest& digest = image.manifest.digest;
  absl::StatusOr<std::string> bytes = blobs.ReadSmall(digest, kMaxManifestBytes);
  if (!bytes.ok()) return MissingAsDataLoss(bytes.status(), digest);
  if (Sha256Of(*bytes) != digest) {
    return absl::DataLossError(absl::StrCat("index ", digest.ToString(), " does not match its digest"));
  }
  absl::StatusOr<ManifestDocument> doc = ParseManifestDocument(*bytes, image.manifest.media_type);
  if (!doc.ok() || !doc->index.has_value()) {
    return absl::DataLossError(absl::StrCat("image ", digest.ToString(),
                                            " has no config but is not a stored index"));
  }
  SLIPWAY_ASSIGN_OR_RETURN(ImageRecord child, DefaultChild(image, *doc->index, blobs));
  if (options.format == ArchiveFormat::kDockerLegacy) {
    SLIPWAY_ASSIGN_OR_RETURN(ImageDocs docs, LoadDocs(child, blobs));
    SLIPWAY_ASSIGN_OR_RETURN(std::unique_ptr<TarWriter> tar, TarWriter::Create(sink));
    SLIPWAY_RETURN_IF_ERROR(ExportLegacy(child, docs, tags, blobs, index, *tar));
    return tar->Close();
  }
  SLIPWAY_ASSIGN_OR_RETURN(std::vector<Descriptor> files, index.ImageBlobs(digest));
  std::map<Digest, std::string> in_memory = {{digest, *bytes}};
  SLIPWAY_ASSIGN_OR_RETURN(std::unique_ptr<TarWriter> tar, TarWriter::Create(sink));
  SLIPWAY_RETURN_IF_ERROR(ExportOci(image.manifest, files, in_memory, child, tags,
                                    options.format == ArchiveFormat::kDockerCombined, blobs, *tar));
  return tar->Close();
}

}  // namespace

absl::Status ExportArchive(const ImageRecord& image, const ExportOptions& options,
                           const BlobStore& blobs, ImageIndex& index, ByteSink& sink) {
  SLIPWAY_ASSIGN_OR_RETURN(std::vector<ExportTag> tags, ExportTags(image, options));
  if (!image.config.has_value()) return ExportIndex(image, options, tags, blobs, index, sink);
  SLIPWAY_ASSIGN_OR_RETURN(ImageDocs docs, LoadDocs(image, blobs));
  SLIPWAY_ASSIGN_OR_RETURN(std::unique_ptr<TarWriter> tar, TarWriter::Create(sink));
  switch (options.format) {
    case ArchiveFormat::kDockerCombined:
      SLIPWAY_RETURN_IF_ERROR(ExportOciImage(image, docs, tags, /*combined=*/true, blobs, *tar));
      break;
    case ArchiveFormat::kOciArchive:
      SLIPWAY_RETURN_IF_ERROR(ExportOciImage(image, docs, tags, /*combined=*/false, blobs, *tar));
      break;
    case ArchiveFormat::kDockerLegacy:
      SLIPWAY_RETURN_IF_ERROR(ExportLegacy(image, docs, tags, blobs, index, *tar));
      break;
  }
  return tar->Close();
}

}  // namespace slipway
