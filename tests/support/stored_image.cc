#include "tests/support/stored_image.h"

#include <fcntl.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "storage/media_types.h"

namespace slipway::testing {

Descriptor PutBlob(BlobStore& store, absl::string_view content, absl::string_view media_type) {
  absl::StatusOr<BlobInfo> info = store.PutSmall(content);
  if (!info.ok()) {
    ADD_FAILURE() << "PutSmall: " << info.status();
    std::abort();
  }
  return Descriptor{std::string(media_type), info->digest, info->size, {}};
}

StoredImage PutStoredImage(BlobStore& store, ImageIndex& index, absl::string_view name,
                           int layers, int64_t layer_size) {
  Descriptor manifest = PutBlob(store, absl::StrCat("manifest of ", name), media::kOciManifest);
  Descriptor config = PutBlob(store, absl::StrCat("config of ", name), media::kOciConfig);
  StoredImage img{ImageRecord{manifest, config.digest, {}, "linux", "amd64", "", 0, 0, {}},
                  {manifest, config}};
  for (int i = 0; i < layers; ++i) {
    std::string content = absl::StrCat("layer ", i, " of ", name, ":");
    content.resize(static_cast<size_t>(layer_size), 'x');
    Descriptor layer = PutBlob(store, content, media::kOciLayerGzip);
    img.record.layers.push_back(layer);
    img.blobs.push_back(layer);
  }
  absl::Status s = index.PutImage(img.record, img.blobs);
  if (!s.ok()) {
    ADD_FAILURE() << "PutImage: " << s;
    std::abort();
  }
  return img;
}

void SetMtime(const std::string& path, int64_t mtime_unix) {
  struct timespec times[2];
  times[0].tv_sec = mtime_unix;
  times[0].tv_nsec = 0;
  times[1] = times[0];
  if (::utimensat(AT_FDCWD, path.c_str(), times, 0) != 0) {
    ADD_FAILURE() << "utimensat " << path << ": " << std::strerror(errno);
    std::abort();
  }
}

}  // namespace slipway::testing
