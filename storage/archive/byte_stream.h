#ifndef SLIPWAY_STORAGE_ARCHIVE_BYTE_STREAM_H_
#define SLIPWAY_STORAGE_ARCHIVE_BYTE_STREAM_H_

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace slipway {

// Where archive bytes come from: a gRPC stream, a file, a pipe. Pull-based so that a tar is
// parsed as it arrives and never held whole.
class ByteSource {
 public:
  virtual ~ByteSource() = default;
  // The next chunk; an empty view means the end. The view stays valid until the next call.
  virtual absl::StatusOr<absl::string_view> Next() = 0;
};

// Where archive bytes go. Write may block (back-pressure from the client).
class ByteSink {
 public:
  virtual ~ByteSink() = default;
  virtual absl::Status Write(absl::string_view data) = 0;
};

// A ByteSource over a file descriptor or path, for tests, benchmarks and the client.
class FileByteSource : public ByteSource {
 public:
  static absl::StatusOr<std::unique_ptr<FileByteSource>> Open(const std::string& path);
  ~FileByteSource() override;
  absl::StatusOr<absl::string_view> Next() override;

 private:
  explicit FileByteSource(int fd);
  int fd_;
  std::string buffer_;
};

// A ByteSink appending to a file (created/truncated).
class FileByteSink : public ByteSink {
 public:
  static absl::StatusOr<std::unique_ptr<FileByteSink>> Create(const std::string& path);
  ~FileByteSink() override;
  absl::Status Write(absl::string_view data) override;
  absl::Status Close();  // fsync + close

 private:
  explicit FileByteSink(int fd, std::string path);
  int fd_;
  std::string path_;
};

}  // namespace slipway

#endif  // SLIPWAY_STORAGE_ARCHIVE_BYTE_STREAM_H_
