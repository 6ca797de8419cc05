// Deduplicated tarball import: hash locally, ask the store, stream only what it lacks.
#include "client/archive_upload.h"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <optional>
#include <set>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/strip.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "storage/archive/decompressor.h"
#include "storage/digest.h"

namespace slipway::client {
namespace {

constexpr size_t kChunkBytes = 1 << 20;
constexpr size_t kSniffBytes = 512;
constexpr int kFindMissingBatch = 50000;  // below the server's per-call limit
constexpr int kFindMissingDeadlineSeconds = 120;

// One regular file of the tarball as the hashing pass saw it.
struct ScannedEntry {
  std::string name;
  int64_t size = 0;
  Digest digest = Sha256Of("");
  StreamKind kind = StreamKind::kUnknown;
  bool name_mismatch = false;  // blobs/sha256/<hex> whose bytes hash to something else
  bool omit = false;           // the store holds it: not streamed, listed as present
};

struct ReadDeleter {
  void operator()(struct archive* a) const { archive_read_free(a); }
};
using ReadArchive = std::unique_ptr<struct archive, ReadDeleter>;
struct WriteDeleter {
  void operator()(struct archive* a) const { archive_write_free(a); }
};

std::string ArchiveMessage(struct archive* a) {
  const char* m = archive_error_string(a);
  return m != nullptr ? m : "tar error";
}

absl::Status FromGrpc(absl::string_view rpc, const grpc::Status& status) {
  return absl::Status(static_cast<absl::StatusCode>(status.error_code()),
                      absl::StrCat(rpc, ": ",
                                   status.error_message().empty() ? "failed"
                                                                  : status.error_message()));
}

absl::Status LocalError(const std::string& path, int err) {
  std::string message = absl::StrCat(path, ": ", std::strerror(err));
  if (err == ENOENT) return absl::NotFoundError(message);
  if (err == EACCES || err == EPERM) return absl::PermissionDeniedError(message);
  return absl::UnavailableError(message);
}

absl::StatusOr<ReadArchive> OpenTar(const std::string& path) {
  ReadArchive a(archive_read_new());
  archive_read_support_format_tar(a.get());
  if (archive_read_open_filename(a.get(), path.c_str(), kChunkBytes) != ARCHIVE_OK) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": ", ArchiveMessage(a.get())));
  }
  return a;
}

bool IsRegularFile(struct archive_entry* e) {
  return archive_entry_filetype(e) == AE_IFREG && archive_entry_hardlink(e) == nullptr;
}

// "./blobs/sha256/<hex>" → "<hex>"; "" for other names.
std::string BlobNameHex(absl::string_view name) {
  while (absl::ConsumePrefix(&name, "./")) {
  }
  if (!absl::ConsumePrefix(&name, "blobs/sha256/")) return "";
  return std::string(name);
}

void Report(const UploadProgressFn& progress, UploadProgress::Phase phase, struct archive* a,
            int64_t total, int omitted) {
  if (!progress) return;
  UploadProgress p;
  p.phase = phase;
  p.bytes_done = archive_filter_bytes(a, -1);
  p.bytes_total = total;
  p.entries_omitted = omitted;
  progress(p);
}

