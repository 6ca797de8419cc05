#include "server/build/layer/gzip_checked_source.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "storage/status_macros.h"

namespace slipway::build {
namespace {

// Compressed bytes inflated per step: deflate expands at most ~1032x, so one step yields at
// most ~16 MiB however hostile the input.
constexpr size_t kInflateStep = 16 << 10;

}  // namespace

GzipCheckedSource::GzipCheckedSource(ByteSource& in, std::string what,
                                     absl::StatusCode corrupt_code)
    : in_(in), what_(std::move(what)), corrupt_code_(corrupt_code) {}

GzipCheckedSource::~GzipCheckedSource() = default;

absl::StatusOr<absl::string_view> GzipCheckedSource::Next() {
  if (!started_) {
    started_ = true;
    // Gather enough bytes to sniff the magic (a source may hand out tiny chunks).
    while (first_.size() < 4) {
      SLIPWAY_ASSIGN_OR_RETURN(absl::string_view chunk, in_.Next());
      if (chunk.empty()) break;
      first_.append(chunk.data(), chunk.size());
    }
    gzip_ = SniffStreamKind(first_) == StreamKind::kGzip;
    if (gzip_) {
      decompressor_ = Decompressor::Create(what_, [this](absl::string_view d) {
        pending_.append(d.data(), d.size());
        return absl::OkStatus();
      });
      rest_ = first_;
    } else {
      return absl::string_view(first_);
    }
  }
  if (!gzip_) return in_.Next();
  return NextGzip();
}

absl::StatusOr<absl::string_view> GzipCheckedSource::NextGzip() {
  pending_.clear();
  while (pending_.empty() && !finished_) {
    if (rest_.empty()) {
      SLIPWAY_ASSIGN_OR_RETURN(rest_, in_.Next());
      if (rest_.empty()) {
        absl::Status s = decompressor_->Finish();
        if (!s.ok()) return absl::Status(corrupt_code_, s.message());
        finished_ = true;
        break;
      }
    }
    size_t take = std::min(rest_.size(), kInflateStep);
    absl::Status s = decompressor_->Write(rest_.substr(0, take));
    if (!s.ok()) return absl::Status(corrupt_code_, s.message());  // names what_ already
    rest_.remove_prefix(take);
  }
  std::swap(out_, pending_);
  return absl::string_view(out_);
}

}  // namespace slipway::build
