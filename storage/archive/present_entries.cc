// Entries of a deduplicated import that the client did not stream: rebuilt from the store so
// the importer's plan and checks see the same StagedEntry a streamed entry would have produced.
#include "storage/archive/present_entries.h"

#include <set>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "storage/archive/archive_paths.h"
#include "storage/archive/decompressor.h"
#include "storage/status_macros.h"

namespace slipway {
namespace {

constexpr size_t kSniffBytes = 512;
constexpr size_t kReadChunk = 1 << 20;

absl::Status Vanished(const std::string& name, const Digest& digest, absl::string_view why) {
  return absl::FailedPreconditionError(
      absl::StrCat("present entry ", QuoteForError(name), " (", digest.ToString(), ") ", why,
                   "; send the entry in the tar stream"));
}

// Reads up to `n` bytes (fewer only at the end of the blob).
absl::StatusOr<std::string> ReadPrefix(BlobReader& reader, size_t n) {
  std::string out(n, '\0');
  size_t got = 0;
  while (got < n) {
    SLIPWAY_ASSIGN_OR_RETURN(size_t r, reader.Read(out.data() + got, n - got));
    if (r == 0) break;
    got += r;
  }
  out.resize(got);
  return out;
}

// The diff_id of a stored compressed layer, by decompressing it (when the index has no record,
// e.g. a layer that arrived compressed by an older slipwayd or was pulled).
absl::Status DiffIdFromStore(BlobReader& reader, const std::string& prefix, StagedEntry& entry) {
  Sha256Hasher hasher;
  auto decompressor = Decompressor::Create(entry.name, [&](absl::string_view data) {
    hasher.Update(data);
    return absl::OkStatus();
  });
  absl::Status s = decompressor->Write(prefix);
  std::string buffer(kReadChunk, '\0');
  while (s.ok()) {
    absl::StatusOr<size_t> n = reader.Read(buffer.data(), buffer.size());
    if (!n.ok()) return n.status();
    if (*n == 0) break;
    s = decompressor->Write(absl::string_view(buffer.data(), *n));
  }
  if (s.ok()) s = decompressor->Finish();
  if (!s.ok()) {
    entry.diff_id_error = s;  // the importer reports it as DATA_LOSS if this is a layer
    return absl::OkStatus();
  }
  entry.diff_id = hasher.Finish();
  entry.uncompressed_size = decompressor->bytes_out();
  return absl::OkStatus();
}

// `claim` names a stored blob: the entry is that blob.
absl::StatusOr<StagedEntry> FromBlob(const PresentEntryClaim& claim, const std::string& name,
                                     const BlobStore& blobs, const ImageIndex& index,
                                     int64_t& memory_used) {
  StagedEntry entry;
  entry.name = name;
  entry.digest = claim.digest;
  absl::StatusOr<std::unique_ptr<BlobReader>> reader = blobs.NewReader(claim.digest);
  if (absl::IsNotFound(reader.status())) {
    return Vanished(name, claim.digest, "is not in the store");
  }
  if (!reader.ok()) return reader.status();
  entry.size = (*reader)->size();
  SLIPWAY_ASSIGN_OR_RETURN(std::string prefix, ReadPrefix(**reader, kSniffBytes));
  entry.content = SniffStreamKind(prefix);
  switch (entry.content) {
    case StreamKind::kTar:
      // The store keeps layers compressed; an uncompressed tar blob would have to be compressed
      // here, which is what a streamed entry gets anyway.
      return Vanished(name, claim.digest, "is stored only as an uncompressed tar");
    case StreamKind::kGzip:
    case StreamKind::kZstd: {
      entry.holding = StagedEntry::Holding::kStoredAsIs;
      entry.stored = BlobInfo{claim.digest, entry.size};
      absl::StatusOr<LayerCompression> known = index.FindByCompressed(claim.digest);
      if (known.ok()) {
        entry.diff_id = known->diff_id;
        entry.uncompressed_size = known->uncompressed_size;
      } else {
        SLIPWAY_RETURN_IF_ERROR(DiffIdFromStore(**reader, prefix, entry));
      }
      return entry;
    }
    case StreamKind::kUnknown:
      break;
  }
  if (entry.size > kMaxArchiveDocBytes) {
    entry.holding = StagedEntry::Holding::kStoredAsIs;
    entry.stored = BlobInfo{claim.digest, entry.size};
    return entry;
  }
  memory_used += entry.size;
  if (memory_used > kMaxArchiveMemoryBytes) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "present entry ", QuoteForError(name), ": the archive's documents exceed ",
        kMaxArchiveMemoryBytes, " bytes in total"));
  }
  entry.holding = StagedEntry::Holding::kMemory;
  SLIPWAY_ASSIGN_OR_RETURN(entry.bytes, blobs.ReadSmall(claim.digest, kMaxArchiveDocBytes));
  if (Sha256Of(entry.bytes) != claim.digest) {
    return absl::DataLossError(absl::StrCat("stored blob ", claim.digest.ToString(),
                                            " does not match its digest"));
  }
  return entry;
}

