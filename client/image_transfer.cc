// ImportImage / ExportImage streaming shared by `slipway import|export` and the CI step.
#include "client/image_transfer.h"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <system_error>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "client/atomic_file.h"
#include "client/dir_tar.h"
#include "client/export_stream.h"
#include "client/rpc_status.h"
#include "storage/file_util.h"

namespace slipway::client {
namespace {

constexpr size_t kChunkBytes = 1 << 20;

absl::Status Local(absl::StatusCode code, const std::string& what, absl::string_view cause) {
  return absl::Status(code, absl::StrCat(what, ": ", cause));
}

absl::Status Local(const std::string& what, const absl::Status& cause) {
  return Local(cause.code(), what, cause.message());
}

// The ExportImage stream as a libarchive read source: each callback hands over one chunk.
// Feeds libarchive from slipwayd's export stream; an RPC failure is kept for the caller.
struct StreamSource {
  ExportStream* stream;
  int64_t bytes = 0;
  absl::Status error;
};

la_ssize_t ReadChunk(struct archive* a, void* data, const void** buffer) {
  auto* src = static_cast<StreamSource*>(data);
  absl::StatusOr<absl::string_view> next = src->stream->Next();
  if (!next.ok()) {
    src->error = next.status();
    archive_set_error(a, EIO, "the export stream failed");
    return -1;
  }
  src->bytes += static_cast<int64_t>(next->size());
  *buffer = next->data();
  return static_cast<la_ssize_t>(next->size());  // 0 at the end of the stream
}

// A relative path without "." or ".." components escaping the root.
bool SafeRelative(absl::string_view path) {
  if (path.empty() || path[0] == '/') return false;
  for (absl::string_view part : absl::StrSplit(path, '/')) {
    if (part == "..") return false;
  }
  return true;
}

// Unpacks the archive `in` under `root` (regular files and directories only).
absl::Status Unpack(struct archive* in, const std::string& root) {
  std::unique_ptr<struct archive, decltype(&archive_write_free)> out(archive_write_disk_new(),
                                                                     archive_write_free);
  // Only files and directories are written (checked per entry), so no symlink can redirect one.
  archive_write_disk_set_options(out.get(), ARCHIVE_EXTRACT_SECURE_NODOTDOT);
  struct archive_entry* entry = nullptr;
  for (;;) {
    int r = archive_read_next_header(in, &entry);
    if (r == ARCHIVE_EOF) return absl::OkStatus();
    if (r != ARCHIVE_OK) {
      return absl::InvalidArgumentError(absl::StrCat("reading the OCI archive: ",
                                                     archive_error_string(in)));
    }
    std::string name = archive_entry_pathname(entry);
    if (absl::StartsWith(name, "./")) name = name.substr(2);
    if (name.empty() || name == ".") continue;
    if (!SafeRelative(name)) {
      return absl::InvalidArgumentError(absl::StrCat("OCI archive entry \"", name,
                                                     "\" escapes the layout directory"));
    }
    auto type = archive_entry_filetype(entry);
    if (type != AE_IFREG && type != AE_IFDIR) {
      return absl::InvalidArgumentError(
          absl::StrCat("OCI archive entry \"", name, "\" is neither a file nor a directory"));
    }
    archive_entry_set_pathname(entry, (root + "/" + name).c_str());
    if (archive_write_header(out.get(), entry) != ARCHIVE_OK) {
      return absl::InternalError(absl::StrCat(name, ": ", archive_error_string(out.get())));
    }
    const void* buf = nullptr;
    size_t size = 0;
    la_int64_t offset = 0;
    while ((r = archive_read_data_block(in, &buf, &size, &offset)) == ARCHIVE_OK) {
      if (archive_write_data_block(out.get(), buf, size, offset) != ARCHIVE_OK) {
        return absl::InternalError(absl::StrCat(name, ": ", archive_error_string(out.get())));
      }
    }
    if (r != ARCHIVE_EOF) {
      return absl::InvalidArgumentError(absl::StrCat("reading the OCI archive: ",
                                                     archive_error_string(in)));
    }
    if (archive_write_finish_entry(out.get()) != ARCHIVE_OK) {
      return absl::InternalError(absl::StrCat(name, ": ", archive_error_string(out.get())));
    }
  }
}

}  // namespace

absl::StatusOr<v1::ImportImageResponse> ImportImageFrom(Connection& conn, const std::string& path,
                                                        const v1::ImportOptions& options) {
  v1::ImportImageRequest first;
  *first.mutable_options() = options;  // present even without tags

  std::error_code ec;
  bool is_dir = path != "-" && std::filesystem::is_directory(path, ec);
  int fd = -1;
  if (!is_dir) {
    fd = path == "-" ? 0 : ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      int err = errno;
      return Local(ErrnoStatus(err, "open", path).code(), "import",
                   absl::StrCat(path, ": ", std::strerror(err)));
    }
  }

