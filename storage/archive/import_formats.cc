#include "storage/archive/import_formats.h"

#include <algorithm>
#include <map>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "nlohmann/json.hpp"
#include "storage/archive/archive_paths.h"
#include "storage/image_name.h"
#include "storage/media_types.h"
#include "storage/status_macros.h"

namespace slipway {
namespace {

using json = nlohmann::json;

constexpr absl::string_view kBlobDir = "blobs/sha256/";
constexpr char kRefName[] = "org.opencontainers.image.ref.name";
constexpr char kContainerdName[] = "io.containerd.image.name";

absl::StatusOr<json> ParseJsonEntry(StagedArchive& archive, const std::string& name) {
  absl::StatusOr<StagedEntry*> entry = archive.Find(name);
  if (!entry.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(name, " is missing from the archive"));
  }
  if ((*entry)->holding != StagedEntry::Holding::kMemory) {
    return absl::InvalidArgumentError(absl::StrCat(name, " is not a JSON document"));
  }
  json doc = json::parse((*entry)->bytes, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) {
    return absl::InvalidArgumentError(absl::StrCat(name, " is not valid JSON"));
  }
  return doc;
}

std::string BlobPath(const Digest& digest) { return absl::StrCat(kBlobDir, digest.hex()); }

struct Candidate {
  std::optional<Descriptor> manifest;  // OCI
  std::string config_entry;            // docker
  std::vector<std::string> layer_entries;
  std::vector<std::string> tags;       // normalized
  std::vector<std::string> ref_names;  // raw ref.name annotations
};

void AddUnique(std::vector<std::string>& v, const std::string& s) {
  if (std::find(v.begin(), v.end(), s) == v.end()) v.push_back(s);
}

absl::StatusOr<Descriptor> ParseDescriptor(const json& j, const std::string& where) {
  if (!j.is_object()) return absl::InvalidArgumentError(absl::StrCat(where, " is not an object"));
  std::string media_type;
  if (j.contains("mediaType")) {
    if (!j["mediaType"].is_string()) {
      return absl::InvalidArgumentError(absl::StrCat(where, ".mediaType is not a string"));
    }
    media_type = j["mediaType"].get<std::string>();
  }
  if (!j.contains("digest") || !j["digest"].is_string()) {
    return absl::InvalidArgumentError(absl::StrCat(where, ".digest is missing"));
  }
  absl::StatusOr<Digest> digest = Digest::Parse(j["digest"].get<std::string>());
  if (!digest.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(where, ".digest: ", digest.status().message()));
  }
  if (!j.contains("size") || !j["size"].is_number_integer() || j["size"].get<int64_t>() < 0) {
    return absl::InvalidArgumentError(absl::StrCat(where, ".size is missing or negative"));
  }
  Descriptor d{media_type, *digest, j["size"].get<int64_t>(), {}};
  if (j.contains("annotations") && j["annotations"].is_object()) {
    for (auto it = j["annotations"].begin(); it != j["annotations"].end(); ++it) {
      if (it.value().is_string()) d.annotations[it.key()] = it.value().get<std::string>();
    }
  }
  return d;
}

// A one-platform index (Docker 25 with the containerd store writes one, attestation manifests
// aside) is looked through to its manifest; a multi-platform index is returned as it is (the
// importer stores it whole, or the children the archive holds completely).
absl::StatusOr<Descriptor> LookThroughIndex(StagedArchive& archive, const Descriptor& index) {
  std::string where = BlobPath(index.digest);
  SLIPWAY_ASSIGN_OR_RETURN(json doc, ParseJsonEntry(archive, where));
  if (!doc.is_object() || !doc.contains("manifests") || !doc["manifests"].is_array()) {
    return absl::InvalidArgumentError(absl::StrCat(where, ": index without a manifests array"));
  }
  std::vector<Descriptor> images;
  for (size_t i = 0; i < doc["manifests"].size(); ++i) {
    const json& m = doc["manifests"][i];
    SLIPWAY_ASSIGN_OR_RETURN(Descriptor d,
                             ParseDescriptor(m, absl::StrCat(where, " manifests[", i, "]")));
    bool attestation = m.contains("platform") && m["platform"].is_object() &&
                       m["platform"].value("os", "") == "unknown";
    if (!attestation && media::IsManifestType(d.media_type)) images.push_back(d);
  }
  if (images.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(where, " lists no image manifests"));
  }
  if (images.size() > 1) return index;
  images[0].annotations = index.annotations;
  return images[0];
}

