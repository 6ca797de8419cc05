// ImportImage and ExportImage: adapters between gRPC streams and the archive code's
// ByteSource / ByteSink, so tarballs stream through without being held whole.
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "server/common/status_mapping.h"
#include "server/service/rpc_scope.h"
#include "server/service/slipway_service.h"
#include "storage/archive/exporter.h"
#include "storage/archive/importer.h"
#include "storage/digest.h"
#include "storage/image_name.h"

namespace slipway {
namespace {

constexpr size_t kExportChunkBytes = 1 << 20;
// FindMissingBlobs answers at most this many digests per call (one tarball's entries).
constexpr int kMaxFindMissing = 100000;

// Pulls tar bytes from the ImportImage stream (after the options message).
class GrpcReaderSource : public ByteSource {
 public:
  GrpcReaderSource(grpc::ServerContext* context, grpc::ServerReader<v1::ImportImageRequest>* reader)
      : context_(context), reader_(reader) {}

  absl::StatusOr<absl::string_view> Next() override {
    // Empty data messages are legal on the wire; skip them instead of signalling the end.
    for (;;) {
      if (context_->IsCancelled()) return absl::CancelledError("the client cancelled the import");
      if (!reader_->Read(&message_)) {
        if (context_->IsCancelled()) return absl::CancelledError("the client cancelled the import");
        return absl::string_view();
      }
      if (message_.msg_case() != v1::ImportImageRequest::kData) {
        return absl::InvalidArgumentError(
            "options: only the first ImportImageRequest may carry options; the rest carry data");
      }
      if (message_.data().empty()) continue;
      bytes_ += static_cast<int64_t>(message_.data().size());
      return absl::string_view(message_.data());
    }
  }
  int64_t bytes() const { return bytes_; }

 private:
  grpc::ServerContext* context_;
  grpc::ServerReader<v1::ImportImageRequest>* reader_;
  v1::ImportImageRequest message_;
  int64_t bytes_ = 0;
};

// Buffers archive bytes into ~1 MiB ExportImageChunk messages. Write blocks under gRPC flow
// control, which is the back-pressure the exporter wants.
class GrpcWriterSink : public ByteSink {
 public:
  GrpcWriterSink(grpc::ServerContext* context, grpc::ServerWriter<v1::ExportImageChunk>* writer)
      : context_(context), writer_(writer) {
    buffer_.reserve(kExportChunkBytes);
  }

  absl::Status Write(absl::string_view data) override {
    while (!data.empty()) {
      size_t take = std::min(data.size(), kExportChunkBytes - buffer_.size());
      buffer_.append(data.data(), take);
      data.remove_prefix(take);
      if (buffer_.size() == kExportChunkBytes) {
        absl::Status s = Flush();
        if (!s.ok()) return s;
      }
    }
    return absl::OkStatus();
  }

  absl::Status Flush() {
    if (buffer_.empty()) return absl::OkStatus();
    if (context_->IsCancelled()) return absl::CancelledError("the client cancelled the export");
    chunk_.set_data(buffer_);
    if (!writer_->Write(chunk_)) {
      return absl::CancelledError("the client went away during the export");
    }
    bytes_ += static_cast<int64_t>(buffer_.size());
    buffer_.clear();
    return absl::OkStatus();
  }
  int64_t bytes() const { return bytes_; }

