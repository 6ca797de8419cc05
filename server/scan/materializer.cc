#include "server/scan/materializer.h"

#include <sys/stat.h>

#include <filesystem>
#include <system_error>

#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"
#include "storage/archive/byte_stream.h"
#include "storage/archive/exporter.h"
#include "storage/file_util.h"
#include "storage/status_macros.h"

namespace slipway::scan {
namespace fs = std::filesystem;
namespace {

absl::Status FsError(const std::string& what, const std::string& path, const std::error_code& ec) {
  return absl::InternalError(absl::StrCat("scan work dir: ", what, " ", path, ": ", ec.message()));
}

absl::Status WriteText(const std::string& path, const std::string& text) {
  SLIPWAY_ASSIGN_OR_RETURN(auto sink, FileByteSink::Create(path));
  SLIPWAY_RETURN_IF_ERROR(sink->Write(text));
  return sink->Close();
}

}  // namespace

MaterializedImage::~MaterializedImage() {
  std::error_code ec;
  // Read-only files in writable directories: remove_all handles them.
  fs::remove_all(dir_, ec);
}

absl::StatusOr<std::string> MaterializedImage::Archive(const ImageRecord& image) {
  absl::MutexLock lock(&mu_);
  if (archive_tried_) return archive_;
  archive_tried_ = true;
  const std::string path = dir_ + "/image.tar";
  archive_ = [&]() -> absl::StatusOr<std::string> {
    SLIPWAY_ASSIGN_OR_RETURN(auto sink, FileByteSink::Create(path));
    ExportOptions options;
    options.format = ArchiveFormat::kDockerCombined;
    SLIPWAY_RETURN_IF_ERROR(ExportArchive(image, options, blobs_, index_, *sink));
    SLIPWAY_RETURN_IF_ERROR(sink->Close());
    chmod(path.c_str(), 0444);
    return path;
  }();
  return archive_;
}

absl::StatusOr<std::string> MaterializedImage::OciDir(const ImageRecord& image) {
  absl::MutexLock lock(&mu_);
  if (oci_tried_) return oci_;
  oci_tried_ = true;
  const std::string root = dir_ + "/oci";
  oci_ = [&]() -> absl::StatusOr<std::string> {
    std::error_code ec;
    fs::create_directories(root + "/blobs/sha256", ec);
    if (ec) return FsError("cannot create", root, ec);
    SLIPWAY_ASSIGN_OR_RETURN(std::vector<Descriptor> all, index_.ImageBlobs(image.manifest.digest));
    for (const Descriptor& d : all) {
      const std::string to = root + "/blobs/sha256/" + d.digest.hex();
      fs::copy_file(blobs_.PathOf(d.digest), to, fs::copy_options::skip_existing, ec);
      if (ec) return FsError("cannot copy blob to", to, ec);
      chmod(to.c_str(), 0444);
    }
    nlohmann::json entry = {{"mediaType", image.manifest.media_type},
                            {"digest", image.manifest.digest.ToString()},
                            {"size", image.manifest.size}};
    if (!image.tags.empty()) {
      entry["annotations"] = {{"org.opencontainers.image.ref.name", image.tags.front()}};
    }
    nlohmann::json index = {{"schemaVersion", 2},
                            {"mediaType", "application/vnd.oci.image.index.v1+json"},
                            {"manifests", nlohmann::json::array({entry})}};
    SLIPWAY_RETURN_IF_ERROR(WriteText(root + "/oci-layout", "{\"imageLayoutVersion\":\"1.0.0\"}"));
    SLIPWAY_RETURN_IF_ERROR(WriteText(root + "/index.json", index.dump()));
    return root;
  }();
  return oci_;
}

Materializer::Materializer(const BlobStore& blobs, ImageIndex& index, std::string work_dir)
    : blobs_(blobs), index_(index), work_dir_(std::move(work_dir)) {
  std::error_code ec;
  // Nothing in the work dir outlives the process that made it.
  fs::remove_all(work_dir_, ec);
  fs::create_directories(work_dir_, ec);
}

absl::StatusOr<std::shared_ptr<MaterializedImage>> Materializer::Get(const Digest& manifest) {
  absl::MutexLock lock(&mu_);
  const std::string key = manifest.ToString();
  auto it = live_.find(key);
  if (it != live_.end()) {
    if (auto held = it->second.lock()) return held;
  }
  // A fresh directory name each time: a dying entry for the same digest may still be removing
  // its own.
  std::string dir = absl::StrCat(work_dir_, "/", manifest.hex().substr(0, 16), "-", next_id_++);
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return FsError("cannot create", dir, ec);
  auto made = std::make_shared<MaterializedImage>(dir, blobs_, index_);
  live_[key] = made;
  // Forget entries nobody holds any more.
  for (auto i = live_.begin(); i != live_.end();) {
    i = i->second.expired() ? live_.erase(i) : std::next(i);
  }
  return made;
}

}  // namespace slipway::scan
