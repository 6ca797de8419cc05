#include "server/build/layer/layer_writer.h"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "server/build/layer/layer_compressor.h"
#include "storage/media_types.h"
#include "storage/status_macros.h"

namespace slipway::build {
namespace {

// Regular-file content is copied through a buffer of this size: a layer file is never held
// whole in memory.
constexpr size_t kCopyChunk = 1 << 20;

absl::Status CheckPath(const std::string& path) {
  auto bad = [&](absl::string_view why) {
    return absl::InvalidArgumentError(absl::StrCat("layer entry path \"", path, "\" ", why));
  };
  if (path.empty()) return bad("is empty");
  if (path.find('\0') != std::string::npos) return bad("contains a NUL byte");
  if (path.front() == '/') return bad("is absolute");
  if (path.back() == '/') return bad("ends with '/'");
  for (absl::string_view part : absl::StrSplit(path, '/')) {
    if (part.empty()) return bad("has an empty component");
    if (part == "." || part == "..") return bad("has a '.' or '..' component");
  }
  return absl::OkStatus();
}

// What gets written for each path once hard-link groups are settled.
struct Planned {
  const LayerEntry* entry;         // metadata (for a hard link: the group's regular file)
  std::string hardlink_to;         // non-empty: written as a link to this path
};

// Sorts, checks and resolves hard-link groups: the first path (in sorted order) of each group
// carries the content, every other member links to it.
absl::StatusOr<std::vector<Planned>> Plan(std::vector<LayerEntry>& entries) {
  std::sort(entries.begin(), entries.end(),
            [](const LayerEntry& a, const LayerEntry& b) { return a.path < b.path; });
  std::map<std::string, size_t> by_path;
  for (size_t i = 0; i < entries.size(); ++i) {
    SLIPWAY_RETURN_IF_ERROR(CheckPath(entries[i].path));
    if (i > 0 && entries[i].path == entries[i - 1].path) {
      return absl::InvalidArgumentError(
          absl::StrCat("layer entry path \"", entries[i].path, "\" appears twice"));
    }
    by_path.emplace(entries[i].path, i);
  }
  // The regular file each entry's content comes from (itself for files).
  std::vector<size_t> root(entries.size());
  std::map<size_t, std::string> leader;  // root index -> first path of its group
  for (size_t i = 0; i < entries.size(); ++i) {
    if (entries[i].type != EntryType::kFile && entries[i].type != EntryType::kHardlink) continue;
    size_t at = i;
    // A chain of links is at most entries.size() long; longer means a cycle.
    for (size_t hops = 0; entries[at].type == EntryType::kHardlink; ++hops) {
      auto it = by_path.find(entries[at].link_target);
      if (it == by_path.end() || hops > entries.size()) {
        return absl::InvalidArgumentError(absl::StrCat(
            "hard link \"", entries[i].path, "\" points to \"", entries[at].link_target,
            "\", which is not in the layer", it == by_path.end() ? "" : " (link cycle)"));
      }
      at = it->second;
    }
    if (entries[at].type != EntryType::kFile) {
      return absl::InvalidArgumentError(absl::StrCat("hard link \"", entries[i].path,
                                                     "\" points to \"", entries[at].path,
                                                     "\", which is not a regular file"));
    }
    root[i] = at;
    leader.emplace(at, entries[i].path);  // entries are sorted: the first one seen wins
  }
  std::vector<Planned> plan;
  plan.reserve(entries.size());
  for (size_t i = 0; i < entries.size(); ++i) {
    bool in_group = entries[i].type == EntryType::kFile || entries[i].type == EntryType::kHardlink;
    if (!in_group) {
      plan.push_back({&entries[i], ""});
      continue;
    }
    const std::string& first = leader.at(root[i]);
    plan.push_back({&entries[root[i]], first == entries[i].path ? "" : first});
  }
  return plan;
}

struct SinkContext {
  Sha256Hasher tar_hash;
  int64_t tar_bytes = 0;
  LayerCompressor* compressor = nullptr;
  absl::Status error;
};

la_ssize_t WriteCallback(struct archive* a, void* opaque, const void* buf, size_t n) {
  auto* ctx = static_cast<SinkContext*>(opaque);
  absl::string_view data(static_cast<const char*>(buf), n);
  ctx->tar_hash.Update(data);
  ctx->tar_bytes += static_cast<int64_t>(n);
  absl::Status s = ctx->compressor->Write(data);
  if (!s.ok()) {
    ctx->error = s;
    archive_set_error(a, EIO, "writing the layer stream failed");
    return -1;
  }
  return static_cast<la_ssize_t>(n);
}

class LayerTar {
 public:
  LayerTar(struct archive* a, SinkContext* ctx, const LayerWriteOptions& options)
      : a_(a), ctx_(ctx), options_(options), buffer_(kCopyChunk) {}