// The hashing pass. nullopt when libarchive cannot read the file as a plain tar (the caller
// then streams it unchanged and lets the server say what is wrong).
absl::StatusOr<std::optional<std::vector<ScannedEntry>>> ScanTar(
    const std::string& path, int64_t total, const UploadProgressFn& progress) {
  auto a = OpenTar(path);
  if (!a.ok()) return std::nullopt;
  std::vector<ScannedEntry> out;
  std::string buffer(kChunkBytes, '\0');
  for (;;) {
    struct archive_entry* e = nullptr;
    int r = archive_read_next_header(a->get(), &e);
    if (r == ARCHIVE_EOF) break;
    if (r < ARCHIVE_WARN) return std::nullopt;
    if (!IsRegularFile(e)) continue;
    ScannedEntry entry;
    entry.name = archive_entry_pathname(e) != nullptr ? archive_entry_pathname(e) : "";
    Sha256Hasher hasher;
    std::string prefix;
    for (;;) {
      la_ssize_t n = archive_read_data(a->get(), buffer.data(), buffer.size());
      if (n < 0) return std::nullopt;
      if (n == 0) break;
      absl::string_view chunk(buffer.data(), static_cast<size_t>(n));
      if (prefix.size() < kSniffBytes) {
        absl::string_view head = chunk.substr(0, kSniffBytes - prefix.size());
        prefix.append(head.data(), head.size());
      }
      hasher.Update(chunk);
    }
    entry.size = hasher.bytes();
    entry.digest = hasher.Finish();
    entry.kind = SniffStreamKind(prefix);
    std::string hex = BlobNameHex(entry.name);
    entry.name_mismatch = !hex.empty() && hex != entry.digest.hex();
    out.push_back(std::move(entry));
    Report(progress, UploadProgress::Phase::kHashing, a->get(), total, 0);
  }
  return std::optional<std::vector<ScannedEntry>>(std::move(out));
}

// Marks the entries the store holds. Uncompressed layer tars are asked for by diff_id (the
// store keeps them compressed); everything else by digest. Blobs that fail their name check
// are never omitted: the server must see them to reject them.
absl::Status MarkPresent(Connection& conn, std::vector<ScannedEntry>& entries) {
  std::vector<ScannedEntry*> candidates;
  for (ScannedEntry& e : entries) {
    if (e.size > 0 && !e.name_mismatch) candidates.push_back(&e);
  }
  for (size_t start = 0; start < candidates.size(); start += kFindMissingBatch) {
    size_t end = std::min(candidates.size(), start + kFindMissingBatch);
    v1::FindMissingBlobsRequest request;
    for (size_t i = start; i < end; ++i) {
      const ScannedEntry& e = *candidates[i];
      if (e.kind == StreamKind::kTar) {
        request.add_diff_ids(e.digest.ToString());
      } else {
        request.add_digests(e.digest.ToString());
      }
    }
    v1::FindMissingBlobsResponse response;
    auto ctx = conn.NewContext(kFindMissingDeadlineSeconds);
    grpc::Status status = conn.stub().FindMissingBlobs(ctx.get(), request, &response);
    if (status.error_code() == grpc::StatusCode::UNIMPLEMENTED) {
      return absl::OkStatus();  // an older server: send everything
    }
    if (!status.ok()) return FromGrpc("FindMissingBlobs", status);
    std::set<std::string> missing_digests(response.missing_digests().begin(),
                                          response.missing_digests().end());
    std::set<std::string> missing_diff_ids(response.missing_diff_ids().begin(),
                                           response.missing_diff_ids().end());
    for (size_t i = start; i < end; ++i) {
      ScannedEntry& e = *candidates[i];
      const auto& missing = e.kind == StreamKind::kTar ? missing_diff_ids : missing_digests;
      e.omit = missing.count(e.digest.ToString()) == 0;
    }
  }
  return absl::OkStatus();
}

// The ImportImage call: options first, then tar bytes in kChunkBytes messages.
class ImportStream {
 public:
  ImportStream(Connection& conn, v1::ImportImageRequest first) : ctx_(conn.NewContext()) {
    writer_ = conn.stub().ImportImage(ctx_.get(), &response_);
    open_ = writer_->Write(first);
    pending_.reserve(kChunkBytes);
  }

  // False once the server has closed the stream (Finish tells why).
  bool Send(absl::string_view data) {
    pending_.append(data.data(), data.size());
    if (pending_.size() >= kChunkBytes) Flush();
    return open_;
  }

