#include "storage/archive/tar_writer.h"

#include <archive.h>
#include <archive_entry.h>

#include <cerrno>

#include "absl/strings/str_cat.h"
#include "storage/status_macros.h"

namespace slipway {

struct TarWriter::Context {
  ByteSink* sink = nullptr;
  absl::Status error;
};

namespace {

la_ssize_t WriteCallback(struct archive* a, void* opaque, const void* buf, size_t n) {
  auto* ctx = static_cast<TarWriter::Context*>(opaque);
  absl::Status s = ctx->sink->Write(absl::string_view(static_cast<const char*>(buf), n));
  if (!s.ok()) {
    ctx->error = s;
    archive_set_error(a, EIO, "writing the archive stream failed");
    return -1;
  }
  return static_cast<la_ssize_t>(n);
}

}  // namespace

absl::StatusOr<std::unique_ptr<TarWriter>> TarWriter::Create(ByteSink& sink) {
  struct archive* a = archive_write_new();
  if (a == nullptr) return absl::ResourceExhaustedError("archive_write_new failed");
  auto ctx = std::make_unique<Context>();
  ctx->sink = &sink;
  if (archive_write_set_format_pax_restricted(a) != ARCHIVE_OK ||
      archive_write_open(a, ctx.get(), nullptr, WriteCallback, nullptr) != ARCHIVE_OK) {
    absl::Status s = ctx->error.ok()
                         ? absl::InternalError(absl::StrCat("libarchive: ", archive_error_string(a)))
                         : ctx->error;
    archive_write_free(a);
    return s;
  }
  return std::unique_ptr<TarWriter>(new TarWriter(a, std::move(ctx)));
}

TarWriter::TarWriter(struct archive* a, std::unique_ptr<Context> ctx)
    : archive_(a), ctx_(std::move(ctx)) {}

TarWriter::~TarWriter() {
  // archive_write_free would write the trailer of an unfinished archive: only Close() does that.
  if (!closed_) archive_write_fail(archive_);
  archive_write_free(archive_);
}

absl::Status TarWriter::Error(absl::string_view what) {
  if (!ctx_->error.ok()) return ctx_->error;
  const char* msg = archive_error_string(archive_);
  return absl::InternalError(
      absl::StrCat("writing tar ", what, ": ", msg != nullptr ? msg : "libarchive error"));
}

absl::Status TarWriter::Header(const std::string& name, bool directory, int64_t size) {
  if (remaining_ != 0) {
    return absl::InternalError(absl::StrCat("tar entry ", current_, " is ", remaining_,
                                            " bytes short"));
  }
  struct archive_entry* e = archive_entry_new();
  archive_entry_set_pathname(e, name.c_str());
  archive_entry_set_filetype(e, directory ? AE_IFDIR : AE_IFREG);
  archive_entry_set_perm(e, directory ? 0755 : 0644);
  archive_entry_set_size(e, directory ? 0 : size);
  archive_entry_set_mtime(e, 0, 0);
  archive_entry_set_uid(e, 0);
  archive_entry_set_gid(e, 0);
  int rc = archive_write_header(archive_, e);
  archive_entry_free(e);
  if (rc != ARCHIVE_OK) return Error(absl::StrCat("header of ", name));
  current_ = name;
  remaining_ = directory ? 0 : size;
  return absl::OkStatus();
}

absl::Status TarWriter::AddDirectory(const std::string& name) {
  return Header(name.back() == '/' ? name : name + "/", true, 0);
}

absl::Status TarWriter::AddFile(const std::string& name, absl::string_view content) {
  SLIPWAY_RETURN_IF_ERROR(BeginFile(name, static_cast<int64_t>(content.size())));
  return WriteData(content);
}

absl::Status TarWriter::BeginFile(const std::string& name, int64_t size) {
  return Header(name, false, size);
}

absl::Status TarWriter::WriteData(absl::string_view data) {
  if (static_cast<int64_t>(data.size()) > remaining_) {
    return absl::DataLossError(absl::StrCat("tar entry ", current_, " got more bytes than its ",
                                            "declared size"));
  }
  while (!data.empty()) {
    la_ssize_t n = archive_write_data(archive_, data.data(), data.size());
    if (n <= 0) return Error(absl::StrCat("data of ", current_));
    data.remove_prefix(static_cast<size_t>(n));
    remaining_ -= n;
  }
  return absl::OkStatus();
}

absl::Status TarWriter::Close() {
  if (remaining_ != 0) {
    return absl::DataLossError(absl::StrCat("tar entry ", current_, " is ", remaining_,
                                            " bytes short"));
  }
  closed_ = true;
  if (archive_write_close(archive_) != ARCHIVE_OK) return Error("trailer");
  return absl::OkStatus();
}

}  // namespace slipway
