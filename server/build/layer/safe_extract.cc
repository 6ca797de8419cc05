#include "server/build/layer/safe_extract.h"

#include <archive.h>
#include <archive_entry.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <system_error>
#include <filesystem>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "server/build/layer/gzip_checked_source.h"
#include "storage/status_macros.h"

namespace slipway::build {
namespace {

constexpr size_t kReadChunk = 64 << 10;
constexpr char kOpaqueMarker[] = ".wh..wh..opq";
constexpr char kWhiteoutPrefix[] = ".wh.";
constexpr char kOverlayXattrPrefix[] = "trusted.overlay.";

struct ReadDeleter {
  void operator()(struct archive* a) const { archive_read_free(a); }
};
struct WriteDeleter {
  void operator()(struct archive* a) const { archive_write_free(a); }
};
using ReadPtr = std::unique_ptr<struct archive, ReadDeleter>;

const char* LibarchiveMessage(struct archive* a) {
  const char* msg = archive_error_string(a);
  return msg != nullptr ? msg : "libarchive error";
}

struct SourceContext {
  ByteSource* source = nullptr;
  absl::Status error;
};

la_ssize_t SourceRead(struct archive* a, void* opaque, const void** buf) {
  auto* ctx = static_cast<SourceContext*>(opaque);
  absl::StatusOr<absl::string_view> chunk = ctx->source->Next();
  if (!chunk.ok()) {
    ctx->error = chunk.status();
    archive_set_error(a, EIO, "reading the stream failed");
    return -1;
  }
  *buf = chunk->data();
  return static_cast<la_ssize_t>(chunk->size());
}

// A reader whose one "raw" entry is the decompressed stream. Filters are named one by one:
// archive_read_support_filter_all would also allow helpers that run external programs.
absl::StatusOr<ReadPtr> OpenDecompressed(SourceContext& ctx, absl::string_view what,
                                         absl::StatusCode corrupt) {
  ReadPtr a(archive_read_new());
  if (a == nullptr) return absl::ResourceExhaustedError("archive_read_new failed");
  archive_read_support_filter_gzip(a.get());
  archive_read_support_filter_bzip2(a.get());
  archive_read_support_filter_xz(a.get());
  archive_read_support_filter_zstd(a.get());
  archive_read_support_format_raw(a.get());
  struct archive_entry* entry = nullptr;
  if (archive_read_open(a.get(), &ctx, nullptr, SourceRead, nullptr) != ARCHIVE_OK ||
      archive_read_next_header(a.get(), &entry) != ARCHIVE_OK) {
    if (!ctx.error.ok()) return ctx.error;
    return absl::Status(corrupt, absl::StrCat(what, ": cannot read the stream: ",
                                              LibarchiveMessage(a.get())));
  }
  return a;
}

// The inner tar reader pulls decompressed bytes from the outer reader and hashes them.
struct TarStream {
  struct archive* outer = nullptr;
  SourceContext* source = nullptr;
  Sha256Hasher hash;
  int64_t bytes = 0;
  std::vector<char> buf = std::vector<char>(kReadChunk);
  absl::Status error;
  std::string what;
  absl::StatusCode corrupt = absl::StatusCode::kDataLoss;

  la_ssize_t Pull() {
    la_ssize_t n = archive_read_data(outer, buf.data(), buf.size());
    if (n < 0) {
      error = !source->error.ok()
                  ? source->error
                  : absl::Status(corrupt, absl::StrCat(what, ": corrupt compressed data: ",
                                                       LibarchiveMessage(outer)));
      return -1;
    }
    hash.Update(buf.data(), static_cast<size_t>(n));
    bytes += n;
    return n;
  }
};

la_ssize_t TarRead(struct archive* a, void* opaque, const void** buf) {
  auto* t = static_cast<TarStream*>(opaque);
  la_ssize_t n = t->Pull();
  if (n < 0) archive_set_error(a, EIO, "%s", t->error.ToString().c_str());
  *buf = t->buf.data();
  return n;
}

class Extractor {
 public:
  Extractor(std::string dest, const SafeExtractOptions& options)
      : dest_(std::move(dest)), options_(options) {}

  const std::optional<ArchiveRootEntry>& root() const { return root_; }

  absl::Status Invalid(const std::string& raw, absl::string_view why) const {
    return absl::InvalidArgumentError(
        absl::StrCat(options_.what, ": entry \"", raw, "\" ", why));
  }

