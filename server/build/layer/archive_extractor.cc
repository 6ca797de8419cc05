#include "server/build/layer/archive_extractor.h"

#include <climits>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <system_error>

#include "absl/strings/str_cat.h"
#include "server/build/layer/safe_extract.h"
#include "server/build/layer/unpacked_layers.h"
#include "storage/archive/byte_stream.h"
#include "storage/status_macros.h"

namespace slipway::build {
namespace {

// A tar header is 512 bytes; POSIX and GNU tar both put "ustar" at offset 257.
constexpr size_t kTarHeader = 512;
constexpr size_t kMagicOffset = 257;
constexpr char kUstar[] = "ustar";

}  // namespace

absl::StatusOr<bool> IsExtractableArchive(const std::string& path) {
  SLIPWAY_ASSIGN_OR_RETURN(std::unique_ptr<FileByteSource> source, FileByteSource::Open(path));
  absl::StatusOr<std::string> head = PeekDecompressed(*source, kTarHeader);
  if (!head.ok()) {
    // Compressed-looking bytes that do not decompress are an ordinary file to ADD, as in
    // Docker; a failing read is not.
    if (head.status().code() == absl::StatusCode::kInvalidArgument) return false;
    return head.status();
  }
  return head->size() >= kMagicOffset + strlen(kUstar) &&
         head->compare(kMagicOffset, strlen(kUstar), kUstar) == 0;
}

absl::StatusOr<std::unique_ptr<SourceTree>> ExtractArchive(const std::string& path,
                                                           const std::string& staging_dir,
                                                           std::optional<LayerEntry>* root) {
  std::error_code ec;
  std::filesystem::create_directories(staging_dir, ec);
  if (ec) {
    return absl::InternalError(absl::StrCat("creating ", staging_dir, ": ", ec.message()));
  }
  // Entries land below this path, and every component is checked for symlinks: use the real
  // path so a symlinked TMPDIR does not trip the check.
  char real[PATH_MAX];
  if (realpath(staging_dir.c_str(), real) == nullptr) {
    return absl::InternalError(absl::StrCat("realpath ", staging_dir, ": ", std::strerror(errno)));
  }
  SLIPWAY_ASSIGN_OR_RETURN(std::unique_ptr<FileByteSource> source, FileByteSource::Open(path));
  SafeExtractOptions options;
  options.what = absl::StrCat("archive ", path);
  options.layer_names = false;
  options.overlay_whiteouts = false;
  options.corrupt_code = absl::StatusCode::kInvalidArgument;
  SLIPWAY_ASSIGN_OR_RETURN(SafeExtractResult result, SafeExtract(*source, real, options));
  if (root != nullptr) {
    root->reset();
    if (result.root) {
      LayerEntry dir;
      dir.type = EntryType::kDirectory;
      dir.mode = result.root->mode;
      dir.uid = result.root->uid;
      dir.gid = result.root->gid;
      dir.mtime_unix_nanos = result.root->mtime_unix_nanos;
      *root = dir;
    }
  }
  return StackedFilesystem({std::string(real)});
}

}  // namespace slipway::build
