// Compression throughput of layer compressors on one input file.
//
//   compression_bench FILE [REPEATS]
//
// Prints one line per compressor:  name=<n> mib_per_s=<x> compressed_bytes=<n> ratio=<x>
// (median of REPEATS runs, default 3, input read into memory first so disk speed is not measured).
//   isal-1       our streaming GzipCompressor (ISA-L igzip level 1, 1 MiB blocks) — what imports use
//   libdeflate-1 libdeflate level 1
//   libdeflate-6 libdeflate level 6
// libdeflate has no streaming API, so it compresses 1 MiB chunks, each as its own gzip member
// (valid multi-member gzip, like pigz output); ratios are slightly worse than one stream would be.
// bench/compression_bench.sh runs this next to `gzip -6` and `pigz -p2` on the same file.

#include <libdeflate.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <vector>

#include "storage/archive/gzip_compressor.h"

namespace {

constexpr size_t kChunk = 1 << 20;

struct Result {
  double seconds;
  size_t compressed;
};

Result TimeIt(const std::function<size_t()>& fn) {
  auto start = std::chrono::steady_clock::now();
  size_t out = fn();
  std::chrono::duration<double> d = std::chrono::steady_clock::now() - start;
  return {d.count(), out};
}

size_t IsalCompress(const std::string& data) {
  size_t total = 0;
  auto gz = slipway::GzipCompressor::Create(1, [&total](absl::string_view d) {
    total += d.size();
    return absl::OkStatus();
  });
  if (!gz.ok()) return 0;
  for (size_t pos = 0; pos < data.size(); pos += kChunk) {
    if (!(*gz)->Write(absl::string_view(data).substr(pos, kChunk)).ok()) return 0;
  }
  if (!(*gz)->Finish().ok()) return 0;
  return total;
}

size_t LibdeflateCompress(const std::string& data, int level) {
  libdeflate_compressor* c = libdeflate_alloc_compressor(level);
  if (c == nullptr) return 0;
  std::vector<char> out(libdeflate_gzip_compress_bound(c, kChunk));
  size_t total = 0;
  for (size_t pos = 0; pos < data.size(); pos += kChunk) {
    size_t n = std::min(kChunk, data.size() - pos);
    total += libdeflate_gzip_compress(c, data.data() + pos, n, out.data(), out.size());
  }
  libdeflate_free_compressor(c);
  return total;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s FILE [REPEATS]\n", argv[0]);
    return 2;
  }
  int repeats = argc > 2 ? std::max(1, std::atoi(argv[2])) : 3;
  std::ifstream in(argv[1], std::ios::binary);
  if (!in) {
    std::fprintf(stderr, "cannot read %s\n", argv[1]);
    return 1;
  }
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string data = ss.str();
  const double mib = static_cast<double>(data.size()) / (1 << 20);

  struct Case {
    const char* name;
    std::function<size_t()> fn;
  } cases[] = {
      {"isal-1", [&] { return IsalCompress(data); }},
      {"libdeflate-1", [&] { return LibdeflateCompress(data, 1); }},
      {"libdeflate-6", [&] { return LibdeflateCompress(data, 6); }},
  };
  std::printf("input_bytes=%zu\n", data.size());
  for (const Case& c : cases) {
    std::vector<Result> runs;
    for (int i = 0; i < repeats; ++i) runs.push_back(TimeIt(c.fn));
    std::sort(runs.begin(), runs.end(),
              [](const Result& a, const Result& b) { return a.seconds < b.seconds; });
    const Result& median = runs[runs.size() / 2];
    if (median.compressed == 0 && !data.empty()) {
      std::fprintf(stderr, "%s failed\n", c.name);
      return 1;
    }
    std::printf("name=%s mib_per_s=%.1f compressed_bytes=%zu ratio=%.4f\n", c.name,
                mib / std::max(median.seconds, 1e-9), median.compressed,
                data.empty() ? 0.0 : static_cast<double>(median.compressed) / data.size());
  }
  return 0;
}