// `claim` names an uncompressed layer by diff_id: the entry is the compressed layer the index
// recorded for it, described as if this import had compressed it.
absl::StatusOr<StagedEntry> FromDiffId(const PresentEntryClaim& claim, const std::string& name,
                                       const BlobStore& blobs, const ImageIndex& index) {
  absl::StatusOr<LayerCompression> known = index.FindByDiffId(claim.digest);
  if (absl::IsNotFound(known.status())) {
    return Vanished(name, claim.digest, "is not in the store");
  }
  if (!known.ok()) return known.status();
  if (known->uncompressed_size < 0) {
    return Vanished(name, claim.digest, "has a stored layer of unrecorded uncompressed size");
  }
  absl::StatusOr<int64_t> size = blobs.Stat(known->compressed.digest);
  if (!size.ok()) {
    return Vanished(name, claim.digest,
                    absl::StrCat("maps to ", known->compressed.digest.ToString(),
                                 ", which is not in the store"));
  }
  StagedEntry entry;
  entry.name = name;
  entry.holding = StagedEntry::Holding::kCompressedByUs;
  entry.content = absl::StrContains(known->compressed.media_type, "zstd") ? StreamKind::kZstd
                                                                          : StreamKind::kGzip;
  entry.digest = claim.digest;
  entry.size = known->uncompressed_size;
  entry.stored = BlobInfo{known->compressed.digest, *size};
  entry.diff_id = claim.digest;
  entry.uncompressed_size = known->uncompressed_size;
  return entry;
}

}  // namespace

absl::StatusOr<PresentEntriesStats> AddPresentEntries(const std::vector<PresentEntryClaim>& claims,
                                                      const BlobStore& blobs,
                                                      const ImageIndex& index,
                                                      StagedArchive& archive) {
  PresentEntriesStats stats;
  int64_t memory_used = 0;
  for (const auto& [name, e] : archive.entries) {
    if (e.holding == StagedEntry::Holding::kMemory) memory_used += e.size;
  }
  for (size_t i = 0; i < claims.size(); ++i) {
    const PresentEntryClaim& claim = claims[i];
    absl::StatusOr<std::string> name = NormalizeEntryName(claim.name);
    if (!name.ok() || name->empty()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "present[", i, "].path ", QuoteForError(claim.name), ": ",
          name.ok() ? "names the archive root" : name.status().message()));
    }
    if (archive.Has(*name)) {
      return absl::InvalidArgumentError(absl::StrCat("present[", i, "].path ",
                                                     QuoteForError(*name),
                                                     " is also in the tar stream or listed twice"));
    }
    absl::StatusOr<StagedEntry> entry;
    if (blobs.Contains(claim.digest)) {
      entry = FromBlob(claim, *name, blobs, index, memory_used);
    } else {
      entry = FromDiffId(claim, *name, blobs, index);
    }
    if (!entry.ok()) return entry.status();
    stats.entries++;
    stats.bytes += entry->size;
    archive.entries.emplace(*name, *std::move(entry));
  }
  return stats;
}

}  // namespace slipway
