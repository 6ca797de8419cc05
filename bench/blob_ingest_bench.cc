// Streams a file into an FsBlobStore the way an upload does (1 MiB appends, hash while writing,
// fsync, publish) and prints the wall time. bench/store_ingest.sh compares it with
// `openssl dgst -sha256` of the same file.
// Usage: blob_ingest_bench FILE STORE_DIR

#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <string>

#include "storage/blob_store.h"

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: %s FILE STORE_DIR\n", argv[0]);
    return 2;
  }
  auto store = slipway::FsBlobStore::Create({argv[2]});
  if (!store.ok()) {
    std::fprintf(stderr, "%s\n", store.status().ToString().c_str());
    return 1;
  }
  int fd = open(argv[1], O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    std::perror(argv[1]);
    return 1;
  }
  auto start = std::chrono::steady_clock::now();
  auto writer = (*store)->NewWriter();
  if (!writer.ok()) {
    std::fprintf(stderr, "%s\n", writer.status().ToString().c_str());
    return 1;
  }
  std::string buf(1 << 20, '\0');
  for (;;) {
    ssize_t n = read(fd, buf.data(), buf.size());
    if (n < 0) {
      std::perror("read");
      return 1;
    }
    if (n == 0) break;
    auto s = (*writer)->Append(absl::string_view(buf.data(), static_cast<size_t>(n)));
    if (!s.ok()) {
      std::fprintf(stderr, "%s\n", s.ToString().c_str());
      return 1;
    }
  }
  auto appended = std::chrono::steady_clock::now();
  auto info = (*writer)->Commit();
  double commit_secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - appended).count();
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (!info.ok()) {
    std::fprintf(stderr, "%s\n", info.status().ToString().c_str());
    return 1;
  }
  std::printf("digest=%s bytes=%lld seconds=%.3f commit_seconds=%.3f\n",
              info->digest.ToString().c_str(), static_cast<long long>(info->size), secs,
              commit_secs);
  close(fd);
  return 0;
}
