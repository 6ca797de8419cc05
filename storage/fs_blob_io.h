#ifndef SLIPWAY_STORAGE_FS_BLOB_IO_H_
#define SLIPWAY_STORAGE_FS_BLOB_IO_H_

// Internal to FsBlobStore: temp files, the writer and the reader. Not a public contract.

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "storage/blob_store.h"
#include "storage/digest.h"

namespace slipway {

// True for names TempFile::Create makes ("blob-XXXXXX.partial"): the only files in <root>/tmp
// that FsBlobStore::Create may remove.
bool IsTempFileName(absl::string_view name);

// A private temp file in `dir`, held under an exclusive flock for its whole life so that
// FsBlobStore::Create (in this or another process) can tell it from a crashed writer's leftover.
// Unlinked on destruction unless Release()d. Movable, not copyable; not thread-safe.
class TempFile {
 public:
  static absl::StatusOr<TempFile> Create(const std::string& dir);
  TempFile(TempFile&& other) noexcept;
  TempFile& operator=(TempFile&& other) noexcept;
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;
  ~TempFile();

  int fd() const { return fd_; }
  const std::string& path() const { return path_; }
  // The file was renamed away (or must stay): close without unlinking.
  void Release();
  // Unlinks and closes now (what the destructor does).
  void Discard();

 private:
  TempFile(int fd, std::string path) : fd_(fd), path_(std::move(path)) {}
  int fd_ = -1;
  std::string path_;
};

// A writer whose temp file lives in `tmp_dir` and is published into `blobs_dir/<hex>`. The
// writer copies both paths: it does not refer to the store after creation.
absl::StatusOr<std::unique_ptr<BlobWriter>> NewFsBlobWriter(const std::string& tmp_dir,
                                                            const std::string& blobs_dir,
                                                            const BlobWriterOptions& options);

// A buffered reader of the file at `path`, which should hold `digest`. NOT_FOUND when absent.
absl::StatusOr<std::unique_ptr<BlobReader>> NewFsBlobReader(const std::string& path,
                                                            const Digest& digest, bool verify);

}  // namespace slipway

#endif  // SLIPWAY_STORAGE_FS_BLOB_IO_H_
