#include "storage/archive/staged_archive.h"

#include <archive.h>
#include <archive_entry.h>

#include <cerrno>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "storage/archive/archive_paths.h"
#include "storage/archive/gzip_compressor.h"
#include "storage/status_macros.h"

namespace slipway {
namespace {

constexpr size_t kSniffBytes = 512;
constexpr int kMaxLinkHops = 16;

bool IsMetadataName(absl::string_view name) {
  absl::string_view base = name.substr(name.rfind('/') == absl::string_view::npos
                                           ? 0
                                           : name.rfind('/') + 1);
  return base == "manifest.json" || base == "index.json" || base == "oci-layout" ||
         base == "repositories" || absl::EndsWith(base, ".json");
}

struct ReadContext {
  ByteSource* source = nullptr;
  absl::Status error;
  int64_t bytes = 0;
};

la_ssize_t ReadCallback(struct archive* a, void* opaque, const void** buf) {
  auto* ctx = static_cast<ReadContext*>(opaque);
  absl::StatusOr<absl::string_view> chunk = ctx->source->Next();
  if (!chunk.ok()) {
    ctx->error = chunk.status();
    archive_set_error(a, EIO, "reading the archive stream failed");
    return -1;
  }
  *buf = chunk->data();
  ctx->bytes += static_cast<int64_t>(chunk->size());
  return static_cast<la_ssize_t>(chunk->size());
}

struct ArchiveDeleter {
  void operator()(struct archive* a) const { archive_read_free(a); }
};

// Streams one regular file into its holding (see StagedEntry).
class EntryStager {
 public:
  EntryStager(std::string name, int64_t declared_size, BlobStore& blobs, int gzip_level,
              int64_t& memory_used)
      : declared_size_(declared_size),
        blobs_(blobs),
        gzip_level_(gzip_level),
        memory_used_(memory_used) {
    entry_.name = std::move(name);
  }

  absl::Status Write(absl::string_view data) {
    if (!decided_) {
      size_t take = std::min(kSniffBytes - prefix_.size(), data.size());
      prefix_.append(data.data(), take);
      data.remove_prefix(take);
      if (prefix_.size() < kSniffBytes) return absl::OkStatus();
      SLIPWAY_RETURN_IF_ERROR(Decide());
      std::string first = std::move(prefix_);
      prefix_.clear();
      SLIPWAY_RETURN_IF_ERROR(Consume(first));
    }
    return Consume(data);
  }

  absl::StatusOr<StagedEntry> Finish() {
    if (!decided_) {
      SLIPWAY_RETURN_IF_ERROR(Decide());
      std::string first = std::move(prefix_);
      SLIPWAY_RETURN_IF_ERROR(Consume(first));
    }
    switch (entry_.holding) {
      case StagedEntry::Holding::kMemory:
        entry_.digest = Sha256Of(entry_.bytes);
        entry_.size = static_cast<int64_t>(entry_.bytes.size());
        break;
      case StagedEntry::Holding::kStoredAsIs: {
        SLIPWAY_ASSIGN_OR_RETURN(BlobInfo info, entry_.writer->Finish());
        entry_.digest = info.digest;
        entry_.size = info.size;
        entry_.stored = info;
        if (decompressor_ != nullptr) {
          absl::Status s = decompressor_->Finish();
          if (s.ok()) {
            entry_.diff_id = diff_hasher_->Finish();
            entry_.uncompressed_size = decompressor_->bytes_out();
          } else {
            entry_.diff_id_error = s;
          }
        }
        break;
      }
      case StagedEntry::Holding::kCompressedByUs: {
        SLIPWAY_RETURN_IF_ERROR(compressor_->Finish());
        SLIPWAY_ASSIGN_OR_RETURN(BlobInfo info, entry_.writer->Finish());
        entry_.stored = info;
        entry_.size = raw_hasher_->bytes();
        entry_.digest = raw_hasher_->Finish();
        entry_.diff_id = entry_.digest;
        entry_.uncompressed_size = entry_.size;
        break;
      }
    }
    return std::move(entry_);
  }

