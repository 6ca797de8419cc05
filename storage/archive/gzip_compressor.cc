#include "storage/archive/gzip_compressor.h"

#include <isa-l/igzip_lib.h>

#include <algorithm>
#include <vector>

#include "absl/strings/str_cat.h"
#include "storage/status_macros.h"

namespace slipway {

struct GzipCompressor::Impl {
  isal_zstream stream;
  std::vector<uint8_t> level_buf;
};

namespace {

constexpr size_t kOutBufSize = 256 << 10;

size_t LevelBufSize(int level) {
  switch (level) {
    case 0: return ISAL_DEF_LVL0_DEFAULT;
    case 1: return ISAL_DEF_LVL1_DEFAULT;
    case 2: return ISAL_DEF_LVL2_DEFAULT;
    default: return ISAL_DEF_LVL3_DEFAULT;
  }
}

}  // namespace

absl::StatusOr<std::unique_ptr<GzipCompressor>> GzipCompressor::Create(int level,
                                                                       OutputFn output) {
  if (level < 0) {
    return absl::InvalidArgumentError(absl::StrCat("gzip level ", level, " is negative"));
  }
  if (!output) return absl::InvalidArgumentError("gzip compressor needs an output function");
  level = std::min(level, ISAL_DEF_MAX_LEVEL);
  auto impl = std::make_unique<Impl>();
  isal_deflate_init(&impl->stream);
  impl->level_buf.resize(std::max<size_t>(LevelBufSize(level), 1));
  impl->stream.level = level;
  impl->stream.level_buf = impl->level_buf.data();
  impl->stream.level_buf_size = static_cast<uint32_t>(impl->level_buf.size());
  impl->stream.gzip_flag = IGZIP_GZIP;
  impl->stream.flush = NO_FLUSH;
  impl->stream.end_of_stream = 0;
  return std::unique_ptr<GzipCompressor>(new GzipCompressor(std::move(impl), std::move(output)));
}

GzipCompressor::GzipCompressor(std::unique_ptr<Impl> impl, OutputFn output)
    : impl_(std::move(impl)), output_(std::move(output)) {
  block_.reserve(kBlockSize);
  out_buf_.resize(kOutBufSize);
}

GzipCompressor::~GzipCompressor() = default;

absl::Status GzipCompressor::Write(absl::string_view data) {
  if (finished_) return absl::FailedPreconditionError("gzip compressor already finished");
  SLIPWAY_RETURN_IF_ERROR(error_);
  bytes_in_ += data.size();
  while (!data.empty()) {
    size_t take = std::min(kBlockSize - block_.size(), data.size());
    block_.append(data.data(), take);
    data.remove_prefix(take);
    if (block_.size() == kBlockSize) {
      error_ = Deflate(/*end_of_stream=*/false);
      SLIPWAY_RETURN_IF_ERROR(error_);
    }
  }
  return absl::OkStatus();
}

absl::Status GzipCompressor::Finish() {
  if (finished_) return absl::FailedPreconditionError("gzip compressor already finished");
  SLIPWAY_RETURN_IF_ERROR(error_);
  finished_ = true;
  error_ = Deflate(/*end_of_stream=*/true);
  return error_;
}

// Hands exactly the buffered block to ISA-L and drains all output it produces. Because every
// call sees the same block boundaries for the same input, the output is reproducible.
absl::Status GzipCompressor::Deflate(bool end_of_stream) {
  isal_zstream& s = impl_->stream;
  s.next_in = reinterpret_cast<uint8_t*>(block_.data());
  s.avail_in = static_cast<uint32_t>(block_.size());
  s.end_of_stream = end_of_stream ? 1 : 0;
  for (;;) {
    s.next_out = reinterpret_cast<uint8_t*>(out_buf_.data());
    s.avail_out = static_cast<uint32_t>(out_buf_.size());
    int rc = isal_deflate(&s);
    if (rc != COMP_OK) {
      return absl::InternalError(absl::StrCat("isal_deflate failed with code ", rc));
    }
    size_t produced = out_buf_.size() - s.avail_out;
    if (produced > 0) {
      bytes_out_ += produced;
      SLIPWAY_RETURN_IF_ERROR(output_(absl::string_view(out_buf_.data(), produced)));
    }
    bool done = end_of_stream ? s.internal_state.state == ZSTATE_END
                              : (s.avail_in == 0 && s.avail_out != 0);
    if (done) break;
  }
  block_.clear();
  return absl::OkStatus();
}

absl::StatusOr<std::string> GzipCompress(absl::string_view data, int level) {
  std::string out;
  SLIPWAY_ASSIGN_OR_RETURN(auto gz, GzipCompressor::Create(level, [&out](absl::string_view d) {
                             out.append(d.data(), d.size());
                             return absl::OkStatus();
                           }));
  SLIPWAY_RETURN_IF_ERROR(gz->Write(data));
  SLIPWAY_RETURN_IF_ERROR(gz->Finish());
  return out;
}

}  // namespace slipway
