#include "tests/builddiff/image_snapshot.h"

#include <algorithm>
#include <fstream>
#include <set>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "storage/status_macros.h"
#include "tests/support/subprocess.h"

namespace slipway::testing {
namespace {

absl::StatusOr<std::string> Slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError("cannot read " + path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

absl::StatusOr<nlohmann::json> ParseJson(const std::string& text, const std::string& what) {
  nlohmann::json j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return absl::InvalidArgumentError(what + " is not valid JSON");
  return j;
}

bool IsEmptyValue(const nlohmann::json& v) {
  // nlohmann's empty() is false for every string, so "" is checked on its own.
  if (v.is_string()) return v.get_ref<const std::string&>().empty();
  return v.is_null() || ((v.is_array() || v.is_object()) && v.empty());
}

std::string BlobPath(const std::string& layout, const std::string& digest) {
  std::string hex = digest.substr(digest.find(':') + 1);
  return layout + "/blobs/sha256/" + hex;
}

std::string Describe(const FsEntry& e) {
  std::string s = absl::StrCat(ModeString(e.type, e.mode), " ", e.uid, ":", e.gid);
  if (e.type == 'f') absl::StrAppend(&s, " ", e.size, " B sha256:", e.sha256.substr(0, 12));
  if (e.type == 'l') absl::StrAppend(&s, " -> ", e.link);
  if (!e.hardlink_group.empty()) absl::StrAppend(&s, " (hard link group ", e.hardlink_group, ")");
  return s;
}

}  // namespace

nlohmann::json NormalizeConfig(const nlohmann::json& config_object) {
  static const char* const kFields[] = {"Env",     "Cmd",        "Entrypoint", "WorkingDir",
                                        "User",    "ExposedPorts", "Volumes",  "Labels",
                                        "StopSignal", "Healthcheck", "OnBuild"};
  nlohmann::json out = nlohmann::json::object();
  if (!config_object.is_object()) return out;
  for (const char* field : kFields) {
    auto it = config_object.find(field);
    if (it == config_object.end()) continue;
    nlohmann::json v = *it;
    if (std::string(field) == "Labels" && v.is_object()) v.erase("io.buildah.version");
    if (!IsEmptyValue(v)) out[field] = v;
  }
  return out;
}

absl::Status ReadImageConfig(const std::string& config_json, ImageSnapshot* out) {
  SLIPWAY_ASSIGN_OR_RETURN(nlohmann::json config, ParseJson(config_json, "image config"));
  if (!config.is_object()) return absl::InvalidArgumentError("image config is not an object");
  out->config = NormalizeConfig(config.value("config", nlohmann::json::object()));
  out->layers = 0;
  if (config.contains("rootfs") && config["rootfs"].contains("diff_ids") &&
      config["rootfs"]["diff_ids"].is_array()) {
    out->layers = static_cast<int>(config["rootfs"]["diff_ids"].size());
  }
  out->non_empty_history = 0;
  if (config.contains("history") && config["history"].is_array()) {
    for (const auto& h : config["history"]) {
      if (!h.is_object() || !h.value("empty_layer", false)) ++out->non_empty_history;
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<ImageSnapshot> LoadOciImage(const std::string& layout, const std::string& tag,
                                           const std::string& scratch_dir) {
  ImageSnapshot snap;
  SLIPWAY_ASSIGN_OR_RETURN(std::string index_text, Slurp(layout + "/index.json"));
  SLIPWAY_ASSIGN_OR_RETURN(nlohmann::json index, ParseJson(index_text, layout + "/index.json"));
  std::string manifest_digest;
  if (index.contains("manifests") && index["manifests"].is_array()) {
    for (const auto& m : index["manifests"]) {
      if (m.is_object() && m.contains("annotations") &&
          m["annotations"].value("org.opencontainers.image.ref.name", "") == tag) {
        manifest_digest = m.value("digest", "");
      }
    }
  }
  if (manifest_digest.empty()) {
    return absl::NotFoundError(absl::StrCat(layout, "/index.json has no manifest tagged ", tag));
  }
  SLIPWAY_ASSIGN_OR_RETURN(std::string manifest_text, Slurp(BlobPath(layout, manifest_digest)));
  SLIPWAY_ASSIGN_OR_RETURN(nlohmann::json manifest, ParseJson(manifest_text, "manifest"));
  std::string config_digest =
      manifest.is_object() && manifest.contains("config") && manifest["config"].is_object()
          ? manifest["config"].value("digest", "")
          : "";
  if (config_digest.empty()) return absl::InvalidArgumentError("manifest has no config digest");
  SLIPWAY_ASSIGN_OR_RETURN(std::string config_text, Slurp(BlobPath(layout, config_digest)));
  SLIPWAY_RETURN_IF_ERROR(ReadImageConfig(config_text, &snap));

  std::string bundle = scratch_dir + "/bundle";
  ProcessResult r = RunProcess({"umoci", "unpack", "--image", layout + ":" + tag, bundle}, {},
                               absl::Seconds(120));
  if (r.exit_code != 0) {
    return absl::InternalError(absl::StrCat("umoci unpack ", layout, ":", tag, " failed (exit ",
                                            r.exit_code, "): ", r.err, r.out));
  }
  SLIPWAY_ASSIGN_OR_RETURN(snap.fs, SnapshotTree(bundle + "/rootfs"));
  return snap;
}

std::string FormatSnapshot(const ImageSnapshot& snap) {
  std::string out;
  for (const auto& [path, e] : snap.fs) {
    absl::StrAppend(&out, Describe(e), " mtime ", e.mtime, "  ", path, "\n");
  }
  absl::StrAppend(&out, "config ", snap.config.dump(), "\nlayers ", snap.layers,
                  " non-empty history ", snap.non_empty_history, "\n");
  return out;
}

namespace {
// Whether everything below `dir` in `snap` is in `allowed` (an empty directory qualifies).
bool OnlyHolds(const ImageSnapshot& snap, const std::string& dir,
               const std::vector<std::string>& allowed) {
  for (auto it = snap.fs.lower_bound(dir + "/");
       it != snap.fs.end() && absl::StartsWith(it->first, dir + "/"); ++it) {
    if (std::find(allowed.begin(), allowed.end(), it->first) == allowed.end()) return false;
  }
  return true;
}
}  // namespace

std::vector<std::string> DiffImages(const ImageSnapshot& a, const std::string& a_name,
                                    const ImageSnapshot& b, const std::string& b_name,
                                    const DiffOptions& options, size_t max_lines) {
  std::vector<std::string> lines;
  size_t dropped = 0;
  auto add = [&](std::string line) {
    if (lines.size() < max_lines) {
      lines.push_back(std::move(line));
    } else {
      ++dropped;
    }
  };
  auto setid_ignored = [&](const std::string& path, const FsEntry& e) {
    if (e.type != 'f' && e.type != 'd') return false;
    for (const std::string& prefix : options.ignore_setid_under) {
      if (absl::StartsWith(path, prefix)) return true;
    }
    return false;
  };

  std::set<std::string> paths;
  for (const auto& [p, e] : a.fs) paths.insert(p);
  for (const auto& [p, e] : b.fs) paths.insert(p);
  for (const std::string& p : paths) {
    auto ia = a.fs.find(p);
    auto ib = b.fs.find(p);
    if (ib == b.fs.end()) {
      const FsEntry& only = ia->second;
      const auto& excused = options.reference_may_add_empty;
      bool empty = (only.type == 'd' && OnlyHolds(a, p, excused)) ||
                   (only.type == 'f' && only.size == 0);
      if (empty && std::find(excused.begin(), excused.end(), p) != excused.end()) continue;
      add(absl::StrCat("only in ", a_name, ": ", p, "  ", Describe(ia->second)));
      continue;
    }
    if (ia == a.fs.end()) {
      add(absl::StrCat("only in ", b_name, ": ", p, "  ", Describe(ib->second)));
      continue;
    }
    const FsEntry& x = ia->second;
    const FsEntry& y = ib->second;
    std::vector<std::string> what;
    uint32_t mask = setid_ignored(p, x) ? 01777 : 07777;
    if (x.type != y.type || (x.mode & mask) != (y.mode & mask)) what.push_back("type/mode");
    if (x.uid != y.uid || x.gid != y.gid) what.push_back("owner");
    if (x.size != y.size || x.sha256 != y.sha256) what.push_back("content");
    if (x.link != y.link) what.push_back("symlink target");
    if (x.hardlink_group != y.hardlink_group &&
        std::find(options.ignore_hardlink_grouping_of.begin(),
                  options.ignore_hardlink_grouping_of.end(),
                  p) == options.ignore_hardlink_grouping_of.end()) {
      what.push_back("hard-link grouping");
    }
    if (options.compare_mtimes && x.mtime != y.mtime) {
      what.push_back(absl::StrCat("mtime ", x.mtime, " vs ", y.mtime));
    }
    if (what.empty()) continue;
    add(absl::StrCat(p, ": ", absl::StrJoin(what, ", "), "\n    ", a_name, ": ", Describe(x),
                     "\n    ", b_name, ": ", Describe(y)));
  }

  std::set<std::string> fields;
  for (const auto& [k, v] : a.config.items()) fields.insert(k);
  for (const auto& [k, v] : b.config.items()) fields.insert(k);
  for (const std::string& f : fields) {
    std::string va = a.config.contains(f) ? a.config[f].dump() : "(absent)";
    std::string vb = b.config.contains(f) ? b.config[f].dump() : "(absent)";
    if (va != vb) add(absl::StrCat("config ", f, ":\n    ", a_name, ": ", va, "\n    ", b_name, ": ", vb));
  }
  if (options.compare_history) {
    if (a.layers != b.layers) {
      add(absl::StrCat("layer count: ", a_name, " ", a.layers, ", ", b_name, " ", b.layers));
    }
    if (a.non_empty_history != b.non_empty_history) {
      add(absl::StrCat("non-empty history entries: ", a_name, " ", a.non_empty_history, ", ",
                       b_name, " ", b.non_empty_history));
    }
  }
  if (dropped > 0) lines.push_back(absl::StrCat("... ", dropped, " more differences"));
  return lines;
}

}  // namespace slipway::testing
