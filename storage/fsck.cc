#include "storage/fsck.h"

#include <algorithm>
#include <filesystem>
#include <memory>
#include <system_error>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "storage/status_macros.h"

namespace slipway {
namespace {

constexpr size_t kReadChunk = 1 << 20;

enum class Verdict { kGood, kCorrupt, kVanished };

// Reads the blob to the end through a verifying reader; the read that reaches the end reports
// DATA_LOSS when the bytes do not hash to the name.
absl::StatusOr<Verdict> Verify(const BlobStore& blobs, const Digest& digest, int64_t& bytes) {
  absl::StatusOr<std::unique_ptr<BlobReader>> reader = blobs.NewReader(digest, /*verify=*/true);
  if (absl::IsNotFound(reader.status())) return Verdict::kVanished;  // deleted since listed
  if (absl::IsDataLoss(reader.status())) return Verdict::kCorrupt;
  if (!reader.ok()) return reader.status();
  std::vector<char> buf(kReadChunk);
  // Every read before the last yields at least one byte, so size + 1 reads reach the end; the
  // bound only guards against a reader that never reports it.
  const int64_t max_reads = (*reader)->size() + 2;
  for (int64_t reads = 0; reads < max_reads; ++reads) {
    absl::StatusOr<size_t> n = (*reader)->Read(buf.data(), buf.size());
    if (absl::IsDataLoss(n.status())) return Verdict::kCorrupt;
    if (!n.ok()) return n.status();
    if (*n == 0) return Verdict::kGood;
    bytes += static_cast<int64_t>(*n);
  }
  return absl::InternalError(
      absl::StrCat("fsck: reader for ", digest.ToString(), " does not reach its end"));
}

// Stray entries are reported by file name; they live next to the blobs. The name comes from a
// directory listing, but it is still checked before it becomes part of a path we delete.
absl::Status RemoveStray(const BlobStore& blobs, const std::string& name) {
  if (name.empty() || name == "." || name == ".." || name.find('/') != std::string::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat("fsck: refusing to remove stray \"", name, "\""));
  }
  std::filesystem::path dir = std::filesystem::path(blobs.PathOf(Sha256Of(""))).parent_path();
  std::error_code ec;
  std::filesystem::remove_all(dir / name, ec);
  if (ec) {
    return absl::InternalError(
        absl::StrCat("fsck: removing stray ", (dir / name).string(), ": ", ec.message()));
  }
  return absl::OkStatus();
}

void SortUnique(std::vector<std::string>& v) {
  std::sort(v.begin(), v.end());
  v.erase(std::unique(v.begin(), v.end()), v.end());
}

}  // namespace

bool FsckReport::clean() const {
  return corrupt.empty() && missing.empty() && stray.empty() && broken_images.empty();
}

std::string FsckReport::ToText() const {
  std::string out;
  for (const std::string& d : corrupt) absl::StrAppend(&out, "corrupt blob ", d, "\n");
  for (const std::string& d : missing) absl::StrAppend(&out, "missing blob ", d, "\n");
  for (const std::string& s : stray) absl::StrAppend(&out, "stray file ", s, "\n");
  for (const std::string& i : broken_images) absl::StrAppend(&out, "broken image ", i, "\n");
  for (const std::string& d : unreferenced) absl::StrAppend(&out, "unreferenced blob ", d, "\n");
  for (const std::string& a : actions) absl::StrAppend(&out, "repaired: ", a, "\n");
  absl::StrAppend(&out, clean() ? "clean" : "NOT CLEAN", ": ", blobs_checked, " blobs (",
                  bytes_checked, " bytes) checked, ", corrupt.size(), " corrupt, ",
                  missing.size(), " missing, ", stray.size(), " stray, ", broken_images.size(),
                  " broken images, ", unreferenced.size(), " unreferenced, ", repaired,
                  " repairs\n");
  return out;
}

