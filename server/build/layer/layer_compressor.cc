#include "server/build/layer/layer_compressor.h"

#include <zstd.h>

#include <algorithm>
#include <string>

#include "absl/strings/str_cat.h"
#include "storage/status_macros.h"

namespace slipway::build {
namespace {

class GzipLayerCompressor : public LayerCompressor {
 public:
  explicit GzipLayerCompressor(std::unique_ptr<GzipCompressor> gzip) : gzip_(std::move(gzip)) {}
  absl::Status Write(absl::string_view data) override { return gzip_->Write(data); }
  absl::Status Finish() override { return gzip_->Finish(); }

 private:
  std::unique_ptr<GzipCompressor> gzip_;
};

struct ZstdDeleter {
  void operator()(ZSTD_CCtx* c) const { ZSTD_freeCCtx(c); }
};

class ZstdLayerCompressor : public LayerCompressor {
 public:
  // Same block size as gzip: libzstd's output for one ZSTD_e_continue call may depend on where
  // the caller's chunks end, so it only ever sees whole blocks.
  static constexpr size_t kBlockSize = GzipCompressor::kBlockSize;

  ZstdLayerCompressor(std::unique_ptr<ZSTD_CCtx, ZstdDeleter> cctx, OutputFn output)
      : cctx_(std::move(cctx)), output_(std::move(output)) {
    block_.reserve(kBlockSize);
    out_.resize(ZSTD_CStreamOutSize());
  }

  absl::Status Write(absl::string_view data) override {
    if (finished_) return absl::FailedPreconditionError("zstd compressor already finished");
    SLIPWAY_RETURN_IF_ERROR(error_);
    while (!data.empty()) {
      size_t take = std::min(kBlockSize - block_.size(), data.size());
      block_.append(data.data(), take);
      data.remove_prefix(take);
      if (block_.size() == kBlockSize) {
        error_ = Compress(ZSTD_e_continue);
        SLIPWAY_RETURN_IF_ERROR(error_);
      }
    }
    return absl::OkStatus();
  }

  absl::Status Finish() override {
    if (finished_) return absl::FailedPreconditionError("zstd compressor already finished");
    SLIPWAY_RETURN_IF_ERROR(error_);
    finished_ = true;
    return Compress(ZSTD_e_end);
  }

 private:
  absl::Status Compress(ZSTD_EndDirective mode) {
    ZSTD_inBuffer in{block_.data(), block_.size(), 0};
    for (;;) {
      ZSTD_outBuffer out{out_.data(), out_.size(), 0};
      size_t remaining = ZSTD_compressStream2(cctx_.get(), &out, &in, mode);
      if (ZSTD_isError(remaining)) {
        return absl::InternalError(
            absl::StrCat("zstd compression failed: ", ZSTD_getErrorName(remaining)));
      }
      if (out.pos > 0) SLIPWAY_RETURN_IF_ERROR(output_(absl::string_view(out_.data(), out.pos)));
      bool done = mode == ZSTD_e_end ? remaining == 0 : in.pos == in.size;
      if (done) break;
    }
    block_.clear();
    return absl::OkStatus();
  }

  std::unique_ptr<ZSTD_CCtx, ZstdDeleter> cctx_;
  OutputFn output_;
  std::string block_;
  std::string out_;
  bool finished_ = false;
  absl::Status error_;  // sticky
};

}  // namespace

absl::StatusOr<std::unique_ptr<LayerCompressor>> LayerCompressor::Create(
    LayerCompressionKind kind, int level, OutputFn output) {
  if (kind == LayerCompressionKind::kGzip) {
    SLIPWAY_ASSIGN_OR_RETURN(auto gzip, GzipCompressor::Create(level, std::move(output)));
    return std::unique_ptr<LayerCompressor>(new GzipLayerCompressor(std::move(gzip)));
  }
  if (level < ZSTD_minCLevel() || level > ZSTD_maxCLevel()) {
    return absl::InvalidArgumentError(absl::StrCat("zstd level ", level, " is outside ",
                                                   ZSTD_minCLevel(), "..", ZSTD_maxCLevel()));
  }
  std::unique_ptr<ZSTD_CCtx, ZstdDeleter> cctx(ZSTD_createCCtx());
  if (cctx == nullptr) return absl::ResourceExhaustedError("ZSTD_createCCtx failed");
  size_t rc = ZSTD_CCtx_setParameter(cctx.get(), ZSTD_c_compressionLevel, level);
  if (!ZSTD_isError(rc)) rc = ZSTD_CCtx_setParameter(cctx.get(), ZSTD_c_checksumFlag, 1);
  if (ZSTD_isError(rc)) {
    return absl::InternalError(absl::StrCat("zstd setup failed: ", ZSTD_getErrorName(rc)));
  }
  return std::unique_ptr<LayerCompressor>(
      new ZstdLayerCompressor(std::move(cctx), std::move(output)));
}

}  // namespace slipway::build