absl::StatusOr<std::vector<Candidate>> OciCandidates(StagedArchive& archive) {
  SLIPWAY_ASSIGN_OR_RETURN(json layout, ParseJsonEntry(archive, "oci-layout"));
  if (!layout.is_object() || !layout.contains("imageLayoutVersion") ||
      !layout["imageLayoutVersion"].is_string()) {
    return absl::InvalidArgumentError("oci-layout has no imageLayoutVersion");
  }
  SLIPWAY_ASSIGN_OR_RETURN(json index, ParseJsonEntry(archive, "index.json"));
  if (!index.is_object() || !index.contains("manifests") || !index["manifests"].is_array()) {
    return absl::InvalidArgumentError("index.json has no manifests array");
  }
  std::map<std::string, Candidate> by_digest;
  std::vector<std::string> order;
  for (size_t i = 0; i < index["manifests"].size(); ++i) {
    SLIPWAY_ASSIGN_OR_RETURN(
        Descriptor d,
        ParseDescriptor(index["manifests"][i], absl::StrCat("index.json manifests[", i, "]")));
    if (media::IsIndexType(d.media_type)) {
      SLIPWAY_ASSIGN_OR_RETURN(d, LookThroughIndex(archive, d));
    }
    auto [it, inserted] = by_digest.try_emplace(d.digest.hex());
    Candidate& c = it->second;
    if (inserted) {
      order.push_back(d.digest.hex());
      c.manifest = d;
    }
    if (auto name = d.annotations.find(kContainerdName); name != d.annotations.end()) {
      absl::StatusOr<std::string> tag = NormalizeTag(name->second);
      if (!tag.ok()) {
        return absl::InvalidArgumentError(absl::StrCat("index.json manifests[", i, "] ",
                                                       kContainerdName, ": ", tag.status().message()));
      }
      AddUnique(c.tags, *tag);
    }
    if (auto ref = d.annotations.find(kRefName); ref != d.annotations.end()) {
      AddUnique(c.ref_names, ref->second);
      if (absl::StrContains(ref->second, ':') || absl::StrContains(ref->second, '/')) {
        if (absl::StatusOr<std::string> tag = NormalizeTag(ref->second); tag.ok()) {
          AddUnique(c.tags, *tag);
        }
      }
    }
  }
  std::vector<Candidate> out;
  for (const std::string& hex : order) out.push_back(std::move(by_digest[hex]));
  return out;
}

absl::StatusOr<std::vector<Candidate>> DockerCandidates(StagedArchive& archive) {
  SLIPWAY_ASSIGN_OR_RETURN(json doc, ParseJsonEntry(archive, "manifest.json"));
  if (!doc.is_array() || doc.empty()) {
    return absl::InvalidArgumentError("manifest.json must be a non-empty JSON array");
  }
  std::vector<Candidate> out;
  for (size_t i = 0; i < doc.size(); ++i) {
    const json& m = doc[i];
    std::string where = absl::StrCat("manifest.json[", i, "]");
    if (!m.is_object() || !m.contains("Config") || !m["Config"].is_string()) {
      return absl::InvalidArgumentError(absl::StrCat(where, ".Config is missing"));
    }
    if (!m.contains("Layers") || !m["Layers"].is_array()) {
      return absl::InvalidArgumentError(absl::StrCat(where, ".Layers is missing"));
    }
    Candidate c;
    SLIPWAY_ASSIGN_OR_RETURN(c.config_entry, NormalizeEntryName(m["Config"].get<std::string>()));
    for (const json& layer : m["Layers"]) {
      if (!layer.is_string()) {
        return absl::InvalidArgumentError(absl::StrCat(where, ".Layers has a non-string entry"));
      }
      SLIPWAY_ASSIGN_OR_RETURN(std::string name, NormalizeEntryName(layer.get<std::string>()));
      c.layer_entries.push_back(std::move(name));
    }
    if (m.contains("RepoTags") && m["RepoTags"].is_array()) {
      for (const json& t : m["RepoTags"]) {
        if (!t.is_string()) continue;
        absl::StatusOr<std::string> tag = NormalizeTag(t.get<std::string>());
        if (!tag.ok()) {
          return absl::InvalidArgumentError(
              absl::StrCat(where, ".RepoTags: ", tag.status().message()));
        }
        AddUnique(c.tags, *tag);
        AddUnique(c.ref_names, t.get<std::string>());
      }
    }
    out.push_back(std::move(c));
  }
  return out;
}