  absl::Status Add(const Planned& p, const std::string& path) {
    const LayerEntry& e = *p.entry;
    std::unique_ptr<struct archive_entry, void (*)(struct archive_entry*)> h(
        archive_entry_new(), archive_entry_free);
    bool directory = e.type == EntryType::kDirectory;
    archive_entry_set_pathname(h.get(), directory ? (path + "/").c_str() : path.c_str());
    archive_entry_set_perm(h.get(), e.mode & 07777);
    archive_entry_set_uid(h.get(), e.uid);
    archive_entry_set_gid(h.get(), e.gid);
    archive_entry_set_mtime(h.get(), MtimeSeconds(e.mtime_unix_nanos), 0);
    archive_entry_set_size(h.get(), 0);
    // Xattrs belong to the inode: a hard link's header does not repeat them.
    for (const auto& [name, value] : e.xattrs) {
      if (!p.hardlink_to.empty()) break;
      archive_entry_xattr_add_entry(h.get(), name.c_str(), value.data(), value.size());
    }
    bool content = false;
    if (!p.hardlink_to.empty()) {
      archive_entry_set_filetype(h.get(), AE_IFREG);
      archive_entry_set_hardlink(h.get(), p.hardlink_to.c_str());
    } else {
      switch (e.type) {
        case EntryType::kFile:
        case EntryType::kHardlink:  // the first path of a group whose file sorts later
          archive_entry_set_filetype(h.get(), AE_IFREG);
          archive_entry_set_size(h.get(), e.size);
          content = true;
          break;
        case EntryType::kDirectory: archive_entry_set_filetype(h.get(), AE_IFDIR); break;
        case EntryType::kSymlink:
          archive_entry_set_filetype(h.get(), AE_IFLNK);
          archive_entry_set_symlink(h.get(), e.link_target.c_str());
          break;
        case EntryType::kCharDevice:
        case EntryType::kBlockDevice:
          archive_entry_set_filetype(
              h.get(), e.type == EntryType::kCharDevice ? AE_IFCHR : AE_IFBLK);
          archive_entry_set_rdevmajor(h.get(), e.dev_major);
          archive_entry_set_rdevminor(h.get(), e.dev_minor);
          break;
        case EntryType::kFifo: archive_entry_set_filetype(h.get(), AE_IFIFO); break;
      }
    }
    if (content && e.size < 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("layer entry \"", path, "\" has a negative size"));
    }
    if (archive_write_header(a_, h.get()) != ARCHIVE_OK) return Error("header of", path);
    return content ? CopyContent(e, path) : absl::OkStatus();
  }

  absl::Status Error(absl::string_view what, const std::string& path) {
    if (!ctx_->error.ok()) return ctx_->error;
    const char* msg = archive_error_string(a_);
    return absl::InternalError(absl::StrCat("writing layer tar: ", what, " \"", path, "\": ",
                                            msg != nullptr ? msg : "libarchive error"));
  }

 private:
  int64_t MtimeSeconds(int64_t nanos) const {
    // Rounded to the nearest second, as Go's archive/tar (Docker, BuildKit, buildah) writes
    // them, so the same source file gets the same mtime from every builder.
    const int64_t rounded = nanos + 500000000;
    int64_t s = rounded / 1000000000;
    if (rounded % 1000000000 < 0) --s;  // floor, also before 1970
    if (options_.source_date_epoch && s > *options_.source_date_epoch) {
      s = *options_.source_date_epoch;
    }
    return s;
  }