  // The entry name relative to dest ("" for the root itself), per the options' rules.
  absl::StatusOr<std::string> CleanName(const std::string& raw) const {
    if (options_.layer_names && absl::StartsWith(raw, "/")) {
      return Invalid(raw, "has an absolute path");
    }
    std::vector<absl::string_view> parts;
    for (absl::string_view part : absl::StrSplit(raw, '/')) {
      if (part.empty() || part == ".") continue;
      if (part == "..") {
        if (options_.layer_names) return Invalid(raw, "has a \"..\" component");
        if (parts.empty()) return Invalid(raw, "climbs out of the destination with \"..\"");
        parts.pop_back();
        continue;
      }
      parts.push_back(part);
    }
    return absl::StrJoin(parts, "/");
  }

  // No existing component of `rel` (the last one only with `include_final`) may be a symlink:
  // writing there would land wherever the link points.
  absl::Status CheckNoSymlinks(const std::string& rel, bool include_final,
                               const std::string& raw) const {
    std::vector<std::string> parts = absl::StrSplit(rel, '/', absl::SkipEmpty());
    std::string cur = dest_;
    size_t n = include_final ? parts.size() : (parts.empty() ? 0 : parts.size() - 1);
    for (size_t i = 0; i < n; ++i) {
      cur += "/" + parts[i];
      struct stat st {};
      if (lstat(cur.c_str(), &st) != 0) return absl::OkStatus();  // nothing below exists yet
      if (S_ISLNK(st.st_mode)) {
        return Invalid(raw, absl::StrCat("would be written through the symlink \"",
                                         absl::StrJoin(parts.begin(), parts.begin() + i + 1, "/"),
                                         "\""));
      }
    }
    return absl::OkStatus();
  }

  // Drops overlayfs' own xattrs from a tar entry: only whiteout conversion may set them.
  static void StripOverlayXattrs(struct archive_entry* e) {
    if (archive_entry_xattr_reset(e) == 0) return;
    std::vector<std::pair<std::string, std::string>> keep;
    const char* name = nullptr;
    const void* value = nullptr;
    size_t size = 0;
    bool dropped = false;
    while (archive_entry_xattr_next(e, &name, &value, &size) == ARCHIVE_OK) {
      if (absl::StartsWith(name, kOverlayXattrPrefix)) {
        dropped = true;
        continue;
      }
      keep.emplace_back(name, std::string(static_cast<const char*>(value), size));
    }
    if (!dropped) return;
    archive_entry_xattr_clear(e);
    for (const auto& [n, v] : keep) archive_entry_xattr_add_entry(e, n.c_str(), v.data(), v.size());
  }

  absl::Status Run(struct archive* in, struct archive* disk, TarStream& stream) {
    std::string last = "(start of archive)";
    for (;;) {
      struct archive_entry* entry = nullptr;
      int rc = archive_read_next_header(in, &entry);
      if (rc == ARCHIVE_EOF) break;
      if (rc < ARCHIVE_WARN) {
        if (!stream.error.ok()) return stream.error;
        return absl::Status(options_.corrupt_code,
                            absl::StrCat(options_.what, ": corrupt tar after entry \"", last,
                                         "\": ", LibarchiveMessage(in)));
      }
      const char* raw_name = archive_entry_pathname(entry);
      std::string raw = raw_name != nullptr ? raw_name : "";
      last = raw;
      SLIPWAY_ASSIGN_OR_RETURN(std::string name, CleanName(raw));
      if (name.empty()) {  // "./": the root itself, reported rather than applied to dest
        ArchiveRootEntry r;
        r.mode = static_cast<uint32_t>(archive_entry_perm(entry)) & 07777;
        r.uid = static_cast<uint32_t>(archive_entry_uid(entry));
        r.gid = static_cast<uint32_t>(archive_entry_gid(entry));
        r.mtime_unix_nanos = static_cast<int64_t>(archive_entry_mtime(entry)) * 1000000000 +
                             archive_entry_mtime_nsec(entry);
        root_ = r;
        continue;
      }
      SLIPWAY_RETURN_IF_ERROR(ExtractOne(in, disk, entry, raw, name, stream));
    }
    for (const auto& [dir, raw] : opaque_dirs_) SLIPWAY_RETURN_IF_ERROR(MarkOpaque(dir, raw));
    return absl::OkStatus();
  }

