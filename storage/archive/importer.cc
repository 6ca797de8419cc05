// Import = stage (stream the tar into unpublished writers) → select (format, image) → build
// (verify digests and diff_ids, decide the stored manifest) → commit (lease, publish, record).
// Everything that can fail on bad input fails before the commit step, so a rejected archive
// publishes nothing.

#include "storage/archive/importer.h"

#include <algorithm>
#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "storage/archive/archive_paths.h"
#include "storage/archive/import_formats.h"
#include "storage/archive/staged_archive.h"
#include "storage/image_name.h"
#include "storage/manifest.h"
#include "storage/media_types.h"
#include "storage/status_macros.h"

namespace slipway {
namespace {

constexpr int64_t kImportLeaseSeconds = 3600;

// A blob the stored image needs, and the staged entry whose writer will publish it.
struct PlannedBlob {
  Descriptor descriptor;
  StagedEntry* entry = nullptr;  // null for the rewritten manifest (see Plan::new_manifest)
};

struct Plan {
  // Filled in stages; the placeholder manifest descriptor is replaced before Commit.
  ImageRecord record{Descriptor{"", Sha256Of(""), 0, {}}, std::nullopt, {}, "", "", "", 0, 0, {}};
  std::vector<PlannedBlob> blobs;             // manifest, config, layers (may repeat digests)
  std::unique_ptr<BlobWriter> new_manifest;   // when we wrote the manifest
  std::vector<LayerCompression> compressions; // verified diff_id → stored layer
  int layers_compressed = 0;
};

absl::StatusOr<StagedEntry*> FindEntry(StagedArchive& archive, const std::string& name,
                                       absl::string_view role) {
  absl::StatusOr<StagedEntry*> entry = archive.Find(name);
  if (!entry.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(role, " ", QuoteForError(name), ": ",
                                                   entry.status().message()));
  }
  return *entry;
}

// Makes `entry` usable as layer `index`: compressed if it is not, diff_id known and equal to
// the config's. Returns whether we compressed it.
absl::StatusOr<bool> PrepareLayer(StagedEntry& entry, size_t index, const Digest& want_diff_id,
                                  BlobStore& blobs, int gzip_level) {
  if (entry.holding == StagedEntry::Holding::kMemory) {
    SLIPWAY_RETURN_IF_ERROR(CompressMemoryEntry(entry, blobs, gzip_level));
  }
  if (!entry.diff_id.has_value()) {
    if (!entry.diff_id_error.ok()) {
      return absl::DataLossError(absl::StrCat("layer ", index, " (", QuoteForError(entry.name),
                                              "): ", entry.diff_id_error.message()));
    }
    return absl::InvalidArgumentError(absl::StrCat("layer ", index, " (", QuoteForError(entry.name),
                                                   ") is neither a tar nor gzip/zstd data"));
  }
  if (*entry.diff_id != want_diff_id) {
    return absl::DataLossError(absl::StrCat(
        "layer ", index, " (", QuoteForError(entry.name), ") uncompressed digest ",
        entry.diff_id->ToString(), " does not match the config's diff_id ", want_diff_id.ToString()));
  }
  return entry.holding == StagedEntry::Holding::kCompressedByUs;
}

std::string StoredLayerType(const StagedEntry& entry, bool docker) {
  // kCompressedByUs entries are gzip, except a layer taken from the store by diff_id, which
  // keeps the stored blob's compression (see AddPresentEntries).
  StreamKind kind = entry.holding == StagedEntry::Holding::kCompressedByUs &&
                            entry.content != StreamKind::kZstd
                        ? StreamKind::kGzip
                        : entry.content;
  if (kind == StreamKind::kZstd) return std::string(media::kOciLayerZstd);
  return std::string(docker ? media::kDockerLayerGzip : media::kOciLayerGzip);
}

absl::StatusOr<ImageConfigSummary> LoadConfig(StagedEntry& config, BlobStore& blobs) {
  if (config.holding != StagedEntry::Holding::kMemory) {
    return absl::InvalidArgumentError(
        absl::StrCat("image config ", QuoteForError(config.name), " is not a JSON document"));
  }
  absl::StatusOr<ImageConfigSummary> summary = ParseImageConfig(config.bytes);
  if (!summary.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("image config ", QuoteForError(config.name),
                                                   ": ", summary.status().message()));
  }
  SLIPWAY_RETURN_IF_ERROR(StageMemoryEntryAsBlob(config, blobs));
  return summary;
}

