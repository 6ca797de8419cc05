// SqliteImageIndex, part 1: images, tags and opening the file (see sqlite_image_index.h).

#include "storage/sqlite_image_index.h"

#include <map>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "nlohmann/json.hpp"
#include "storage/sqlite_index_schema.h"
#include "storage/status_macros.h"

namespace slipway {
namespace {

using Tx = SqliteTransaction;

std::string AnnotationsToJson(const std::map<std::string, std::string>& annotations) {
  nlohmann::json j = nlohmann::json::object();
  for (const auto& [k, v] : annotations) j[k] = v;
  return j.dump();
}

// Annotations are our own JSON; anything unreadable is dropped rather than failing a read.
std::map<std::string, std::string> AnnotationsFromJson(const std::string& text) {
  std::map<std::string, std::string> out;
  nlohmann::json j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) return out;
  for (auto it = j.begin(); it != j.end(); ++it) {
    if (it.value().is_string()) out[it.key()] = it.value().get<std::string>();
  }
  return out;
}

// Checks a record before any row is written: everything the image names must be among the
// blobs it is recorded with, and one digest always has one size.
absl::Status ValidateImage(const ImageRecord& image, const std::vector<Descriptor>& blobs,
                           absl::flat_hash_map<Digest, const Descriptor*>& by_digest) {
  const std::string name = image.manifest.digest.ToString();
  if (image.manifest.media_type.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("image ", name, ": manifest media type is empty"));
  }
  if (image.total_size < 0) {
    return absl::InvalidArgumentError(absl::StrCat("image ", name, ": negative total_size"));
  }
  for (const Descriptor& b : blobs) {
    if (b.size < 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("image ", name, ": blob ", b.digest.ToString(), " has negative size"));
    }
    auto [it, inserted] = by_digest.emplace(b.digest, &b);
    if (!inserted && it->second->size != b.size) {
      return absl::InvalidArgumentError(absl::StrCat("image ", name, ": blob ", b.digest.ToString(),
                                                     " listed with sizes ", it->second->size,
                                                     " and ", b.size));
    }
  }
  auto require = [&](const Digest& d, int64_t size, absl::string_view role) -> absl::Status {
    auto it = by_digest.find(d);
    if (it == by_digest.end()) {
      return absl::InvalidArgumentError(absl::StrCat("image ", name, ": ", role, " ",
                                                     d.ToString(), " is not among its blobs"));
    }
    if (size >= 0 && it->second->size != size) {
      return absl::InvalidArgumentError(absl::StrCat("image ", name, ": ", role, " ", d.ToString(),
                                                     " has size ", size, " but its blob has ",
                                                     it->second->size));
    }
    return absl::OkStatus();
  };
  SLIPWAY_RETURN_IF_ERROR(require(image.manifest.digest, image.manifest.size, "manifest"));
  if (image.config.has_value()) SLIPWAY_RETURN_IF_ERROR(require(*image.config, -1, "config"));
  for (const Descriptor& layer : image.layers) {
    SLIPWAY_RETURN_IF_ERROR(require(layer.digest, layer.size, "layer"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<Digest> SqliteImageIndex::StoredDigest(absl::string_view text,
                                                      absl::string_view where) {
  absl::StatusOr<Digest> d = Digest::Parse(text);
  if (!d.ok()) {
    return absl::DataLossError(absl::StrCat("index row ", where, ": ", d.status().message()));
  }
  return d;
}

// ---- images and tags ----

absl::Status SqliteImageIndex::PutImage(const ImageRecord& image,
                                        const std::vector<Descriptor>& blobs) {
  absl::flat_hash_map<Digest, const Descriptor*> by_digest;
  SLIPWAY_RETURN_IF_ERROR(ValidateImage(image, blobs, by_digest));
  int64_t total = image.total_size;
  if (total == 0) {
    for (const auto& [digest, d] : by_digest) total += d->size;
  }
  const std::string manifest = image.manifest.digest.ToString();
  const int64_t now = now_unix_();
  std::vector<Digest> distinct;
  for (const auto& [digest, d] : by_digest) distinct.push_back(digest);

  absl::MutexLock lock(&mu_);
  SLIPWAY_ASSIGN_OR_RETURN(auto tx, Tx::Begin(*db_));
  SLIPWAY_ASSIGN_OR_RETURN(bool exists, ImageExistsLocked(manifest));
  // Same digest, same bytes: an existing record already says everything this one would. Its
  // created_unix is kept, so re-importing an image does not make it "newest".
  if (!exists) {
    SLIPWAY_ASSIGN_OR_RETURN(auto insert, db_->Prepare(
        "INSERT INTO images (manifest_digest, media_type, size, annotations, config_digest, os,"
        " architecture, variant, total_size, created_unix) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"));
    insert.Bind(1, manifest).Bind(2, image.manifest.media_type).Bind(3, image.manifest.size)
        .Bind(4, AnnotationsToJson(image.manifest.annotations));
    if (image.config.has_value()) {
      insert.Bind(5, image.config->ToString());
    } else {
      insert.BindNull(5);
    }
    insert.Bind(6, image.os).Bind(7, image.architecture).Bind(8, image.variant).Bind(9, total)
        .Bind(10, now);
    SLIPWAY_RETURN_IF_ERROR(insert.Run());

    SLIPWAY_ASSIGN_OR_RETURN(auto layer, db_->Prepare(
        "INSERT INTO image_layers (manifest_digest, position, digest, media_type, size,"
        " annotations) VALUES (?, ?, ?, ?, ?, ?)"));
    for (size_t i = 0; i < image.layers.size(); ++i) {
      const Descriptor& l = image.layers[i];
      layer.Reset();
      SLIPWAY_RETURN_IF_ERROR(layer.Bind(1, manifest).Bind(2, static_cast<int64_t>(i))
                                  .Bind(3, l.digest.ToString()).Bind(4, l.media_type)
                                  .Bind(5, l.size).Bind(6, AnnotationsToJson(l.annotations))
                                  .Run());
    }
    SLIPWAY_ASSIGN_OR_RETURN(auto blob, db_->Prepare(
        "INSERT OR IGNORE INTO image_blobs (manifest_digest, blob_digest, media_type, size)"
        " VALUES (?, ?, ?, ?)"));
    for (const Descriptor& b : blobs) {
      blob.Reset();
      SLIPWAY_RETURN_IF_ERROR(blob.Bind(1, manifest).Bind(2, b.digest.ToString())
                                  .Bind(3, b.media_type).Bind(4, b.size).Run());
    }
  }
  // Referenced again: the blobs count as used now (LRU eviction order once unreferenced).
  SLIPWAY_RETURN_IF_ERROR(TouchLocked(distinct, now));
  return tx->Commit();
}

absl::StatusOr<bool> SqliteImageIndex::ImageExistsLocked(const std::string& manifest) const {
  SLIPWAY_ASSIGN_OR_RETURN(auto q, db_->Prepare("SELECT 1 FROM images WHERE manifest_digest = ?"));
  q.Bind(1, manifest);
  return q.Step();
}

absl::StatusOr<ImageRecord> SqliteImageIndex::LoadLocked(const std::string& manifest) const {
  SLIPWAY_ASSIGN_OR_RETURN(auto q, db_->Prepare(
      "SELECT media_type, size, annotations, config_digest, os, architecture, variant,"
      " total_size, created_unix FROM images WHERE manifest_digest = ?"));
  q.Bind(1, manifest);
  SLIPWAY_ASSIGN_OR_RETURN(bool found, q.Step());
  if (!found) return absl::NotFoundError(absl::StrCat("no image ", manifest));
  SLIPWAY_ASSIGN_OR_RETURN(Digest digest, StoredDigest(manifest, "images.manifest_digest"));
  ImageRecord r{Descriptor{q.ColumnText(0), digest, q.ColumnInt64(1),
                           AnnotationsFromJson(q.ColumnText(2))},
                std::nullopt, {}, "", "", "", 0, 0, {}};
  if (!q.ColumnIsNull(3)) {
    SLIPWAY_ASSIGN_OR_RETURN(r.config, StoredDigest(q.ColumnText(3), "images.config_digest"));
  }
  r.os = q.ColumnText(4);
  r.architecture = q.ColumnText(5);
  r.variant = q.ColumnText(6);
  r.total_size = q.ColumnInt64(7);
  r.created_unix = q.ColumnInt64(8);

  SLIPWAY_ASSIGN_OR_RETURN(auto layers, db_->Prepare(
      "SELECT digest, media_type, size, annotations FROM image_layers WHERE manifest_digest = ?"
      " ORDER BY position"));
  layers.Bind(1, manifest);
  for (;;) {
    SLIPWAY_ASSIGN_OR_RETURN(bool row, layers.Step());
    if (!row) break;
    SLIPWAY_ASSIGN_OR_RETURN(Digest d, StoredDigest(layers.ColumnText(0), "image_layers.digest"));
    r.layers.push_back(Descriptor{layers.ColumnText(1), d, layers.ColumnInt64(2),
                                  AnnotationsFromJson(layers.ColumnText(3))});
  }
  SLIPWAY_ASSIGN_OR_RETURN(auto tags, db_->Prepare(
      "SELECT tag FROM tags WHERE manifest_digest = ? ORDER BY tag"));
  tags.Bind(1, manifest);
  for (;;) {
    SLIPWAY_ASSIGN_OR_RETURN(bool row, tags.Step());
    if (!row) break;
    r.tags.push_back(tags.ColumnText(0));
  }
  return r;
}

absl::StatusOr<ImageRecord> SqliteImageIndex::Resolve(absl::string_view ref) const {
  std::string manifest;
  absl::MutexLock lock(&mu_);
  SLIPWAY_ASSIGN_OR_RETURN(auto tx, Tx::Begin(*db_, Tx::Kind::kRead));
  if (absl::StartsWith(ref, "sha256:")) {
    SLIPWAY_ASSIGN_OR_RETURN(Digest d, Digest::Parse(ref));  // INVALID_ARGUMENT when malformed
    manifest = d.ToString();
  } else {
    SLIPWAY_ASSIGN_OR_RETURN(auto q,
                             db_->Prepare("SELECT manifest_digest FROM tags WHERE tag = ?"));
    q.Bind(1, ref);
    SLIPWAY_ASSIGN_OR_RETURN(bool found, q.Step());
    if (!found) return absl::NotFoundError(absl::StrCat("no image tagged \"", ref, "\""));
    manifest = q.ColumnText(0);
  }
  return LoadLocked(manifest);
}

absl::StatusOr<std::vector<ImageRecord>> SqliteImageIndex::List() const {
  absl::MutexLock lock(&mu_);
  SLIPWAY_ASSIGN_OR_RETURN(auto tx, Tx::Begin(*db_, Tx::Kind::kRead));
  // rowid breaks ties between images recorded within the same second: later insert first.
  SLIPWAY_ASSIGN_OR_RETURN(auto q, db_->Prepare(
      "SELECT manifest_digest FROM images ORDER BY created_unix DESC, rowid DESC"));
  std::vector<std::string> digests;
  for (;;) {
    SLIPWAY_ASSIGN_OR_RETURN(bool row, q.Step());
    if (!row) break;
    digests.push_back(q.ColumnText(0));
  }
  std::vector<ImageRecord> out;
  out.reserve(digests.size());
  for (const std::string& d : digests) {
    SLIPWAY_ASSIGN_OR_RETURN(ImageRecord r, LoadLocked(d));
    out.push_back(std::move(r));
  }
  return out;
}

absl::Status SqliteImageIndex::Tag(absl::string_view tag, const Digest& manifest) {
  if (tag.empty()) return absl::InvalidArgumentError("tag is empty");
  if (absl::StartsWith(tag, "sha256:")) {
    // Resolve() reads "sha256:..." as a digest; such a tag could never be found again.
    return absl::InvalidArgumentError(absl::StrCat("tag \"", tag, "\" looks like a digest"));
  }
  absl::MutexLock lock(&mu_);
  SLIPWAY_ASSIGN_OR_RETURN(auto tx, Tx::Begin(*db_));
  SLIPWAY_ASSIGN_OR_RETURN(bool exists, ImageExistsLocked(manifest.ToString()));
  if (!exists) {
    return absl::NotFoundError(
        absl::StrCat("cannot tag \"", tag, "\": no image ", manifest.ToString()));
  }
  SLIPWAY_ASSIGN_OR_RETURN(auto q, db_->Prepare(
      "INSERT INTO tags (tag, manifest_digest) VALUES (?, ?)"
      " ON CONFLICT (tag) DO UPDATE SET manifest_digest = excluded.manifest_digest"));
  SLIPWAY_RETURN_IF_ERROR(q.Bind(1, tag).Bind(2, manifest.ToString()).Run());
  return tx->Commit();
}

absl::Status SqliteImageIndex::Untag(absl::string_view tag) {
  absl::MutexLock lock(&mu_);
  SLIPWAY_ASSIGN_OR_RETURN(auto tx, Tx::Begin(*db_));
  SLIPWAY_ASSIGN_OR_RETURN(auto q, db_->Prepare("DELETE FROM tags WHERE tag = ?"));
  SLIPWAY_RETURN_IF_ERROR(q.Bind(1, tag).Run());
  if (db_->Changes() == 0) return absl::NotFoundError(absl::StrCat("no tag \"", tag, "\""));
  return tx->Commit();
}

absl::StatusOr<std::vector<std::string>> SqliteImageIndex::DeleteImage(const Digest& manifest) {
  const std::string m = manifest.ToString();
  absl::MutexLock lock(&mu_);
  SLIPWAY_ASSIGN_OR_RETURN(auto tx, Tx::Begin(*db_));
  std::vector<std::string> tags;
  SLIPWAY_ASSIGN_OR_RETURN(auto q, db_->Prepare(
      "SELECT tag FROM tags WHERE manifest_digest = ? ORDER BY tag"));
  q.Bind(1, m);
  for (;;) {
    SLIPWAY_ASSIGN_OR_RETURN(bool row, q.Step());
    if (!row) break;
    tags.push_back(q.ColumnText(0));
  }
  // Layers, blob references and tags go with the image (ON DELETE CASCADE).
  SLIPWAY_ASSIGN_OR_RETURN(auto del, db_->Prepare("DELETE FROM images WHERE manifest_digest = ?"));
  SLIPWAY_RETURN_IF_ERROR(del.Bind(1, m).Run());
  if (db_->Changes() == 0) return absl::NotFoundError(absl::StrCat("no image ", m));
  SLIPWAY_RETURN_IF_ERROR(tx->Commit());
  return tags;
}

absl::StatusOr<std::vector<Descriptor>> SqliteImageIndex::ImageBlobs(const Digest& manifest) const {
  const std::string m = manifest.ToString();
  absl::MutexLock lock(&mu_);
  SLIPWAY_ASSIGN_OR_RETURN(auto tx, Tx::Begin(*db_, Tx::Kind::kRead));
  SLIPWAY_ASSIGN_OR_RETURN(bool exists, ImageExistsLocked(m));
  if (!exists) return absl::NotFoundError(absl::StrCat("no image ", m));
  SLIPWAY_ASSIGN_OR_RETURN(auto q, db_->Prepare(
      "SELECT blob_digest, media_type, size FROM image_blobs WHERE manifest_digest = ?"
      " ORDER BY blob_digest"));
  q.Bind(1, m);
  std::vector<Descriptor> out;
  for (;;) {
    SLIPWAY_ASSIGN_OR_RETURN(bool row, q.Step());
    if (!row) break;
    SLIPWAY_ASSIGN_OR_RETURN(Digest d, StoredDigest(q.ColumnText(0), "image_blobs.blob_digest"));
    out.push_back(Descriptor{q.ColumnText(1), d, q.ColumnInt64(2), {}});
  }
  return out;
}

// ---- opening ----

absl::StatusOr<std::unique_ptr<ImageIndex>> OpenSqliteImageIndex(
    const SqliteImageIndexOptions& options) {
  if (options.path.empty()) return absl::InvalidArgumentError("index path is empty");
  std::function<int64_t()> now = options.now_unix;
  if (!now) now = [] { return absl::ToUnixSeconds(absl::Now()); };

  SLIPWAY_ASSIGN_OR_RETURN(std::unique_ptr<SqliteDb> db, SqliteDb::Open(options.path));
  // Another process (a second slipwayd, an operator's sqlite3 shell) may hold the write lock
  // briefly; wait instead of failing at once.
  SLIPWAY_RETURN_IF_ERROR(db->Exec("PRAGMA busy_timeout = 10000"));
  // Refuse a newer release's file before changing anything in it (even its journal mode).
  SLIPWAY_RETURN_IF_ERROR(CheckIndexSchemaReadable(*db));
  SLIPWAY_ASSIGN_OR_RETURN(std::string mode, db->QueryText("PRAGMA journal_mode = WAL"));
  if (mode != "wal") {
    return absl::FailedPreconditionError(absl::StrCat(
        "index ", options.path, ": cannot use WAL journaling (got \"", mode,
        "\"); the data dir must be on a local filesystem"));
  }
  // FULL, not NORMAL: in WAL mode NORMAL may lose the last commits on power loss. Losing an
  // insert only orphans durable blobs (GC reclaims them), but losing a DeleteImage or Untag
  // after GC has already unlinked the image's blobs would leave rows pointing at blobs that no
  // longer exist, and a reported build or tag would silently vanish. Writes here are a few per
  // build or push, so one fsync per commit costs nothing that matters. Blobs are fsynced by the
  // BlobStore before any row that names them is committed.
  SLIPWAY_RETURN_IF_ERROR(db->Exec("PRAGMA synchronous = FULL"));
  SLIPWAY_RETURN_IF_ERROR(db->Exec("PRAGMA foreign_keys = ON"));
  SLIPWAY_ASSIGN_OR_RETURN(int version, MigrateIndexSchema(*db, now()));
  return std::unique_ptr<ImageIndex>(new SqliteImageIndex(std::move(db), std::move(now), version));
}

}  // namespace slipway