 private:
  absl::Status ExtractOne(struct archive* in, struct archive* disk, struct archive_entry* entry,
                          const std::string& raw, std::string name, TarStream& stream) {
    std::unique_ptr<struct archive_entry, void (*)(struct archive_entry*)> whiteout(
        nullptr, archive_entry_free);
    if (options_.overlay_whiteouts) {
      size_t slash = name.rfind('/');
      std::string parent = slash == std::string::npos ? "" : name.substr(0, slash);
      std::string base = slash == std::string::npos ? name : name.substr(slash + 1);
      if (base == kOpaqueMarker) {
        opaque_dirs_.emplace(parent, raw);
        return absl::OkStatus();
      }
      if (absl::StartsWith(base, kWhiteoutPrefix)) {
        std::string hidden = base.substr(strlen(kWhiteoutPrefix));
        if (hidden.empty() || hidden == "." || hidden == "..") {
          return Invalid(raw, "is a whiteout for an invalid name");
        }
        name = parent.empty() ? hidden : parent + "/" + hidden;
        whiteout.reset(archive_entry_new());
        archive_entry_set_filetype(whiteout.get(), AE_IFCHR);
        archive_entry_set_perm(whiteout.get(), 0);
        archive_entry_set_rdev(whiteout.get(), 0);
        archive_entry_set_mtime(whiteout.get(), archive_entry_mtime(entry), 0);
        entry = whiteout.get();
      }
    }
    if (const char* link = archive_entry_hardlink(entry); link != nullptr && whiteout == nullptr) {
      SLIPWAY_ASSIGN_OR_RETURN(std::string target, CleanName(link));
      if (target.empty()) return Invalid(raw, "is a hard link to the root");
      SLIPWAY_RETURN_IF_ERROR(CheckNoSymlinks(target, /*include_final=*/false, raw));
      struct stat st {};
      std::string target_path = dest_ + "/" + target;
      if (lstat(target_path.c_str(), &st) != 0 || S_ISDIR(st.st_mode)) {
        return Invalid(raw, absl::StrCat("is a hard link to \"", link,
                                         "\", which is missing or a directory"));
      }
      archive_entry_set_hardlink(entry, target_path.c_str());
    }
    SLIPWAY_RETURN_IF_ERROR(CheckNoSymlinks(name, /*include_final=*/false, raw));
    StripOverlayXattrs(entry);
    archive_entry_set_pathname(entry, (dest_ + "/" + name).c_str());
    int rc = archive_write_header(disk, entry);
    if (rc < ARCHIVE_WARN) return DiskError(disk, rc, raw);
    if (whiteout == nullptr && archive_entry_size(entry) > 0) {
      for (;;) {
        const void* buf = nullptr;
        size_t size = 0;
        la_int64_t offset = 0;
        int r = archive_read_data_block(in, &buf, &size, &offset);
        if (r == ARCHIVE_EOF) break;
        if (r < ARCHIVE_WARN) {
          if (!stream.error.ok()) return stream.error;
          return absl::Status(options_.corrupt_code,
                              absl::StrCat(options_.what, ": corrupt data in entry \"", raw,
                                           "\": ", LibarchiveMessage(in)));
        }
        if (archive_write_data_block(disk, buf, size, offset) < ARCHIVE_WARN) {
          return DiskError(disk, ARCHIVE_FATAL, raw);
        }
      }
    }
    rc = archive_write_finish_entry(disk);
    if (rc < ARCHIVE_WARN) return DiskError(disk, rc, raw);
    return absl::OkStatus();
  }

  absl::Status DiskError(struct archive* disk, int rc, const std::string& raw) const {
    // ARCHIVE_FAILED is libarchive refusing this entry (its secure checks among others).
    if (rc == ARCHIVE_FAILED) return Invalid(raw, LibarchiveMessage(disk));
    return absl::InternalError(absl::StrCat(options_.what, ": writing entry \"", raw,
                                            "\": ", LibarchiveMessage(disk)));
  }

  absl::Status MarkOpaque(const std::string& dir, const std::string& raw) const {
    SLIPWAY_RETURN_IF_ERROR(CheckNoSymlinks(dir, /*include_final=*/true, raw));
    std::string path = dir.empty() ? dest_ : dest_ + "/" + dir;
    std::error_code ec;
    std::filesystem::create_directories(path, ec);
    if (ec) return absl::InternalError(absl::StrCat(options_.what, ": mkdir ", path, ": ",
                                                    ec.message()));
    if (lsetxattr(path.c_str(), "trusted.overlay.opaque", "y", 1, 0) != 0) {
      return absl::InternalError(absl::StrCat(options_.what, ": marking ", path,
                                              " opaque: ", std::strerror(errno)));
    }
    return absl::OkStatus();
  }