// Layers common to both source kinds. `originals` are the manifest's layer descriptors (OCI),
// empty for docker archives.
absl::Status PlanLayers(StagedArchive& archive, const std::vector<std::string>& layer_entries,
                        const std::vector<Descriptor>& originals, const ImageConfigSummary& config,
                        bool docker, BlobStore& blobs, int gzip_level, Plan& plan,
                        std::vector<Descriptor>& layers_out, bool& rewritten) {
  if (config.diff_ids.size() != layer_entries.size()) {
    return absl::InvalidArgumentError(absl::StrCat("image config lists ", config.diff_ids.size(),
                                                   " diff_ids but the image has ",
                                                   layer_entries.size(), " layers"));
  }
  for (size_t i = 0; i < layer_entries.size(); ++i) {
    SLIPWAY_ASSIGN_OR_RETURN(StagedEntry * entry,
                             FindEntry(archive, layer_entries[i], absl::StrCat("layer ", i)));
    if (!originals.empty() && (entry->size != originals[i].size)) {
      return absl::DataLossError(absl::StrCat("layer ", i, " ", originals[i].digest.ToString(),
                                              " is ", entry->size, " bytes, manifest says ",
                                              originals[i].size));
    }
    SLIPWAY_ASSIGN_OR_RETURN(bool compressed,
                             PrepareLayer(*entry, i, config.diff_ids[i], blobs, gzip_level));
    Descriptor d = !originals.empty() && !compressed
                       ? originals[i]
                       : Descriptor{StoredLayerType(*entry, docker), entry->stored->digest,
                                    entry->stored->size,
                                    originals.empty() ? std::map<std::string, std::string>{}
                                                      : originals[i].annotations};
    if (compressed) {
      rewritten = true;
      // A layer taken from the store by diff_id (no writer) was compressed by an earlier import.
      if (entry->writer != nullptr) ++plan.layers_compressed;
    }
    layers_out.push_back(d);
    plan.blobs.push_back({d, entry});
    plan.compressions.push_back({*entry->diff_id, d, entry->uncompressed_size});
  }
  return absl::OkStatus();
}

// Stores `bytes`, a document we wrote (a rewritten manifest or a reduced index), as the image's
// top-level manifest.
absl::Status WriteNewTopLevel(const std::string& bytes, const std::string& media_type,
                              BlobStore& blobs, Plan& plan) {
  SLIPWAY_RETURN_IF_ERROR(ParseManifestDocument(bytes, media_type).status());
  SLIPWAY_ASSIGN_OR_RETURN(plan.new_manifest, blobs.NewWriter());
  SLIPWAY_RETURN_IF_ERROR(plan.new_manifest->Append(bytes));
  SLIPWAY_ASSIGN_OR_RETURN(BlobInfo info, plan.new_manifest->Finish());
  plan.record.manifest = Descriptor{media_type, info.digest, info.size, {}};
  plan.blobs.insert(plan.blobs.begin(), PlannedBlob{plan.record.manifest, nullptr});
  return absl::OkStatus();
}

absl::Status WriteNewManifest(const ImageManifest& manifest, BlobStore& blobs, Plan& plan) {
  return WriteNewTopLevel(SerializeManifest(manifest), manifest.media_type, blobs, plan);
}

std::string BlobName(const Digest& digest) { return absl::StrCat("blobs/sha256/", digest.hex()); }

