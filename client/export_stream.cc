#include "client/export_stream.h"

#include <algorithm>
#include <cstring>

namespace slipway::client {
namespace {

// absl and gRPC share google.rpc.Code numbering; out-of-range codes become INTERNAL.
absl::Status FromGrpc(const grpc::Status& status) {
  if (status.ok()) return absl::OkStatus();
  int code = static_cast<int>(status.error_code());
  absl::StatusCode absl_code = code > 0 && code <= static_cast<int>(absl::StatusCode::kUnauthenticated)
                                   ? static_cast<absl::StatusCode>(code)
                                   : absl::StatusCode::kInternal;
  return absl::Status(absl_code, "ExportImage: " + (status.error_message().empty()
                                                        ? std::string("failed")
                                                        : status.error_message()));
}

}  // namespace

ExportStream::ExportStream(Connection& conn, const v1::ExportImageRequest& request)
    : ctx_(conn.NewContext()), reader_(conn.stub().ExportImage(ctx_.get(), request)) {}

ExportStream::~ExportStream() {
  if (!done_) {
    ctx_->TryCancel();
    reader_->Finish();
  }
}

void ExportStream::Cancel() {
  if (done_) return;
  ctx_->TryCancel();
  reader_->Finish();
  done_ = true;
  final_status_ = absl::CancelledError("ExportImage: cancelled by the client");
}

bool ExportStream::Fill() {
  while (!done_ && offset_ >= chunk_.data().size()) {
    offset_ = 0;
    if (!reader_->Read(&chunk_)) {
      done_ = true;
      final_status_ = FromGrpc(reader_->Finish());
      chunk_.Clear();
    }
  }
  return !done_;
}

absl::StatusOr<absl::string_view> ExportStream::Next() {
  if (!Fill()) {
    if (!final_status_.ok()) return final_status_;
    return absl::string_view();
  }
  absl::string_view rest = absl::string_view(chunk_.data()).substr(offset_);
  offset_ = chunk_.data().size();
  return rest;
}

absl::StatusOr<size_t> ExportStream::Read(char* buf, size_t cap) {
  if (cap == 0) return 0;
  if (!Fill()) {
    if (!final_status_.ok()) return final_status_;
    return 0;
  }
  size_t n = std::min(cap, chunk_.data().size() - offset_);
  std::memcpy(buf, chunk_.data().data() + offset_, n);
  offset_ += n;
  return n;
}

}  // namespace slipway::client
