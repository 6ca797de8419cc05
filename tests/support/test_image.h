#ifndef SLIPWAY_TESTS_SUPPORT_TEST_IMAGE_H_
#define SLIPWAY_TESTS_SUPPORT_TEST_IMAGE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "storage/archive/byte_stream.h"
#include "storage/digest.h"

namespace slipway::testing {

// One entry of a tar made by MakeTar. Names are written exactly as given (even "../x" or
// "/abs"), so tests can build hostile archives.
struct TarEntry {
  enum Type { kFile, kDir, kSymlink, kHardlink };
  std::string name;
  std::string content;  // kFile
  Type type = kFile;
  std::string link;     // kSymlink / kHardlink target
  int mode = 0644;
};
// A ustar/pax tar of `entries` in order, mtime 0, uid/gid 0 (libarchive).
std::string MakeTar(const std::vector<TarEntry>& entries);

// An image assembled offline as an OCI layout directory: three gzip layers made with our ISA-L
// compressor (busybox-static with a few applet symlinks; generated text and binary files; a
// small layer that adds one more file), an OCI config and manifest.
struct TestImage {
  std::string layout_dir;
  std::string tag;  // the org.opencontainers.image.ref.name in index.json
  Digest manifest_digest = Sha256Of("");
  int64_t manifest_size = 0;
  Digest config_digest = Sha256Of("");
  std::vector<Digest> diff_ids;
  std::vector<Digest> layer_digests;   // gzip blobs
  std::vector<std::string> layer_tars; // the uncompressed layers
  std::vector<std::string> files;      // regular files the rootfs contains ("bin/busybox", ...)
};
// Builds the layout in `dir` (created). `seed` varies the generated content, so two seeds give
// two different images. Aborts the test on failure.
TestImage BuildTestImage(const std::string& dir, const std::string& tag = "latest",
                         uint32_t seed = 1);

// Byte streams over memory, with a fixed chunk size.
class StringByteSource : public ByteSource {
 public:
  explicit StringByteSource(std::string data, size_t chunk = 64 << 10)
      : data_(std::move(data)), chunk_(chunk) {}
  absl::StatusOr<absl::string_view> Next() override {
    absl::string_view rest = absl::string_view(data_).substr(pos_);
    rest = rest.substr(0, chunk_);
    pos_ += rest.size();
    return rest;
  }

 private:
  std::string data_;
  size_t chunk_;
  size_t pos_ = 0;
};

class StringByteSink : public ByteSink {
 public:
  absl::Status Write(absl::string_view data) override {
    data_.append(data.data(), data.size());
    return absl::OkStatus();
  }
  const std::string& data() const { return data_; }

 private:
  std::string data_;
};

}  // namespace slipway::testing

#endif  // SLIPWAY_TESTS_SUPPORT_TEST_IMAGE_H_