// Docker 25 writes RepoTags in manifest.json as well; merge them into the OCI candidates whose
// config they name.
void MergeCombinedTags(StagedArchive& archive, std::vector<Candidate>& oci,
                       const std::vector<Candidate>& docker) {
  for (Candidate& c : oci) {
    // An index's manifest.json entry names the config of one of its children.
    std::vector<Digest> manifests = {c.manifest->digest};
    if (media::IsIndexType(c.manifest->media_type)) {
      absl::StatusOr<json> index = ParseJsonEntry(archive, BlobPath(c.manifest->digest));
      if (index.ok() && index->is_object() && index->contains("manifests") &&
          (*index)["manifests"].is_array()) {
        for (const json& m : (*index)["manifests"]) {
          if (!m.is_object() || !m.contains("digest") || !m["digest"].is_string()) continue;
          absl::StatusOr<Digest> d = Digest::Parse(m["digest"].get<std::string>());
          if (d.ok()) manifests.push_back(*d);
        }
      }
    }
    for (const Digest& manifest_digest : manifests) {
      absl::StatusOr<json> manifest = ParseJsonEntry(archive, BlobPath(manifest_digest));
      if (!manifest.ok() || !manifest->is_object() || !manifest->contains("config")) continue;
      const json& config = (*manifest)["config"];
      if (!config.is_object() || !config.contains("digest") || !config["digest"].is_string()) {
        continue;
      }
      absl::StatusOr<Digest> digest = Digest::Parse(config["digest"].get<std::string>());
      if (!digest.ok()) continue;
      for (const Candidate& d : docker) {
        if (d.config_entry != BlobPath(*digest)) continue;
        for (const std::string& t : d.tags) AddUnique(c.tags, t);
        for (const std::string& t : d.ref_names) AddUnique(c.ref_names, t);
      }
    }
  }
}

std::string DescribeCandidates(const std::vector<Candidate>& candidates) {
  std::vector<std::string> names;
  for (const Candidate& c : candidates) {
    names.push_back(c.tags.empty() ? (c.manifest ? c.manifest->digest.ToString() : c.config_entry)
                                   : absl::StrJoin(c.tags, ","));
  }
  return absl::StrJoin(names, "; ");
}

}  // namespace

const char* ImportFormatName(ImportFormat format) {
  switch (format) {
    case ImportFormat::kOciLayout: return "OCI layout";
    case ImportFormat::kDockerCombined: return "Docker combined (OCI + manifest.json)";
    case ImportFormat::kDockerArchive: return "docker-archive";
  }
  return "unknown";
}

absl::Status VerifyBlobNames(const StagedArchive& archive) {
  for (const auto& [name, entry] : archive.entries) {
    if (!absl::StartsWith(name, kBlobDir)) continue;
    absl::string_view hex = absl::string_view(name).substr(kBlobDir.size());
    absl::StatusOr<Digest> want = Digest::FromHex(hex);
    if (!want.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "archive entry ", QuoteForError(name), " is not named by a sha256 digest"));
    }
    if (*want != entry.digest) {
      return absl::DataLossError(absl::StrCat("archive entry ", QuoteForError(name),
                                              " does not match its digest: content is ",
                                              entry.digest.ToString()));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<SelectedImage> SelectImage(StagedArchive& archive, const std::string& select_tag) {
  SelectedImage selected;
  std::vector<Candidate> candidates;
  bool has_index = archive.Has("index.json");
  bool has_manifest = archive.Has("manifest.json");
  if (has_index) {
    selected.format = has_manifest ? ImportFormat::kDockerCombined : ImportFormat::kOciLayout;
    SLIPWAY_ASSIGN_OR_RETURN(candidates, OciCandidates(archive));
    if (has_manifest) {
      absl::StatusOr<std::vector<Candidate>> docker = DockerCandidates(archive);
      if (docker.ok()) MergeCombinedTags(archive, candidates, *docker);
    }
  } else if (has_manifest) {
    selected.format = ImportFormat::kDockerArchive;
    SLIPWAY_ASSIGN_OR_RETURN(candidates, DockerCandidates(archive));
  } else {
    return absl::InvalidArgumentError(
        "archive has neither manifest.json (docker-archive) nor index.json (OCI layout)");
  }
  if (candidates.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(has_index ? "index.json" : "manifest.json",
                                                   " lists no images"));
  }
  const Candidate* pick = nullptr;
  if (!select_tag.empty()) {
    absl::StatusOr<std::string> want = NormalizeTag(select_tag);
    for (const Candidate& c : candidates) {
      bool match = std::find(c.ref_names.begin(), c.ref_names.end(), select_tag) != c.ref_names.end();
      if (want.ok()) match |= std::find(c.tags.begin(), c.tags.end(), *want) != c.tags.end();
      if (!match) continue;
      if (pick != nullptr) {
        return absl::InvalidArgumentError(
            absl::StrCat("tag ", QuoteForError(select_tag), " names several images"));
      }
      pick = &c;
    }
    if (pick == nullptr) {
      return absl::NotFoundError(absl::StrCat("no image tagged ", QuoteForError(select_tag),
                                              " in the archive; it has: ",
                                              DescribeCandidates(candidates)));
    }
  } else if (candidates.size() > 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("archive holds ", candidates.size(), " images (", DescribeCandidates(candidates),
                     "); choose one with select_tag"));
  } else {
    pick = &candidates[0];
  }
  selected.manifest = pick->manifest;
  selected.config_entry = pick->config_entry;
  selected.layer_entries = pick->layer_entries;
  selected.tags = pick->tags;
  return selected;
}

}  // namespace slipway