  auto ctx = conn.NewContext();
  v1::ImportImageResponse response;
  auto writer = conn.stub().ImportImage(ctx.get(), &response);
  bool stream_ok = writer->Write(first);
  absl::Status local;
  v1::ImportImageRequest msg;
  if (stream_ok && is_dir) {
    std::string pending;
    auto send = [&](absl::string_view data) -> absl::Status {
      pending.append(data.data(), data.size());
      if (pending.size() >= kChunkBytes) {
        msg.set_data(pending);
        pending.clear();
        if (!writer->Write(msg)) return absl::UnavailableError("the server closed the stream");
      }
      return absl::OkStatus();
    };
    local = TarDirectory(path, send);
    if (local.ok() && !pending.empty()) {
      msg.set_data(pending);
      if (!writer->Write(msg)) local = absl::UnavailableError("the server closed the stream");
    }
  } else if (stream_ok) {
    std::string buffer(kChunkBytes, '\0');
    for (;;) {
      ssize_t n = ::read(fd, buffer.data(), buffer.size());
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        local = absl::UnavailableError(absl::StrCat(path, ": ", std::strerror(errno)));
        break;
      }
      if (n == 0) break;
      msg.set_data(buffer.data(), static_cast<size_t>(n));
      if (!writer->Write(msg)) break;  // the server answered early; Finish tells why
    }
  }
  if (fd > 0) ::close(fd);
  if (!local.ok() && local.code() != absl::StatusCode::kUnavailable) {
    ctx->TryCancel();
    writer->Finish();
    return Local("import", local);
  }
  writer->WritesDone();
  grpc::Status status = writer->Finish();
  if (!status.ok()) return FromRpc(status, "ImportImage: ");
  if (!local.ok()) return Local("import", local);
  return response;
}

absl::StatusOr<int64_t> ExportImageTo(Connection& conn, const v1::ExportImageRequest& request,
                                      const std::string& output) {
  std::unique_ptr<AtomicFile> file;
  if (output != "-") {
    auto created = AtomicFile::Create(output);
    if (!created.ok()) return Local("export", created.status());
    file = *std::move(created);
  }
  ExportStream stream(conn, request);
  int64_t bytes = 0;
  while (true) {
    absl::StatusOr<absl::string_view> data = stream.Next();
    if (!data.ok()) return data.status();  // "ExportImage: <server message>"
    if (data->empty()) break;
    bytes += static_cast<int64_t>(data->size());
    absl::Status local = file ? file->Append(*data) : WriteAll(1, *data, "stdout");
    if (!local.ok()) {
      stream.Cancel();
      return Local("export", local);
    }
  }
  if (file) {
    if (absl::Status s = file->Commit(); !s.ok()) return Local("export", s);
  }
  return bytes;
}

absl::StatusOr<int64_t> ExportOciLayoutTo(Connection& conn, const std::string& ref,
                                          const std::vector<std::string>& repo_tags,
                                          const std::string& dir) {
  namespace fs = std::filesystem;
  fs::path target = fs::path(dir).lexically_normal();
  if (target.filename().empty()) target = target.parent_path();
  if (target.has_parent_path()) {
    if (absl::Status s = CreateDirectories(target.parent_path().string()); !s.ok()) {
      return Local("export", s);
    }
  }
  std::string temp = target.string() + ".tmp-XXXXXX";
  if (::mkdtemp(temp.data()) == nullptr) {
    return Local("export", ErrnoStatus(errno, "create directory", temp));
  }
  std::error_code ec;
  auto cleanup = [&] { fs::remove_all(temp, ec); };

  v1::ExportImageRequest request;
  request.set_ref(ref);
  request.set_format(v1::OCI_ARCHIVE);
  for (const auto& t : repo_tags) request.add_repo_tags(t);
  ExportStream stream(conn, request);
  StreamSource source{&stream};
  std::unique_ptr<struct archive, decltype(&archive_read_free)> in(archive_read_new(),
                                                                   archive_read_free);
  archive_read_support_format_tar(in.get());
  absl::Status local;
  if (archive_read_open(in.get(), &source, nullptr, ReadChunk, nullptr) != ARCHIVE_OK) {
    local = absl::InvalidArgumentError(
        absl::StrCat("reading the OCI archive: ", archive_error_string(in.get())));
  } else {
    local = Unpack(in.get(), temp);
  }
  // The server's verdict first: a failed stream also makes the local unpack fail.
  if (!source.error.ok()) {
    cleanup();
    return source.error;  // "ExportImage: <server message>"
  }
  if (!local.ok()) {
    stream.Cancel();
    cleanup();
    return Local("export", local);
  }
  // Drain trailing padding so the stream's end reports the server's verdict.
  for (absl::StatusOr<absl::string_view> rest = stream.Next();; rest = stream.Next()) {
    if (!rest.ok()) {
      cleanup();
      return rest.status();
    }
    if (rest->empty()) break;
  }
  // Swap the new layout in; an existing one is moved aside first and then removed.
  std::string old;
  if (fs::exists(target, ec)) {
    old = target.string() + ".old-XXXXXX";
    if (::mkdtemp(old.data()) == nullptr || ::rename(target.c_str(), old.c_str()) != 0) {
      int err = errno;
      cleanup();
      return Local("export", ErrnoStatus(err, "replace", target.string()));
    }
  }
  if (::rename(temp.c_str(), target.c_str()) != 0) {
    int err = errno;
    cleanup();
    if (!old.empty()) ::rename(old.c_str(), target.c_str());
    return Local("export", ErrnoStatus(err, "rename", target.string()));
  }
  if (!old.empty()) fs::remove_all(old, ec);
  fs::path parent = target.parent_path();
  (void)FsyncDir(parent.empty() ? "." : parent.string());
  return source.bytes;
}

}  // namespace slipway::client