  absl::StatusOr<v1::ImportImageResponse> Finish() {
    Flush();
    if (open_) writer_->WritesDone();
    grpc::Status status = writer_->Finish();
    if (!status.ok()) return FromGrpc("ImportImage", status);
    return response_;
  }

  // Ends the call after a local error.
  void Abort() {
    ctx_->TryCancel();
    writer_->Finish();
  }

 private:
  void Flush() {
    if (pending_.empty() || !open_) {
      pending_.clear();
      return;
    }
    message_.set_data(pending_);
    pending_.clear();
    open_ = writer_->Write(message_);
  }

  std::unique_ptr<grpc::ClientContext> ctx_;
  v1::ImportImageResponse response_;
  std::unique_ptr<grpc::ClientWriter<v1::ImportImageRequest>> writer_;
  v1::ImportImageRequest message_;
  std::string pending_;
  bool open_ = false;
};

struct WriteState {
  ImportStream* stream = nullptr;
  bool closed = false;  // the server ended the call early
};

la_ssize_t WriteCallback(struct archive*, void* opaque, const void* buffer, size_t length) {
  auto* state = static_cast<WriteState*>(opaque);
  // Once the server closed the stream, keep swallowing bytes: Finish() reports its status.
  if (!state->closed) {
    state->closed = !state->stream->Send(absl::string_view(static_cast<const char*>(buffer), length));
  }
  return static_cast<la_ssize_t>(length);
}

// Streams the tar again without the omitted entries. Entries are matched to the hashing pass
// by order and name; every sent regular file is re-hashed against it.
absl::StatusOr<v1::ImportImageResponse> SendTar(Connection& conn, const std::string& path,
                                                v1::ImportOptions options,
                                                const std::vector<ScannedEntry>& entries,
                                                bool omit, int64_t total,
                                                const UploadProgressFn& progress) {
  options.clear_present();
  int omitted = 0;
  for (const ScannedEntry& e : entries) {
    if (!omit || !e.omit) continue;
    v1::PresentEntry* p = options.add_present();
    p->set_path(e.name);
    p->set_digest(e.digest.ToString());
    ++omitted;
  }
  v1::ImportImageRequest first;
  *first.mutable_options() = std::move(options);
  auto in = OpenTar(path);
  if (!in.ok()) return in.status();

  ImportStream stream(conn, std::move(first));
  WriteState state{&stream};
  std::unique_ptr<struct archive, WriteDeleter> out(archive_write_new());
  archive_write_set_format_pax_restricted(out.get());
  archive_write_set_bytes_per_block(out.get(), 64 * 1024);
  archive_write_set_bytes_in_last_block(out.get(), 1);  // no padding after the end blocks

  auto local_failure = [&](absl::Status s) -> absl::StatusOr<v1::ImportImageResponse> {
    stream.Abort();
    return s;
  };
  auto changed = [&](const std::string& what) {
    return absl::DataLossError(absl::StrCat(path, ": ", what, " changed while it was read"));
  };
  if (archive_write_open(out.get(), &state, nullptr, WriteCallback, nullptr) != ARCHIVE_OK) {
    return local_failure(absl::InternalError(absl::StrCat("tar: ", ArchiveMessage(out.get()))));
  }
  std::string buffer(kChunkBytes, '\0');
  size_t index = 0;
  while (!state.closed) {
    struct archive_entry* e = nullptr;
    int r = archive_read_next_header(in->get(), &e);
    if (r == ARCHIVE_EOF) break;
    if (r < ARCHIVE_WARN) {
      return local_failure(changed(absl::StrCat("the tar (", ArchiveMessage(in->get()), ")")));
    }
    if (!IsRegularFile(e)) {
      if (archive_entry_hardlink(e) != nullptr) archive_entry_set_size(e, 0);
      if (archive_write_header(out.get(), e) < ARCHIVE_WARN) {
        return local_failure(absl::InvalidArgumentError(
            absl::StrCat(path, ": ", archive_entry_pathname(e), ": ", ArchiveMessage(out.get()))));
      }
      continue;
    }
    std::string name = archive_entry_pathname(e) != nullptr ? archive_entry_pathname(e) : "";
    if (index >= entries.size() || entries[index].name != name) return local_failure(changed(name));
    const ScannedEntry& scanned = entries[index++];
    if (omit && scanned.omit) {
      archive_read_data_skip(in->get());
      continue;
    }
    if (archive_write_header(out.get(), e) < ARCHIVE_WARN) {
      return local_failure(absl::InvalidArgumentError(
          absl::StrCat(path, ": ", name, ": ", ArchiveMessage(out.get()))));
    }
    Sha256Hasher hasher;
    for (;;) {
      la_ssize_t n = archive_read_data(in->get(), buffer.data(), buffer.size());
      if (n < 0) return local_failure(changed(name));
      if (n == 0) break;
      hasher.Update(buffer.data(), static_cast<size_t>(n));
      if (archive_write_data(out.get(), buffer.data(), static_cast<size_t>(n)) < 0) {
        return local_failure(
            absl::UnavailableError(absl::StrCat("tar: ", ArchiveMessage(out.get()))));
      }
    }
    if (hasher.bytes() != scanned.size || hasher.Finish() != scanned.digest) {
      return local_failure(changed(name));
    }
    Report(progress, UploadProgress::Phase::kSending, in->get(), total, omitted);
  }
  if (!state.closed && index != entries.size()) return local_failure(changed("the tar"));
  if (archive_write_close(out.get()) != ARCHIVE_OK && !state.closed) {
    return local_failure(absl::UnavailableError(absl::StrCat("tar: ", ArchiveMessage(out.get()))));
  }
  return stream.Finish();
}

