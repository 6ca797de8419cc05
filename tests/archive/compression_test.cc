#include <random>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "storage/archive/decompressor.h"
#include "storage/archive/gzip_compressor.h"
#include "storage/digest.h"
#include "tests/support/run_command.h"
#include "tests/support/temp_dir.h"

namespace slipway {
namespace {

using ::slipway::testing::ReadFile;
using ::slipway::testing::RunCommand;
using ::slipway::testing::ShellQuote;
using ::slipway::testing::TempDir;
using ::slipway::testing::WriteFile;

// Compressible but not trivial: words from a small vocabulary plus some random bytes, so blocks
// of every kind (stored, fixed, dynamic Huffman) show up.
std::string TestData(size_t size, uint32_t seed) {
  std::mt19937 rng(seed);
  static const char* kWords[] = {"layer ", "tar ", "sha256 ", "blob ", "manifest\n", "\x01\x02"};
  std::string out;
  out.reserve(size);
  while (out.size() < size) {
    if (rng() % 8 == 0) {
      for (int i = 0; i < 32; ++i) out.push_back(static_cast<char>(rng()));
    } else {
      out += kWords[rng() % 6];
    }
  }
  out.resize(size);
  return out;
}

std::string CompressChunked(absl::string_view data, size_t chunk, int level = 1) {
  std::string out;
  auto gz = GzipCompressor::Create(level, [&out](absl::string_view d) {
    out.append(d.data(), d.size());
    return absl::OkStatus();
  });
  EXPECT_TRUE(gz.ok()) << gz.status();
  size_t step = chunk;
  for (size_t pos = 0; pos < data.size(); pos += step) {
    EXPECT_TRUE((*gz)->Write(data.substr(pos, step)).ok());
  }
  EXPECT_TRUE((*gz)->Finish().ok());
  EXPECT_EQ((*gz)->bytes_in(), static_cast<int64_t>(data.size()));
  EXPECT_EQ((*gz)->bytes_out(), static_cast<int64_t>(out.size()));
  return out;
}

absl::StatusOr<std::string> DecompressChunked(absl::string_view data, size_t chunk) {
  std::string out;
  auto d = Decompressor::Create("test", [&out](absl::string_view c) {
    out.append(c.data(), c.size());
    return absl::OkStatus();
  });
  for (size_t pos = 0; pos < data.size(); pos += chunk) {
    absl::Status s = d->Write(data.substr(pos, chunk));
    if (!s.ok()) return s;
  }
  absl::Status s = d->Finish();
  if (!s.ok()) return s;
  EXPECT_EQ(d->bytes_out(), static_cast<int64_t>(out.size()));
  return out;
}

TEST(GzipCompressorTest, OutputIndependentOfChunking) {
  std::string data = TestData(3 * GzipCompressor::kBlockSize + 12345, 1);
  std::string whole = CompressChunked(data, data.size());
  std::string small = data.substr(0, 5000);
  EXPECT_EQ(CompressChunked(small, 1), CompressChunked(small, small.size()));
  for (size_t chunk : {size_t{7}, size_t{4096}, size_t{65537}, GzipCompressor::kBlockSize - 1,
                       GzipCompressor::kBlockSize + 1}) {
    EXPECT_EQ(Sha256Of(CompressChunked(data, chunk)).hex(), Sha256Of(whole).hex()) << "chunk " << chunk;
  }
  EXPECT_LT(whole.size(), data.size());
}

TEST(GzipCompressorTest, OursDecompressWithGzipTool) {
  TempDir dir;
  for (int level : {0, 1, 3, 6}) {
    std::string data = TestData(2 * GzipCompressor::kBlockSize + 99, 2 + level);
    WriteFile(dir.Sub("data.gz"), CompressChunked(data, 10000, level));
    auto r = RunCommand("gzip -dc " + ShellQuote(dir.Sub("data.gz")) + " > " +
                        ShellQuote(dir.Sub("data.out")) + " && gzip -t " +
                        ShellQuote(dir.Sub("data.gz")));
    ASSERT_EQ(r.exit_code, 0) << r.output;
    EXPECT_EQ(Sha256Of(ReadFile(dir.Sub("data.out"))).hex(), Sha256Of(data).hex()) << "level " << level;
  }
}

TEST(GzipCompressorTest, EmptyInputIsValidGzip) {
  auto gz = GzipCompress("");
  ASSERT_TRUE(gz.ok()) << gz.status();
  auto back = DecompressAll(*gz);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(*back, "");
}

TEST(GzipCompressorTest, RejectsNegativeLevel) {
  auto gz = GzipCompressor::Create(-1, [](absl::string_view) { return absl::OkStatus(); });
  EXPECT_EQ(gz.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(GzipCompressorTest, OutputErrorIsReturned) {
  auto gz = GzipCompressor::Create(
      1, [](absl::string_view) { return absl::ResourceExhaustedError("disk full"); });
  ASSERT_TRUE(gz.ok());
  std::string data = TestData(GzipCompressor::kBlockSize + 1, 3);
  EXPECT_EQ((*gz)->Write(data).code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ((*gz)->Write("x").code(), absl::StatusCode::kResourceExhausted);  // sticky
}

TEST(DecompressorTest, ReadsGzipAndZstdToolOutput) {
  TempDir dir;
  std::string data = TestData(1500000, 4);
  WriteFile(dir.Sub("d"), data);
  const std::string d = ShellQuote(dir.Sub("d"));
  struct Case {
    const char* what;
    std::string cmd;
  } cases[] = {
      {"gzip -6", "gzip -6 -c " + d},
      {"gzip -1", "gzip -1 -c " + d},
      {"pigz multi-member", "pigz -p2 -b 128 -c " + d},
      {"two gzip members", "gzip -c " + d + "; gzip -c " + d},
      {"zstd -3", "zstd -q -3 -c " + d},
      {"two zstd frames", "zstd -q -c " + d + "; zstd -q -c " + d},
  };
  for (const Case& c : cases) {
    auto r = RunCommand("(" + c.cmd + ") > " + ShellQuote(dir.Sub("c")));
    ASSERT_EQ(r.exit_code, 0) << c.what << ": " << r.output;
    std::string compressed = ReadFile(dir.Sub("c"));
    bool doubled = absl::string_view(c.what).find("two") == 0;
    std::string want = doubled ? data + data : data;
    for (size_t chunk : {size_t{1} << 30, size_t{1000}, size_t{3}}) {
      if (chunk == 3 && compressed.size() > 200000) chunk = 777;  // keep the test quick
      auto out = DecompressChunked(compressed, chunk);
      ASSERT_TRUE(out.ok()) << c.what << ": " << out.status();
      EXPECT_EQ(out->size(), want.size()) << c.what << " chunk " << chunk;
      EXPECT_EQ(Sha256Of(*out).hex(), Sha256Of(want).hex()) << c.what << " chunk " << chunk;
    }
  }
}

TEST(DecompressorTest, CorruptInputIsDataLoss) {
  std::string data = TestData(300000, 5);
  std::string gz = *GzipCompress(data);

  auto truncated = DecompressChunked(gz.substr(0, gz.size() / 2), 4096);
  EXPECT_EQ(truncated.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(std::string(truncated.status().message()), ::testing::HasSubstr("truncated"));

  std::string flipped = gz;
  flipped[flipped.size() - 6] ^= 0x55;  // CRC32 of the trailer
  EXPECT_EQ(DecompressChunked(flipped, 4096).status().code(), absl::StatusCode::kDataLoss);

  std::string garbage = gz + "not gzip";
  auto g = DecompressChunked(garbage, 4096);
  EXPECT_EQ(g.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(std::string(g.status().message()), ::testing::HasSubstr("trailing garbage"));

  auto plain = DecompressChunked("plain text, not compressed", 4);
  EXPECT_EQ(plain.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(std::string(plain.status().message()), ::testing::HasSubstr("neither gzip nor zstd"));

  std::string bad_deflate = gz.substr(0, 10) + std::string(1000, '\xff');
  EXPECT_EQ(DecompressChunked(bad_deflate, 100).status().code(), absl::StatusCode::kDataLoss);

  TempDir dir;
  WriteFile(dir.Sub("d"), data);
  auto r = RunCommand("zstd -q -c " + ShellQuote(dir.Sub("d")) + " > " + ShellQuote(dir.Sub("z")));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  std::string zst = ReadFile(dir.Sub("z"));
  auto zt = DecompressChunked(zst.substr(0, zst.size() - 10), 4096);
  EXPECT_EQ(zt.status().code(), absl::StatusCode::kDataLoss);
}

TEST(SniffTest, RecognisesMagic) {
  EXPECT_EQ(SniffStreamKind("\x1f\x8b\x08\x00"), StreamKind::kGzip);
  EXPECT_EQ(SniffStreamKind("\x28\xb5\x2f\xfd"), StreamKind::kZstd);
  std::string tar(512, '\0');
  tar.replace(257, 6, "ustar ");
  EXPECT_EQ(SniffStreamKind(tar), StreamKind::kTar);
  EXPECT_EQ(SniffStreamKind(std::string(512, '\0')), StreamKind::kUnknown);
}

}  // namespace
}  // namespace slipway