 private:
  absl::Status Decide() {
    decided_ = true;
    entry_.content = SniffStreamKind(prefix_);
    switch (entry_.content) {
      case StreamKind::kTar: {
        entry_.holding = StagedEntry::Holding::kCompressedByUs;
        SLIPWAY_ASSIGN_OR_RETURN(entry_.writer, blobs_.NewWriter());
        raw_hasher_ = std::make_unique<Sha256Hasher>();
        BlobWriter* w = entry_.writer.get();
        SLIPWAY_ASSIGN_OR_RETURN(compressor_,
                                 GzipCompressor::Create(gzip_level_, [w](absl::string_view d) {
                                   return w->Append(d);
                                 }));
        return absl::OkStatus();
      }
      case StreamKind::kGzip:
      case StreamKind::kZstd: {
        entry_.holding = StagedEntry::Holding::kStoredAsIs;
        SLIPWAY_ASSIGN_OR_RETURN(entry_.writer, blobs_.NewWriter());
        diff_hasher_ = std::make_unique<Sha256Hasher>();
        Sha256Hasher* h = diff_hasher_.get();
        decompressor_ = Decompressor::Create(entry_.name, [h](absl::string_view d) {
          h->Update(d);
          return absl::OkStatus();
        });
        return absl::OkStatus();
      }
      case StreamKind::kUnknown:
        break;
    }
    if (declared_size_ <= kMaxArchiveDocBytes) {
      memory_used_ += declared_size_;
      if (memory_used_ > kMaxArchiveMemoryBytes) {
        return absl::ResourceExhaustedError(absl::StrCat(
            "archive entry ", QuoteForError(entry_.name), ": small files in the archive exceed ",
            kMaxArchiveMemoryBytes, " bytes in total"));
      }
      entry_.holding = StagedEntry::Holding::kMemory;
      entry_.bytes.reserve(static_cast<size_t>(declared_size_));
      return absl::OkStatus();
    }
    if (IsMetadataName(entry_.name)) {
      return absl::ResourceExhaustedError(
          absl::StrCat("archive entry ", QuoteForError(entry_.name), " is ", declared_size_,
                       " bytes; documents are limited to ", kMaxArchiveDocBytes));
    }
    entry_.holding = StagedEntry::Holding::kStoredAsIs;
    SLIPWAY_ASSIGN_OR_RETURN(entry_.writer, blobs_.NewWriter());
    return absl::OkStatus();
  }

  absl::Status Consume(absl::string_view data) {
    if (data.empty()) return absl::OkStatus();
    switch (entry_.holding) {
      case StagedEntry::Holding::kMemory:
        if (entry_.bytes.size() + data.size() > static_cast<size_t>(kMaxArchiveDocBytes)) {
          return absl::ResourceExhaustedError(absl::StrCat(
              "archive entry ", QuoteForError(entry_.name), " exceeds ", kMaxArchiveDocBytes));
        }
        entry_.bytes.append(data.data(), data.size());
        return absl::OkStatus();
      case StagedEntry::Holding::kStoredAsIs:
        SLIPWAY_RETURN_IF_ERROR(entry_.writer->Append(data));
        if (decompressor_ != nullptr) {
          // Not fatal here: the entry may not be a layer at all. It matters only if a manifest
          // uses it as one, and then the recorded error is reported.
          absl::Status s = decompressor_->Write(data);
          if (!s.ok()) {
            entry_.diff_id_error = s;
            decompressor_.reset();
          }
        }
        return absl::OkStatus();
      case StagedEntry::Holding::kCompressedByUs:
        raw_hasher_->Update(data);
        return compressor_->Write(data);
    }
    return absl::InternalError("unreachable holding");
  }

  int64_t declared_size_;
  BlobStore& blobs_;
  int gzip_level_;
  int64_t& memory_used_;
  bool decided_ = false;
  std::string prefix_;
  StagedEntry entry_;
  std::unique_ptr<Sha256Hasher> raw_hasher_;
  std::unique_ptr<GzipCompressor> compressor_;
  std::unique_ptr<Decompressor> decompressor_;
  std::unique_ptr<Sha256Hasher> diff_hasher_;
};

absl::Status TarError(struct archive* a, const ReadContext& ctx, absl::string_view where) {
  if (!ctx.error.ok()) return ctx.error;
  const char* msg = archive_error_string(a);
  return absl::InvalidArgumentError(absl::StrCat("malformed tar archive ", where, ": ",
                                                 msg != nullptr ? msg : "unknown error"));
}

}  // namespace

absl::StatusOr<StagedEntry*> StagedArchive::Find(const std::string& name) {
  std::string current = name;
  for (int hop = 0; hop <= kMaxLinkHops; ++hop) {
    auto it = entries.find(current);
    if (it != entries.end()) return &it->second;
    auto link = links.find(current);
    if (link == links.end()) break;
    current = link->second;
  }
  if (links.count(current) > 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("archive entry ", QuoteForError(name), ": too many levels of links"));
  }
  return absl::NotFoundError(
      absl::StrCat("archive entry ", QuoteForError(name), " is not in the archive"));
}

