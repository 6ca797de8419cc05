#include "storage/blob_store.h"

#include "absl/strings/str_cat.h"
#include "storage/status_macros.h"

namespace slipway {

absl::StatusOr<std::string> BlobStore::ReadSmall(const Digest& digest, int64_t max_size) const {
  SLIPWAY_ASSIGN_OR_RETURN(int64_t size, Stat(digest));
  if (size > max_size) {
    return absl::ResourceExhaustedError(absl::StrCat("blob ", digest.ToString(), " has ", size,
                                                     " bytes, more than the limit of ", max_size));
  }
  // Small blobs are manifests and configs: always worth re-hashing before we trust them.
  SLIPWAY_ASSIGN_OR_RETURN(auto reader, NewReader(digest, /*verify=*/true));
  std::string out(static_cast<size_t>(reader->size()), '\0');
  size_t filled = 0;
  while (true) {
    if (filled == out.size()) out.resize(out.size() + 4096);  // grew since Stat: let verify judge
    SLIPWAY_ASSIGN_OR_RETURN(size_t n, reader->Read(out.data() + filled, out.size() - filled));
    if (n == 0) break;
    filled += n;
    if (static_cast<int64_t>(filled) > max_size) {
      return absl::ResourceExhaustedError(absl::StrCat(
          "blob ", digest.ToString(), " grew past the limit of ", max_size, " bytes"));
    }
  }
  out.resize(filled);
  return out;
}

absl::StatusOr<BlobInfo> BlobStore::PutSmall(absl::string_view data) {
  SLIPWAY_ASSIGN_OR_RETURN(auto writer, NewWriter());
  SLIPWAY_RETURN_IF_ERROR(writer->Append(data));
  return writer->Commit();
}

}  // namespace slipway