  absl::Status CopyContent(const LayerEntry& e, const std::string& path) {
    int fd = open(e.source_path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      return absl::NotFoundError(absl::StrCat("layer entry \"", path, "\": cannot open ",
                                              e.source_path, ": ", std::strerror(errno)));
    }
    absl::Cleanup close_fd = [fd] { close(fd); };
    int64_t remaining = e.size;
    for (;;) {
      // Once the declared size is copied, one more byte is asked for to catch a file that grew.
      size_t want = remaining > 0 ? std::min<int64_t>(remaining, buffer_.size()) : 1;
      ssize_t n = read(fd, buffer_.data(), want);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        return absl::DataLossError(absl::StrCat("layer entry \"", path, "\": reading ",
                                                e.source_path, ": ", std::strerror(errno)));
      }
      if (remaining == 0) {
        if (n == 0) return absl::OkStatus();
        return absl::DataLossError(absl::StrCat("layer entry \"", path, "\": ", e.source_path,
                                                " is longer than its declared size ", e.size));
      }
      if (n == 0) {
        return absl::DataLossError(absl::StrCat("layer entry \"", path, "\": ", e.source_path,
                                                " is shorter than its declared size ", e.size,
                                                " (", e.size - remaining, " bytes read)"));
      }
      const char* data = buffer_.data();
      while (n > 0) {
        la_ssize_t w = archive_write_data(a_, data, static_cast<size_t>(n));
        if (w <= 0) return Error("data of", path);
        data += w;
        n -= w;
        remaining -= w;
      }
    }
  }

  struct archive* a_;
  SinkContext* ctx_;
  const LayerWriteOptions& options_;
  std::vector<char> buffer_;
};

}  // namespace

absl::StatusOr<WrittenLayer> WriteLayer(std::vector<LayerEntry> entries,
                                        const LayerWriteOptions& options, BlobStore& store,
                                        ImageIndex* index) {
  SLIPWAY_ASSIGN_OR_RETURN(std::vector<Planned> plan, Plan(entries));
  SLIPWAY_ASSIGN_OR_RETURN(std::unique_ptr<BlobWriter> blob, store.NewWriter());
  SinkContext ctx;
  BlobWriter* blob_ptr = blob.get();
  SLIPWAY_ASSIGN_OR_RETURN(
      std::unique_ptr<LayerCompressor> compressor,
      LayerCompressor::Create(options.compression, options.level,
                              [blob_ptr](absl::string_view d) { return blob_ptr->Append(d); }));
  ctx.compressor = compressor.get();

  struct archive* a = archive_write_new();
  if (a == nullptr) return absl::ResourceExhaustedError("archive_write_new failed");
  bool closed = false;
  absl::Cleanup free_archive = [a, &closed] {
    // An unfinished archive must not get its trailer written by archive_write_free.
    if (!closed) archive_write_fail(a);
    archive_write_free(a);
  };
  // pax "restricted": plain ustar headers unless a name, size, id or xattr needs an extended
  // header; xattrs only as SCHILY.xattr (what GNU tar, Go and BuildKit read and write).
  if (archive_write_set_format_pax_restricted(a) != ARCHIVE_OK ||
      archive_write_set_format_option(a, "pax", "xattrheader", "SCHILY") != ARCHIVE_OK ||
      archive_write_open(a, &ctx, nullptr, WriteCallback, nullptr) != ARCHIVE_OK) {
    return absl::InternalError(absl::StrCat("libarchive: ", archive_error_string(a)));
  }
  LayerTar tar(a, &ctx, options);
  for (size_t i = 0; i < plan.size(); ++i) {
    SLIPWAY_RETURN_IF_ERROR(tar.Add(plan[i], entries[i].path));
  }
  closed = true;
  if (archive_write_close(a) != ARCHIVE_OK) return tar.Error("end of", "archive");
  SLIPWAY_RETURN_IF_ERROR(ctx.error);
  SLIPWAY_RETURN_IF_ERROR(compressor->Finish());

  Digest diff_id = ctx.tar_hash.Finish();
  SLIPWAY_ASSIGN_OR_RETURN(BlobInfo info, blob->Commit());
  std::string media_type(options.compression == LayerCompressionKind::kGzip
                             ? media::kOciLayerGzip
                             : media::kOciLayerZstd);
  WrittenLayer out{Descriptor{std::move(media_type), info.digest, info.size, {}}, diff_id,
                   ctx.tar_bytes};
  if (index != nullptr) {
    LayerCompression mapping{out.diff_id, out.blob, out.uncompressed_size};
    SLIPWAY_RETURN_IF_ERROR(index->RecordLayerCompression(mapping));
  }
  return out;
}

}  // namespace slipway::build