// The staged manifest or index `top` names, checked against its descriptor and parsed.
absl::StatusOr<std::pair<StagedEntry*, ManifestDocument>> LoadManifestEntry(
    StagedArchive& archive, const Descriptor& top) {
  SLIPWAY_ASSIGN_OR_RETURN(StagedEntry * entry,
                           FindEntry(archive, BlobName(top.digest), "manifest"));
  if (entry->holding != StagedEntry::Holding::kMemory) {
    return absl::InvalidArgumentError(
        absl::StrCat("manifest ", top.digest.ToString(), " is not a JSON document"));
  }
  if (entry->size != top.size) {
    return absl::DataLossError(absl::StrCat("manifest ", top.digest.ToString(), " is ",
                                            entry->size, " bytes, its descriptor says ", top.size));
  }
  absl::StatusOr<ManifestDocument> doc = ParseManifestDocument(entry->bytes, top.media_type);
  if (!doc.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("manifest ", top.digest.ToString(), ": ", doc.status().message()));
  }
  return std::make_pair(entry, std::move(*doc));
}

absl::StatusOr<Plan> PlanImage(StagedArchive& archive, const Descriptor& top,
                               StagedEntry* manifest_entry, const ImageManifest& manifest,
                               BlobStore& blobs, int gzip_level) {
  Plan plan;
  SLIPWAY_ASSIGN_OR_RETURN(
      StagedEntry * config_entry,
      FindEntry(archive, absl::StrCat("blobs/sha256/", manifest.config.digest.hex()), "config"));
  if (config_entry->size != manifest.config.size) {
    return absl::DataLossError(absl::StrCat("config ", manifest.config.digest.ToString(),
                                            " size differs from the manifest"));
  }
  SLIPWAY_ASSIGN_OR_RETURN(ImageConfigSummary config, LoadConfig(*config_entry, blobs));
  plan.blobs.push_back({manifest.config, config_entry});

  std::vector<std::string> layer_entries;
  for (const Descriptor& d : manifest.layers) {
    layer_entries.push_back(absl::StrCat("blobs/sha256/", d.digest.hex()));
  }
  std::vector<Descriptor> layers;
  bool rewritten = false;
  bool docker_types = media::IsDockerType(manifest.media_type);
  SLIPWAY_RETURN_IF_ERROR(PlanLayers(archive, layer_entries, manifest.layers, config, docker_types,
                                     blobs, gzip_level, plan, layers, rewritten));
  plan.record.config = manifest.config.digest;
  plan.record.layers = layers;
  plan.record.os = config.platform.os;
  plan.record.architecture = config.platform.architecture;
  plan.record.variant = config.platform.variant;
  if (rewritten) {
    ImageManifest out = manifest;
    out.layers = layers;
    SLIPWAY_RETURN_IF_ERROR(WriteNewManifest(out, blobs, plan));
  } else {
    SLIPWAY_RETURN_IF_ERROR(StageMemoryEntryAsBlob(*manifest_entry, blobs));
    std::string type = top.media_type.empty() ? manifest.media_type : top.media_type;
    plan.record.manifest = Descriptor{type, top.digest, top.size, {}};
    plan.blobs.insert(plan.blobs.begin(), PlannedBlob{plan.record.manifest, manifest_entry});
  }
  return plan;
}

bool IsAttestation(const ImageIndexDocument::Entry& e) {
  return e.platform.has_value() && e.platform->os == "unknown";
}

// Whether the archive holds `child` completely: its manifest, config and every layer. A child
// whose manifest is present but malformed is an error, not an incomplete child.
absl::StatusOr<bool> ChildComplete(StagedArchive& archive, const Descriptor& child) {
  if (!media::IsManifestType(child.media_type)) return false;  // nested indexes: not followed
  if (!archive.Has(BlobName(child.digest))) return false;
  SLIPWAY_ASSIGN_OR_RETURN(auto loaded, LoadManifestEntry(archive, child));
  if (!loaded.second.manifest.has_value()) return false;
  const ImageManifest& m = *loaded.second.manifest;
  if (!archive.Has(BlobName(m.config.digest))) return false;
  for (const Descriptor& l : m.layers) {
    if (!archive.Has(BlobName(l.digest))) return false;
  }
  return true;
}