 private:
  grpc::ServerContext* context_;
  grpc::ServerWriter<v1::ExportImageChunk>* writer_;
  std::string buffer_;
  v1::ExportImageChunk chunk_;
  int64_t bytes_ = 0;
};

absl::StatusOr<ArchiveFormat> ToArchiveFormat(v1::ArchiveFormat format) {
  switch (format) {
    case v1::ARCHIVE_FORMAT_UNSPECIFIED:
    case v1::DOCKER_COMBINED:
      return ArchiveFormat::kDockerCombined;
    case v1::DOCKER_LEGACY:
      return ArchiveFormat::kDockerLegacy;
    case v1::OCI_ARCHIVE:
      return ArchiveFormat::kOciArchive;
    default:
      return absl::InvalidArgumentError(
          absl::StrCat("format: unknown archive format ", static_cast<int>(format)));
  }
}

}  // namespace

grpc::Status SlipwayService::ImportImage(grpc::ServerContext* context,
                                         grpc::ServerReader<v1::ImportImageRequest>* reader,
                                         v1::ImportImageResponse* response) {
  RpcScope scope("ImportImage", context, metrics_, request_ids_, *log_);
  v1::ImportImageRequest first;
  if (!reader->Read(&first)) {
    return scope.Finish(
        absl::InvalidArgumentError("options: the stream ended before ImportOptions"));
  }
  if (first.msg_case() != v1::ImportImageRequest::kOptions) {
    return scope.Finish(absl::InvalidArgumentError(
        "options: the first ImportImageRequest must carry ImportOptions"));
  }
  ImportOptions options;
  const v1::ImportOptions& in = first.options();
  for (int i = 0; i < in.tags_size(); ++i) {
    // Checked before any byte is read, so a typo fails fast, naming the tag.
    auto tag = NormalizeTag(in.tags(i));
    if (in.tags(i).empty()) tag = absl::InvalidArgumentError("must not be empty");
    if (!tag.ok()) return scope.Finish(WithField(tag.status(), absl::StrCat("tags[", i, "]")));
    options.tags.push_back(*tag);
  }
  options.select_tag = in.select_tag();
  options.ignore_archive_tags = in.ignore_archive_tags();
  for (int i = 0; i < in.present_size(); ++i) {
    auto digest = Digest::Parse(in.present(i).digest());
    if (!digest.ok()) {
      return scope.Finish(WithField(digest.status(), absl::StrCat("present[", i, "].digest")));
    }
    options.present.push_back({in.present(i).path(), *digest});
  }

  GrpcReaderSource source(context, reader);
  auto result = ImportArchive(source, options, blobs_, index_);
  metrics_.import_bytes().Increment(static_cast<double>(source.bytes()));
  if (!result.ok()) {
    if (context->IsCancelled()) return scope.Finish(absl::CancelledError("import cancelled"));
    return scope.Finish(result.status());
  }
  ToProto(result->image, response->mutable_image());
  response->set_bytes_received(result->bytes_received);
  response->set_blobs_stored(result->blobs_stored);
  response->set_blobs_present(result->blobs_present);
  response->set_layers_compressed(result->layers_compressed);
  response->set_entries_from_store(result->entries_from_store);
  response->set_bytes_from_store(result->bytes_from_store);
  scope.log().info(
      "[req={}] imported {} ({} bytes received, {} blobs new, {} present, {} entries from the "
      "store)",
      scope.id(), result->image.manifest.digest.ToString(), source.bytes(), result->blobs_stored,
      result->blobs_present, result->entries_from_store);
  RefreshStoreGauges();
  return scope.Finish(grpc::Status::OK);
}

grpc::Status SlipwayService::FindMissingBlobs(grpc::ServerContext* context,
                                              const v1::FindMissingBlobsRequest* request,
                                              v1::FindMissingBlobsResponse* response) {
  RpcScope scope("FindMissingBlobs", context, metrics_, request_ids_, *log_);
  if (request->digests_size() + request->diff_ids_size() > kMaxFindMissing) {
    return scope.Finish(absl::InvalidArgumentError(
        absl::StrCat("digests, diff_ids: ", request->digests_size() + request->diff_ids_size(),
                     " entries, at most ", kMaxFindMissing, " per call")));
  }
  std::vector<Digest> digests;
  for (int i = 0; i < request->digests_size(); ++i) {
    auto d = Digest::Parse(request->digests(i));
    if (!d.ok()) return scope.Finish(WithField(d.status(), absl::StrCat("digests[", i, "]")));
    digests.push_back(*d);
  }
  std::vector<Digest> diff_ids;
  for (int i = 0; i < request->diff_ids_size(); ++i) {
    auto d = Digest::Parse(request->diff_ids(i));
    if (!d.ok()) return scope.Finish(WithField(d.status(), absl::StrCat("diff_ids[", i, "]")));
    diff_ids.push_back(*d);
  }
  for (const Digest& d : blobs_.FindMissing(digests)) response->add_missing_digests(d.ToString());
  for (const Digest& d : diff_ids) {
    // Present only as the importer can use it: a recorded mapping of known size whose
    // compressed blob exists (see AddPresentEntries).
    auto known = index_.FindByDiffId(d);
    if (!known.ok() || known->uncompressed_size < 0 || !blobs_.Contains(known->compressed.digest)) {
      response->add_missing_diff_ids(d.ToString());
    }
  }
  return scope.Finish(grpc::Status::OK);
}

grpc::Status SlipwayService::ExportImage(grpc::ServerContext* context,
                                         const v1::ExportImageRequest* request,
                                         grpc::ServerWriter<v1::ExportImageChunk>* writer) {
  RpcScope scope("ExportImage", context, metrics_, request_ids_, *log_);
  auto format = ToArchiveFormat(request->format());
  if (!format.ok()) return scope.Finish(format.status());
  auto image = ResolveRef(request->ref());
  if (!image.ok()) return scope.Finish(image.status());

  ExportOptions options;
  options.format = *format;
  for (int i = 0; i < request->repo_tags_size(); ++i) {
    auto tag = NormalizeTag(request->repo_tags(i));
    if (!tag.ok()) {
      return scope.Finish(WithField(tag.status(), absl::StrCat("repo_tags[", i, "]")));
    }
    options.repo_tags.push_back(FamiliarTag(*tag));
  }
  if (options.repo_tags.empty()) {
    // `docker save app:1` names only app:1 in the archive; a digest ref names every tag.
    auto as_tag = NormalizeTag(request->ref());
    if (as_tag.ok() && request->ref().rfind("sha256:", 0) != 0) {
      options.repo_tags.push_back(FamiliarTag(*as_tag));
    } else {
      for (const auto& tag : image->tags) options.repo_tags.push_back(FamiliarTag(tag));
    }
  }

  GrpcWriterSink sink(context, writer);
  absl::Status s = ExportArchive(*image, options, blobs_, index_, sink);
  if (s.ok()) s = sink.Flush();
  metrics_.export_bytes().Increment(static_cast<double>(sink.bytes()));
  if (!s.ok()) {
    if (context->IsCancelled()) return scope.Finish(absl::CancelledError("export cancelled"));
    return scope.Finish(s);
  }
  scope.log().info("[req={}] exported {} ({} bytes)", scope.id(), image->manifest.digest.ToString(),
                   sink.bytes());
  return scope.Finish(grpc::Status::OK);
}

}  // namespace slipway