// For files that are not a plain tar: the bytes go as they are.
absl::StatusOr<v1::ImportImageResponse> SendRaw(Connection& conn, const std::string& path,
                                                v1::ImportOptions options) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return LocalError(path, errno);
  options.clear_present();
  v1::ImportImageRequest first;
  *first.mutable_options() = std::move(options);
  ImportStream stream(conn, std::move(first));
  std::string buffer(kChunkBytes, '\0');
  for (;;) {
    ssize_t n = ::read(fd, buffer.data(), buffer.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int err = errno;
      ::close(fd);
      stream.Abort();
      return LocalError(path, err);
    }
    if (n == 0) break;
    if (!stream.Send(absl::string_view(buffer.data(), static_cast<size_t>(n)))) break;
  }
  ::close(fd);
  return stream.Finish();
}

}  // namespace

absl::StatusOr<v1::ImportImageResponse> UploadArchive(Connection& conn, const std::string& path,
                                                      const v1::ImportOptions& options,
                                                      const UploadProgressFn& progress) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return LocalError(path, errno);
  if (!S_ISREG(st.st_mode)) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": not a regular file"));
  }
  if (::access(path.c_str(), R_OK) != 0) return LocalError(path, errno);
  const int64_t total = st.st_size;
  auto scanned = ScanTar(path, total, progress);
  if (!scanned.ok()) return scanned.status();
  if (!scanned->has_value()) return SendRaw(conn, path, options);
  std::vector<ScannedEntry>& entries = **scanned;

  absl::Status asked = MarkPresent(conn, entries);
  if (!asked.ok()) return asked;
  bool any_omitted = false;
  for (const ScannedEntry& e : entries) any_omitted |= e.omit;

  auto result = SendTar(conn, path, options, entries, /*omit=*/true, total, progress);
  if (any_omitted && absl::IsFailedPrecondition(result.status())) {
    // An omitted blob left the store between FindMissingBlobs and the import (garbage
    // collection): nothing was recorded, so send everything once.
    result = SendTar(conn, path, options, entries, /*omit=*/false, total, progress);
  }
  return result;
}

}  // namespace slipway::client
