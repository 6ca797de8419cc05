#include "storage/archive/decompressor.h"

#include <isa-l/igzip_lib.h>
#include <zstd.h>

#include <cstring>
#include <vector>

#include "absl/strings/str_cat.h"
#include "storage/status_macros.h"

namespace slipway {
namespace {

constexpr size_t kOutBufSize = 256 << 10;
constexpr size_t kMagicBytes = 4;

absl::Status Corrupt(const std::string& name, int64_t offset, absl::string_view what) {
  return absl::DataLossError(
      absl::StrCat("decompressing ", name, ": ", what, " (at compressed byte ", offset, ")"));
}

class GzipBackend {
 public:
  explicit GzipBackend(std::string name) : name_(std::move(name)), out_(kOutBufSize) {
    state_ = std::make_unique<inflate_state>();
    isal_inflate_init(state_.get());
    state_->crc_flag = ISAL_GZIP;
  }

  absl::Status Write(absl::string_view data, const OutputFn& output, int64_t& bytes_out) {
    while (!data.empty()) {
      if (member_done_) {
        // Another gzip member follows (pigz, concatenated files) — or garbage.
        if (data[0] != '\x1f') return Corrupt(name_, consumed_, "trailing garbage after gzip data");
        isal_inflate_reset(state_.get());
        state_->crc_flag = ISAL_GZIP;
        member_done_ = false;
      }
      state_->next_in = reinterpret_cast<uint8_t*>(const_cast<char*>(data.data()));
      state_->avail_in = static_cast<uint32_t>(data.size());
      for (;;) {
        state_->next_out = out_.data();
        state_->avail_out = static_cast<uint32_t>(out_.size());
        int rc = isal_inflate(state_.get());
        if (rc < 0) {
          return Corrupt(name_, consumed_ + (data.size() - state_->avail_in),
                         absl::StrCat("invalid gzip data (ISA-L code ", rc, ")"));
        }
        size_t produced = out_.size() - state_->avail_out;
        if (produced > 0) {
          bytes_out += produced;
          SLIPWAY_RETURN_IF_ERROR(
              output(absl::string_view(reinterpret_cast<char*>(out_.data()), produced)));
        }
        if (state_->block_state == ISAL_BLOCK_FINISH) {
          member_done_ = true;
          break;
        }
        if (state_->avail_in == 0 && state_->avail_out != 0) break;
      }
      size_t used = data.size() - state_->avail_in;
      consumed_ += used;
      data.remove_prefix(used);
      started_ = true;
    }
    return absl::OkStatus();
  }

  absl::Status Finish() {
    if (!member_done_) return Corrupt(name_, consumed_, "gzip data ends early (truncated)");
    return absl::OkStatus();
  }

 private:
  std::string name_;
  std::unique_ptr<inflate_state> state_;
  std::vector<uint8_t> out_;
  int64_t consumed_ = 0;
  bool member_done_ = false;
  bool started_ = false;
};

class ZstdBackend {
 public:
  explicit ZstdBackend(std::string name)
      : name_(std::move(name)), ctx_(ZSTD_createDCtx()), out_(ZSTD_DStreamOutSize()) {}
  ~ZstdBackend() { ZSTD_freeDCtx(ctx_); }

  absl::Status Write(absl::string_view data, const OutputFn& output, int64_t& bytes_out) {
    ZSTD_inBuffer in{data.data(), data.size(), 0};
    // Loop while input remains or the last call filled the output buffer (zstd may hold more).
    bool out_full = false;
    while (in.pos < in.size || out_full) {
      ZSTD_outBuffer out{out_.data(), out_.size(), 0};
      size_t rc = ZSTD_decompressStream(ctx_, &out, &in);
      if (ZSTD_isError(rc)) {
        return Corrupt(name_, consumed_ + in.pos,
                       absl::StrCat("invalid zstd data: ", ZSTD_getErrorName(rc)));
      }
      last_rc_ = rc;
      out_full = out.pos == out.size;
      if (out.pos > 0) {
        bytes_out += out.pos;
        SLIPWAY_RETURN_IF_ERROR(output(absl::string_view(out_.data(), out.pos)));
      }
    }
    consumed_ += data.size();
    return absl::OkStatus();
  }

