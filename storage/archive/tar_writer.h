#ifndef SLIPWAY_STORAGE_ARCHIVE_TAR_WRITER_H_
#define SLIPWAY_STORAGE_ARCHIVE_TAR_WRITER_H_

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "storage/archive/byte_stream.h"

struct archive;

namespace slipway {

// Writes a POSIX (pax, restricted: plain ustar headers unless a name needs more) tar to a
// ByteSink with libarchive. Every header is normalized for reproducible output: mtime 0,
// uid/gid 0, no user/group names, mode 0644 for files and 0755 for directories.
// Not thread-safe.
class TarWriter {
 public:
  static absl::StatusOr<std::unique_ptr<TarWriter>> Create(ByteSink& sink);
  ~TarWriter();

  absl::Status AddDirectory(const std::string& name);
  absl::Status AddFile(const std::string& name, absl::string_view content);
  // Starts a file of exactly `size` bytes; follow with WriteData calls totalling `size`.
  absl::Status BeginFile(const std::string& name, int64_t size);
  absl::Status WriteData(absl::string_view data);
  // Writes the end-of-archive blocks. Must be called for a complete tar.
  absl::Status Close();

  struct Context;  // implementation detail (the libarchive callback's state)

 private:
  TarWriter(struct archive* a, std::unique_ptr<Context> ctx);
  absl::Status Header(const std::string& name, bool directory, int64_t size);
  absl::Status Error(absl::string_view what);

  struct archive* archive_;
  std::unique_ptr<Context> ctx_;
  int64_t remaining_ = 0;
  std::string current_;
  bool closed_ = false;
};

}  // namespace slipway

#endif  // SLIPWAY_STORAGE_ARCHIVE_TAR_WRITER_H_