  std::optional<ArchiveRootEntry> root_;
  std::string dest_;
  const SafeExtractOptions& options_;
  std::map<std::string, std::string> opaque_dirs_;  // dir → the marker's raw name
};

}  // namespace

absl::StatusOr<SafeExtractResult> SafeExtract(ByteSource& raw_source, const std::string& dest,
                                              const SafeExtractOptions& options) {
  GzipCheckedSource source(raw_source, options.what, options.corrupt_code);
  SourceContext source_ctx{&source, absl::OkStatus()};
  SLIPWAY_ASSIGN_OR_RETURN(ReadPtr outer,
                           OpenDecompressed(source_ctx, options.what, options.corrupt_code));
  TarStream stream;
  stream.outer = outer.get();
  stream.source = &source_ctx;
  stream.what = options.what;
  stream.corrupt = options.corrupt_code;

  ReadPtr in(archive_read_new());
  std::unique_ptr<struct archive, WriteDeleter> disk(archive_write_disk_new());
  if (in == nullptr || disk == nullptr) return absl::ResourceExhaustedError("libarchive alloc");
  archive_read_support_format_tar(in.get());
  if (archive_read_open(in.get(), &stream, nullptr, TarRead, nullptr) != ARCHIVE_OK) {
    if (!stream.error.ok()) return stream.error;
    return absl::Status(options.corrupt_code, absl::StrCat(options.what, ": not a tar: ",
                                                           LibarchiveMessage(in.get())));
  }
  // No ARCHIVE_EXTRACT_SECURE_NOABSOLUTEPATHS: names reach libarchive as dest + "/" + a checked
  // relative name, because its relative names resolve against the process-wide working
  // directory, which a multi-threaded server cannot change. No user/group name lookup either:
  // ids stay numeric, as in the image. No file flags (chattr +i would make layers undeletable).
  int flags = ARCHIVE_EXTRACT_PERM | ARCHIVE_EXTRACT_TIME | ARCHIVE_EXTRACT_XATTR |
              ARCHIVE_EXTRACT_SECURE_SYMLINKS | ARCHIVE_EXTRACT_SECURE_NODOTDOT;
  if (geteuid() == 0) flags |= ARCHIVE_EXTRACT_OWNER;
  archive_write_disk_set_options(disk.get(), flags);

  Extractor extractor(dest, options);
  SLIPWAY_RETURN_IF_ERROR(extractor.Run(in.get(), disk.get(), stream));
  // Directory modes and mtimes are applied last, by close.
  if (archive_write_close(disk.get()) != ARCHIVE_OK) {
    return absl::InternalError(absl::StrCat(options.what, ": finishing extraction: ",
                                            LibarchiveMessage(disk.get())));
  }
  // The tar reader stops at the end-of-archive blocks; the digest covers the whole stream.
  for (;;) {
    la_ssize_t n = stream.Pull();
    if (n < 0) return stream.error;
    if (n == 0) break;
  }
  return SafeExtractResult{stream.hash.Finish(), stream.bytes, extractor.root()};
}

absl::StatusOr<std::string> PeekDecompressed(ByteSource& raw_source, size_t max) {
  GzipCheckedSource source(raw_source, "stream", absl::StatusCode::kInvalidArgument);
  SourceContext ctx{&source, absl::OkStatus()};
  SLIPWAY_ASSIGN_OR_RETURN(ReadPtr a,
                           OpenDecompressed(ctx, "stream", absl::StatusCode::kInvalidArgument));
  std::string out(max, '\0');
  size_t have = 0;
  while (have < max) {
    la_ssize_t n = archive_read_data(a.get(), out.data() + have, max - have);
    if (n < 0) {
      if (!ctx.error.ok()) return ctx.error;
      return absl::InvalidArgumentError(absl::StrCat("corrupt compressed data: ",
                                                     LibarchiveMessage(a.get())));
    }
    if (n == 0) break;
    have += static_cast<size_t>(n);
  }
  out.resize(have);
  return out;
}

}  // namespace slipway::build