  absl::Status Finish() {
    if (last_rc_ != 0) return Corrupt(name_, consumed_, "zstd data ends early (truncated)");
    return absl::OkStatus();
  }

 private:
  std::string name_;
  ZSTD_DCtx* ctx_;
  std::vector<char> out_;
  int64_t consumed_ = 0;
  size_t last_rc_ = 1;
};

class DecompressorImpl : public Decompressor {
 public:
  DecompressorImpl(std::string name, OutputFn output)
      : name_(std::move(name)), output_(std::move(output)) {}

  absl::Status Write(absl::string_view data) override {
    SLIPWAY_RETURN_IF_ERROR(error_);
    error_ = WriteImpl(data);
    return error_;
  }

  absl::Status Finish() override {
    SLIPWAY_RETURN_IF_ERROR(error_);
    if (kind_ == StreamKind::kUnknown) {
      if (pending_.empty()) return Corrupt(name_, 0, "empty input");
      error_ = Corrupt(name_, 0, "input is neither gzip nor zstd");
      return error_;
    }
    error_ = kind_ == StreamKind::kGzip ? gzip_->Finish() : zstd_->Finish();
    return error_;
  }

  int64_t bytes_out() const override { return bytes_out_; }
  StreamKind kind() const override { return kind_; }

 private:
  absl::Status WriteImpl(absl::string_view data) {
    if (kind_ == StreamKind::kUnknown) {
      // Collect enough bytes to read the magic number, whatever the caller's chunking.
      pending_.append(data.data(), data.size());
      if (pending_.size() < kMagicBytes) return absl::OkStatus();
      StreamKind k = SniffStreamKind(pending_);
      if (k == StreamKind::kGzip) {
        gzip_ = std::make_unique<GzipBackend>(name_);
      } else if (k == StreamKind::kZstd) {
        zstd_ = std::make_unique<ZstdBackend>(name_);
      } else {
        return Corrupt(name_, 0, "input is neither gzip nor zstd");
      }
      kind_ = k;
      std::string first = std::move(pending_);
      pending_.clear();
      return Feed(first);
    }
    return Feed(data);
  }

  absl::Status Feed(absl::string_view data) {
    if (kind_ == StreamKind::kGzip) return gzip_->Write(data, output_, bytes_out_);
    return zstd_->Write(data, output_, bytes_out_);
  }

  std::string name_;
  OutputFn output_;
  StreamKind kind_ = StreamKind::kUnknown;
  std::string pending_;
  std::unique_ptr<GzipBackend> gzip_;
  std::unique_ptr<ZstdBackend> zstd_;
  int64_t bytes_out_ = 0;
  absl::Status error_;
};

}  // namespace

StreamKind SniffStreamKind(absl::string_view p) {
  if (p.size() >= 2 && p[0] == '\x1f' && p[1] == '\x8b') return StreamKind::kGzip;
  if (p.size() >= 4 && std::memcmp(p.data(), "\x28\xb5\x2f\xfd", 4) == 0) return StreamKind::kZstd;
  if (p.size() >= 262 && p.substr(257, 5) == "ustar") return StreamKind::kTar;
  return StreamKind::kUnknown;
}

const char* StreamKindName(StreamKind kind) {
  switch (kind) {
    case StreamKind::kGzip: return "gzip";
    case StreamKind::kZstd: return "zstd";
    case StreamKind::kTar: return "tar";
    case StreamKind::kUnknown: break;
  }
  return "unknown";
}

std::unique_ptr<Decompressor> Decompressor::Create(std::string name, OutputFn output) {
  return std::make_unique<DecompressorImpl>(std::move(name), std::move(output));
}

absl::StatusOr<std::string> DecompressAll(absl::string_view data) {
  std::string out;
  auto d = Decompressor::Create("buffer", [&out](absl::string_view chunk) {
    out.append(chunk.data(), chunk.size());
    return absl::OkStatus();
  });
  SLIPWAY_RETURN_IF_ERROR(d->Write(data));
  SLIPWAY_RETURN_IF_ERROR(d->Finish());
  return out;
}

}  // namespace slipway