// Attestation manifests (in-toto statements, not runnable images) are kept byte for byte.
absl::Status PlanRawChild(StagedArchive& archive, const Descriptor& child, BlobStore& blobs,
                          Plan& plan) {
  SLIPWAY_ASSIGN_OR_RETURN(auto loaded, LoadManifestEntry(archive, child));
  std::vector<Descriptor> parts = {child, loaded.second.manifest->config};
  for (const Descriptor& l : loaded.second.manifest->layers) parts.push_back(l);
  for (const Descriptor& d : parts) {
    SLIPWAY_ASSIGN_OR_RETURN(StagedEntry * e, FindEntry(archive, BlobName(d.digest), "blob"));
    if (e->holding == StagedEntry::Holding::kMemory) {
      SLIPWAY_RETURN_IF_ERROR(StageMemoryEntryAsBlob(*e, blobs));
    }
    if (e->holding == StagedEntry::Holding::kCompressedByUs || e->size != d.size) {
      return absl::InvalidArgumentError(absl::StrCat(
          "attestation manifest ", child.digest.ToString(), ": blob ", d.digest.ToString(),
          " cannot be stored unchanged"));
    }
    plan.blobs.push_back({d, e});
  }
  return absl::OkStatus();
}

// A multi-platform index. All children complete: the index is stored as it is (its bytes and
// every child's bytes unchanged). Some children missing (a one-platform save of a multi-arch
// image): the one complete image child is stored as a plain image, several are listed in a new
// index. Children are never rewritten, since that would change the index's digest; a child with
// an uncompressed layer (which the store must compress) is therefore refused for now.
absl::StatusOr<Plan> PlanIndex(StagedArchive& archive, const Descriptor& top,
                               StagedEntry* index_entry, const ImageIndexDocument& index,
                               BlobStore& blobs, int gzip_level) {
  std::vector<const ImageIndexDocument::Entry*> complete;
  for (const ImageIndexDocument::Entry& e : index.manifests) {
    SLIPWAY_ASSIGN_OR_RETURN(bool ok, ChildComplete(archive, e.descriptor));
    if (ok) complete.push_back(&e);
  }
  bool all = complete.size() == index.manifests.size();
  std::set<Digest> images;
  for (const auto* e : complete) {
    if (!IsAttestation(*e)) images.insert(e->descriptor.digest);
  }
  if (images.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "index ", top.digest.ToString(), ": the archive holds none of its ",
        index.manifests.size(), " platform manifests completely (manifest, config and layers)"));
  }
  if (!all) {
    // Attestations only make sense next to the image they describe.
    std::vector<const ImageIndexDocument::Entry*> kept;
    for (const auto* e : complete) {
      auto subject = e->descriptor.annotations.find("vnd.docker.reference.digest");
      if (IsAttestation(*e) &&
          (subject == e->descriptor.annotations.end() ||
           std::none_of(images.begin(), images.end(),
                        [&](const Digest& d) { return d.ToString() == subject->second; }))) {
        continue;
      }
      kept.push_back(e);
    }
    complete = kept;
    if (images.size() == 1) {
      for (const auto* e : complete) {
        if (IsAttestation(*e)) continue;
        SLIPWAY_ASSIGN_OR_RETURN(auto loaded, LoadManifestEntry(archive, e->descriptor));
        return PlanImage(archive, e->descriptor, loaded.first, *loaded.second.manifest, blobs,
                         gzip_level);
      }
    }
  }
  Plan plan;
  for (const auto* e : complete) {
    if (IsAttestation(*e)) {
      SLIPWAY_RETURN_IF_ERROR(PlanRawChild(archive, e->descriptor, blobs, plan));
      continue;
    }
    SLIPWAY_ASSIGN_OR_RETURN(auto loaded, LoadManifestEntry(archive, e->descriptor));
    SLIPWAY_ASSIGN_OR_RETURN(Plan child, PlanImage(archive, e->descriptor, loaded.first,
                                                   *loaded.second.manifest, blobs, gzip_level));
    if (child.new_manifest != nullptr) {
      return absl::InvalidArgumentError(absl::StrCat(
          "index ", top.digest.ToString(), ": platform manifest ", e->descriptor.digest.ToString(),
          " has uncompressed layers; compressing them would change the index's digest, which "
          "multi-platform import does not do yet"));
    }
    for (PlannedBlob& b : child.blobs) plan.blobs.push_back(std::move(b));
    for (LayerCompression& c : child.compressions) plan.compressions.push_back(std::move(c));
  }
  std::string type = top.media_type.empty() ? index.media_type : top.media_type;
  if (all) {
    SLIPWAY_RETURN_IF_ERROR(StageMemoryEntryAsBlob(*index_entry, blobs));
    plan.record.manifest = Descriptor{type, top.digest, top.size, {}};
    plan.blobs.insert(plan.blobs.begin(), PlannedBlob{plan.record.manifest, index_entry});
  } else {
    ImageIndexDocument reduced{type, {}};
    for (const auto* e : complete) reduced.manifests.push_back(*e);
    SLIPWAY_RETURN_IF_ERROR(WriteNewTopLevel(SerializeIndex(reduced), type, blobs, plan));
  }
  return plan;
}