absl::StatusOr<FsckReport> RunFsck(BlobStore& blobs, ImageIndex& index,
                                   const FsckOptions& options) {
  FsckReport report;
  std::vector<BlobStore::ListedBlob> listed;
  SLIPWAY_RETURN_IF_ERROR(
      blobs.List([&](const BlobStore::ListedBlob& b) { listed.push_back(b); },
                 [&](const std::string& name) { report.stray.push_back(name); }));

  // Re-hash everything on disk.
  absl::flat_hash_set<Digest> present, corrupt;
  for (const BlobStore::ListedBlob& b : listed) {
    int64_t bytes = 0;
    SLIPWAY_ASSIGN_OR_RETURN(Verdict v, Verify(blobs, b.digest, bytes));
    if (v == Verdict::kVanished) continue;
    report.blobs_checked++;
    report.bytes_checked += bytes;
    present.insert(b.digest);
    if (v == Verdict::kCorrupt) {
      corrupt.insert(b.digest);
      report.corrupt.push_back(b.digest.ToString());
    }
  }

  // Reconcile with the index.
  SLIPWAY_ASSIGN_OR_RETURN(std::vector<Digest> referenced, index.ReferencedBlobs());
  absl::flat_hash_set<Digest> missing;
  for (const Digest& d : referenced) {
    if (!present.contains(d)) {
      missing.insert(d);
      report.missing.push_back(d.ToString());
    }
  }
  SLIPWAY_ASSIGN_OR_RETURN(std::vector<Digest> live,
                           index.LiveBlobs(absl::ToUnixSeconds(absl::Now())));
  absl::flat_hash_set<Digest> live_set(live.begin(), live.end());
  for (const Digest& d : present) {
    if (!live_set.contains(d) && !corrupt.contains(d)) report.unreferenced.push_back(d.ToString());
  }
  std::vector<Digest> broken;
  SLIPWAY_ASSIGN_OR_RETURN(std::vector<ImageRecord> images, index.List());
  for (const ImageRecord& image : images) {
    SLIPWAY_ASSIGN_OR_RETURN(std::vector<Descriptor> image_blobs,
                             index.ImageBlobs(image.manifest.digest));
    for (const Descriptor& b : image_blobs) {
      if (missing.contains(b.digest) || corrupt.contains(b.digest)) {
        broken.push_back(image.manifest.digest);
        report.broken_images.push_back(image.manifest.digest.ToString());
        break;
      }
    }
  }
  for (auto* list : {&report.corrupt, &report.missing, &report.stray, &report.unreferenced,
                     &report.broken_images}) {
    SortUnique(*list);
  }
  std::sort(broken.begin(), broken.end());
  if (!options.repair) return report;

  auto act = [&](std::string action) {
    report.actions.push_back(std::move(action));
    report.repaired++;
  };
  // Images first, so no row ever names a blob that repair has already deleted.
  for (const Digest& m : broken) {
    absl::StatusOr<std::vector<std::string>> tags = index.DeleteImage(m);
    if (absl::IsNotFound(tags.status())) continue;  // deleted concurrently
    if (!tags.ok()) return tags.status();
    std::string line = absl::StrCat("deleted broken image ", m.ToString());
    if (!tags->empty()) absl::StrAppend(&line, " (tags: ", absl::StrJoin(*tags, ", "), ")");
    act(std::move(line));
  }
  std::vector<Digest> corrupt_sorted(corrupt.begin(), corrupt.end());
  std::sort(corrupt_sorted.begin(), corrupt_sorted.end());
  for (const Digest& d : corrupt_sorted) {
    SLIPWAY_RETURN_IF_ERROR(blobs.Delete(d));
    SLIPWAY_RETURN_IF_ERROR(index.ForgetBlob(d));
    act(absl::StrCat("deleted corrupt blob ", d.ToString()));
  }
  for (const Digest& d : missing) {
    // Use times, lease entries and compression mappings of a blob that is gone mean nothing.
    SLIPWAY_RETURN_IF_ERROR(index.ForgetBlob(d));
  }
  for (const std::string& name : report.stray) {
    SLIPWAY_RETURN_IF_ERROR(RemoveStray(blobs, name));
    act(absl::StrCat("removed stray file ", name));
  }
  return report;
}

}  // namespace slipway
