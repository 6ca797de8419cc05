// The diff cost of one RUN: mounts an overlay (redirect_dir/metacopy/index off, as the RUN
// executor does) on LOWER with a fresh upper dir, appends a line to each FILE through the
// mount (the RUN's own work, not timed), unmounts, then times EntriesFromUpperDir and
// WriteLayer (gzip level 1) into an FsBlobStore. Repeated REPEATS times with a fresh upper dir;
// prints the median of each phase in milliseconds. bench/run_diff_bench.sh drives it.
// Usage: upper_diff_bench LOWER SCRATCH REPEATS FILE...   (root: it mounts)

#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "server/build/layer/layer_writer.h"
#include "server/build/layer/upper_dir.h"
#include "storage/blob_store.h"

namespace {

using Clock = std::chrono::steady_clock;

double Ms(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

bool MakeDir(const std::string& path) {
  if (mkdir(path.c_str(), 0755) == 0) return true;
  std::fprintf(stderr, "mkdir %s: %s\n", path.c_str(), std::strerror(errno));
  return false;
}

struct Phases {
  double mount_ms = 0, umount_ms = 0, diff_ms = 0, write_ms = 0;
  size_t entries = 0;
  long long layer_bytes = 0;
};

// One RUN's worth: false (after saying why) on any failure; never leaves the mount behind.
bool RunOnce(const std::string& lower, const std::string& dir,
             const std::vector<std::string>& files, slipway::BlobStore& store, Phases* out) {
  const std::string upper = dir + "/upper", work = dir + "/work", merged = dir + "/merged";
  if (!MakeDir(dir) || !MakeDir(upper) || !MakeDir(work) || !MakeDir(merged)) return false;
  const std::string data = "lowerdir=" + lower + ",upperdir=" + upper + ",workdir=" + work +
                           ",redirect_dir=off,metacopy=off,index=off";
  auto t0 = Clock::now();
  if (mount("overlay", merged.c_str(), "overlay", 0, data.c_str()) != 0) {
    std::fprintf(stderr, "mount overlay at %s: %s\n", merged.c_str(), std::strerror(errno));
    return false;
  }
  auto t1 = Clock::now();
  bool ok = true;
  for (const std::string& f : files) {
    std::string path = merged + "/" + f;
    int fd = open(path.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
    if (fd < 0 || write(fd, "changed by the RUN\n", 19) != 19) {
      std::fprintf(stderr, "changing %s: %s\n", path.c_str(), std::strerror(errno));
      ok = false;
    }
    if (fd >= 0) close(fd);
    if (!ok) break;
  }
  auto t2 = Clock::now();
  if (umount2(merged.c_str(), 0) != 0) {
    std::fprintf(stderr, "umount %s: %s\n", merged.c_str(), std::strerror(errno));
    umount2(merged.c_str(), MNT_DETACH);
    return false;
  }
  auto t3 = Clock::now();
  if (!ok) return false;
  auto entries = slipway::build::EntriesFromUpperDir(upper, {});
  auto t4 = Clock::now();
  if (!entries.ok()) {
    std::fprintf(stderr, "%s\n", entries.status().ToString().c_str());
    return false;
  }
  out->entries = entries->size();
  auto layer = slipway::build::WriteLayer(std::move(*entries), {}, store, nullptr);
  auto t5 = Clock::now();
  if (!layer.ok()) {
    std::fprintf(stderr, "%s\n", layer.status().ToString().c_str());
    return false;
  }
  out->layer_bytes = layer->blob.size;
  out->mount_ms = Ms(t0, t1);
  out->umount_ms = Ms(t2, t3);
  out->diff_ms = Ms(t3, t4);
  out->write_ms = Ms(t4, t5);
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 5) {
    std::fprintf(stderr, "usage: %s LOWER SCRATCH REPEATS FILE...\n", argv[0]);
    return 2;
  }
  const std::string lower = argv[1], scratch = argv[2];
  const int repeats = std::atoi(argv[3]);
  if (repeats < 1 || repeats > 100) {
    std::fprintf(stderr, "REPEATS must be 1..100\n");
    return 2;
  }
  std::vector<std::string> files(argv + 4, argv + argc);
  auto store = slipway::FsBlobStore::Create({scratch + "/store"});
  if (!store.ok()) {
    std::fprintf(stderr, "%s\n", store.status().ToString().c_str());
    return 1;
  }
  std::vector<double> mount_ms, umount_ms, diff_ms, write_ms, total_ms;
  Phases p;
  for (int i = 0; i < repeats; ++i) {
    if (!RunOnce(lower, scratch + "/run" + std::to_string(i), files, **store, &p)) return 1;
    mount_ms.push_back(p.mount_ms);
    umount_ms.push_back(p.umount_ms);
    diff_ms.push_back(p.diff_ms);
    write_ms.push_back(p.write_ms);
    total_ms.push_back(p.mount_ms + p.umount_ms + p.diff_ms + p.write_ms);
  }
  std::printf(
      "entries=%zu layer_bytes=%lld mount_ms=%.3f umount_ms=%.3f diff_ms=%.3f write_ms=%.3f "
      "diff_write_ms=%.3f total_ms=%.3f\n",
      p.entries, p.layer_bytes, Median(mount_ms), Median(umount_ms), Median(diff_ms),
      Median(write_ms), Median([&] {
        std::vector<double> v;
        for (size_t i = 0; i < diff_ms.size(); ++i) v.push_back(diff_ms[i] + write_ms[i]);
        return v;
      }()),
      Median(total_ms));
  return 0;
}