absl::StatusOr<Plan> PlanOci(StagedArchive& archive, const SelectedImage& selected,
                             BlobStore& blobs, int gzip_level) {
  const Descriptor& top = *selected.manifest;
  SLIPWAY_ASSIGN_OR_RETURN(auto loaded, LoadManifestEntry(archive, top));
  if (loaded.second.index.has_value()) {
    return PlanIndex(archive, top, loaded.first, *loaded.second.index, blobs, gzip_level);
  }
  return PlanImage(archive, top, loaded.first, *loaded.second.manifest, blobs, gzip_level);
}

absl::StatusOr<Plan> PlanDocker(StagedArchive& archive, const SelectedImage& selected,
                                BlobStore& blobs, int gzip_level) {
  Plan plan;
  SLIPWAY_ASSIGN_OR_RETURN(StagedEntry * config_entry,
                           FindEntry(archive, selected.config_entry, "manifest.json Config"));
  SLIPWAY_ASSIGN_OR_RETURN(ImageConfigSummary config, LoadConfig(*config_entry, blobs));
  // Docker v2 schema 2 has no zstd layer type: such images are described in OCI terms.
  bool any_zstd = false;
  for (const std::string& name : selected.layer_entries) {
    absl::StatusOr<StagedEntry*> e = archive.Find(name);
    any_zstd |= e.ok() && (*e)->content == StreamKind::kZstd;
  }
  std::vector<Descriptor> layers;
  bool rewritten = false;
  SLIPWAY_RETURN_IF_ERROR(PlanLayers(archive, selected.layer_entries, {}, config, !any_zstd,
                                     blobs, gzip_level, plan, layers, rewritten));
  ImageManifest manifest{
      std::string(any_zstd ? media::kOciManifest : media::kDockerManifest),
      Descriptor{std::string(any_zstd ? media::kOciConfig : media::kDockerConfig),
                 config_entry->digest, config_entry->size, {}},
      {},
      std::nullopt};
  manifest.layers = layers;
  plan.blobs.insert(plan.blobs.begin(), PlannedBlob{manifest.config, config_entry});
  plan.record.config = config_entry->digest;
  plan.record.layers = layers;
  plan.record.os = config.platform.os;
  plan.record.architecture = config.platform.architecture;
  plan.record.variant = config.platform.variant;
  SLIPWAY_RETURN_IF_ERROR(WriteNewManifest(manifest, blobs, plan));
  return plan;
}