absl::StatusOr<std::unique_ptr<StagedArchive>> StageArchive(ByteSource& source, BlobStore& blobs,
                                                            int gzip_level) {
  auto staged = std::make_unique<StagedArchive>();
  std::unique_ptr<struct archive, ArchiveDeleter> a(archive_read_new());
  if (a == nullptr) return absl::ResourceExhaustedError("archive_read_new failed");
  // The outer tar is always plain: compressed outer archives are not a format anyone hands us.
  archive_read_support_format_tar(a.get());
  ReadContext ctx;
  ctx.source = &source;
  if (archive_read_open(a.get(), &ctx, nullptr, ReadCallback, nullptr) != ARCHIVE_OK) {
    staged->bytes_received = ctx.bytes;
    return TarError(a.get(), ctx, "at the start");
  }
  int64_t memory_used = 0;
  std::string last_name = "(start of archive)";
  for (;;) {
    struct archive_entry* entry = nullptr;
    int rc = archive_read_next_header(a.get(), &entry);
    if (rc == ARCHIVE_EOF) break;
    if (rc < ARCHIVE_WARN) return TarError(a.get(), ctx, absl::StrCat("after entry ", last_name));
    const char* raw_name = archive_entry_pathname(entry);
    std::string raw = raw_name != nullptr ? raw_name : "";
    SLIPWAY_ASSIGN_OR_RETURN(std::string name, NormalizeEntryName(raw));
    last_name = QuoteForError(raw);
    if (staged->Has(name)) {
      return absl::InvalidArgumentError(
          absl::StrCat("archive entry ", QuoteForError(raw), " appears twice"));
    }
    if (const char* hardlink = archive_entry_hardlink(entry); hardlink != nullptr) {
      SLIPWAY_ASSIGN_OR_RETURN(std::string target, NormalizeEntryName(hardlink));
      staged->links[name] = target;
      continue;
    }
    mode_t type = archive_entry_filetype(entry);
    if (type == AE_IFDIR) continue;
    if (type == AE_IFLNK) {
      const char* target = archive_entry_symlink(entry);
      SLIPWAY_ASSIGN_OR_RETURN(std::string resolved,
                               ResolveLinkTarget(name, target != nullptr ? target : ""));
      staged->links[name] = resolved;
      continue;
    }
    if (type != AE_IFREG) {
      return absl::InvalidArgumentError(absl::StrCat(
          "archive entry ", QuoteForError(raw), " is not a regular file, directory or link"));
    }
    if (name.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("archive entry ", QuoteForError(raw), " has an empty name"));
    }
    if (archive_entry_sparse_count(entry) > 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("archive entry ", QuoteForError(raw), " is a sparse file"));
    }
    EntryStager stager(name, archive_entry_size(entry), blobs, gzip_level, memory_used);
    int64_t expected_offset = 0;
    for (;;) {
      const void* buf = nullptr;
      size_t size = 0;
      la_int64_t offset = 0;
      int r = archive_read_data_block(a.get(), &buf, &size, &offset);
      if (r == ARCHIVE_EOF) break;
      if (r < ARCHIVE_WARN) {
        return TarError(a.get(), ctx, absl::StrCat("in entry ", QuoteForError(raw)));
      }
      if (offset != expected_offset) {
        return absl::InvalidArgumentError(
            absl::StrCat("archive entry ", QuoteForError(raw), " has holes"));
      }
      expected_offset += static_cast<int64_t>(size);
      SLIPWAY_RETURN_IF_ERROR(stager.Write(absl::string_view(static_cast<const char*>(buf), size)));
    }
    SLIPWAY_ASSIGN_OR_RETURN(StagedEntry staged_entry, stager.Finish());
    staged->entries.emplace(name, std::move(staged_entry));
  }
  staged->bytes_received = ctx.bytes;
  return staged;
}

absl::Status CompressMemoryEntry(StagedEntry& entry, BlobStore& blobs, int gzip_level) {
  if (entry.holding != StagedEntry::Holding::kMemory) {
    return absl::InternalError(absl::StrCat("entry ", entry.name, " is not held in memory"));
  }
  SLIPWAY_ASSIGN_OR_RETURN(entry.writer, blobs.NewWriter());
  BlobWriter* w = entry.writer.get();
  SLIPWAY_ASSIGN_OR_RETURN(auto gz, GzipCompressor::Create(gzip_level, [w](absl::string_view d) {
                             return w->Append(d);
                           }));
  SLIPWAY_RETURN_IF_ERROR(gz->Write(entry.bytes));
  SLIPWAY_RETURN_IF_ERROR(gz->Finish());
  SLIPWAY_ASSIGN_OR_RETURN(BlobInfo info, entry.writer->Finish());
  entry.stored = info;
  entry.diff_id = entry.digest;
  entry.uncompressed_size = entry.size;
  entry.holding = StagedEntry::Holding::kCompressedByUs;
  entry.bytes.clear();
  return absl::OkStatus();
}

absl::Status StageMemoryEntryAsBlob(StagedEntry& entry, BlobStore& blobs) {
  if (entry.writer != nullptr) return absl::OkStatus();
  BlobWriterOptions options;
  options.expected_digest = entry.digest;
  options.expected_size = entry.size;
  SLIPWAY_ASSIGN_OR_RETURN(entry.writer, blobs.NewWriter(options));
  SLIPWAY_RETURN_IF_ERROR(entry.writer->Append(entry.bytes));
  SLIPWAY_ASSIGN_OR_RETURN(BlobInfo info, entry.writer->Finish());
  entry.stored = info;
  return absl::OkStatus();
}

}  // namespace slipway