// Publishes and records a validated plan. Blobs are leased before they become visible, so a
// concurrent GC cannot collect them between Publish and PutImage.
absl::Status Commit(Plan& plan, const std::vector<std::string>& tags, BlobStore& blobs,
                    ImageIndex& index, ImportResult& result) {
  std::vector<Digest> digests;
  std::vector<Descriptor> descriptors;
  std::set<Digest> seen;
  int64_t total = 0;
  for (const PlannedBlob& b : plan.blobs) {
    if (!seen.insert(b.descriptor.digest).second) continue;
    digests.push_back(b.descriptor.digest);
    descriptors.push_back(b.descriptor);
    total += b.descriptor.size;
  }
  std::vector<Digest> missing = blobs.FindMissing(digests);
  result.blobs_stored = static_cast<int>(missing.size());
  result.blobs_present = static_cast<int>(digests.size() - missing.size());

  SLIPWAY_ASSIGN_OR_RETURN(Lease lease, index.CreateLease(kImportLeaseSeconds));
  auto work = [&]() -> absl::Status {
    SLIPWAY_RETURN_IF_ERROR(index.AddToLease(lease.id, digests));
    // Blobs taken from the store (no writer) are leased now; check that they survived until
    // then, before anything is published, so a vanished one fails the import cleanly.
    for (const PlannedBlob& b : plan.blobs) {
      if (b.entry == nullptr || b.entry->writer != nullptr) continue;
      if (!blobs.Contains(b.descriptor.digest)) {
        return absl::FailedPreconditionError(absl::StrCat(
            "present entry ", QuoteForError(b.entry->name), " (", b.descriptor.digest.ToString(),
            ") left the store during the import; send the entry in the tar stream"));
      }
    }
    std::set<Digest> published;
    for (const PlannedBlob& b : plan.blobs) {
      if (!published.insert(b.descriptor.digest).second) continue;
      BlobWriter* w = b.entry != nullptr ? b.entry->writer.get() : plan.new_manifest.get();
      if (w == nullptr && b.entry != nullptr) continue;  // already stored (checked above)
      if (w == nullptr) return absl::InternalError("planned blob without a writer");
      SLIPWAY_RETURN_IF_ERROR(w->Publish());
    }
    for (const LayerCompression& c : plan.compressions) {
      SLIPWAY_RETURN_IF_ERROR(index.RecordLayerCompression(c));
    }
    plan.record.total_size = total;
    plan.record.created_unix = absl::ToUnixSeconds(absl::Now());
    SLIPWAY_RETURN_IF_ERROR(index.PutImage(plan.record, descriptors));
    for (const std::string& tag : tags) {
      SLIPWAY_RETURN_IF_ERROR(index.Tag(tag, plan.record.manifest.digest));
    }
    return absl::OkStatus();
  };
  absl::Status status = work();
  absl::Status released = index.ReleaseLease(lease.id);
  SLIPWAY_RETURN_IF_ERROR(status);
  return released;
}

}  // namespace

absl::StatusOr<ImportResult> ImportArchive(ByteSource& source, const ImportOptions& options,
                                           BlobStore& blobs, ImageIndex& index) {
  // Caller-supplied tags are checked before a single byte is read.
  std::vector<std::string> tags;
  for (const std::string& t : options.tags) {
    absl::StatusOr<std::string> tag = NormalizeTag(t);
    if (!tag.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("tag: ", tag.status().message()));
    }
    tags.push_back(*tag);
  }
  SLIPWAY_ASSIGN_OR_RETURN(std::unique_ptr<StagedArchive> archive,
                           StageArchive(source, blobs, options.gzip_level));
  SLIPWAY_ASSIGN_OR_RETURN(PresentEntriesStats from_store,
                           AddPresentEntries(options.present, blobs, index, *archive));
  SLIPWAY_RETURN_IF_ERROR(VerifyBlobNames(*archive));
  SLIPWAY_ASSIGN_OR_RETURN(SelectedImage selected, SelectImage(*archive, options.select_tag));
  Plan plan;
  if (selected.format == ImportFormat::kDockerArchive) {
    SLIPWAY_ASSIGN_OR_RETURN(plan, PlanDocker(*archive, selected, blobs, options.gzip_level));
  } else {
    SLIPWAY_ASSIGN_OR_RETURN(plan, PlanOci(*archive, selected, blobs, options.gzip_level));
  }
  if (!options.ignore_archive_tags) {
    for (const std::string& t : selected.tags) {
      if (std::find(tags.begin(), tags.end(), t) == tags.end()) tags.push_back(t);
    }
  }
  ImportResult result{plan.record, 0, 0, 0, 0};
  result.bytes_received = archive->bytes_received;
  result.layers_compressed = plan.layers_compressed;
  result.entries_from_store = from_store.entries;
  result.bytes_from_store = from_store.bytes;
  SLIPWAY_RETURN_IF_ERROR(Commit(plan, tags, blobs, index, result));
  result.image = plan.record;
  std::sort(tags.begin(), tags.end());
  result.image.tags = tags;
  return result;
}

}  // namespace slipway
