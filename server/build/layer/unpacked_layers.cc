#include "server/build/layer/unpacked_layers.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <set>
#include <string>
#include <system_error>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "server/build/layer/safe_extract.h"
#include "storage/status_macros.h"

namespace slipway::build {
namespace {

constexpr char kTempPrefix[] = ".tmp-";
constexpr size_t kBlobChunk = 256 << 10;

// A stored blob as a ByteSource (verified: the last read checks the compressed digest).
class BlobByteSource : public ByteSource {
 public:
  explicit BlobByteSource(std::unique_ptr<BlobReader> reader)
      : reader_(std::move(reader)), buf_(kBlobChunk, '\0') {}
  absl::StatusOr<absl::string_view> Next() override {
    SLIPWAY_ASSIGN_OR_RETURN(size_t n, reader_->Read(buf_.data(), buf_.size()));
    return absl::string_view(buf_.data(), n);
  }

 private:
  std::unique_ptr<BlobReader> reader_;
  std::string buf_;
};

absl::Status RemoveTree(const std::string& path) {
  std::error_code ec;
  std::filesystem::remove_all(path, ec);
  if (ec) return absl::InternalError(absl::StrCat("removing ", path, ": ", ec.message()));
  return absl::OkStatus();
}

bool IsDirectory(const std::string& path) {
  struct stat st {};
  return lstat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

bool IsDigestHex(absl::string_view name) { return Digest::FromHex(name).ok(); }

class UnpackedLayersImpl : public UnpackedLayers {
 public:
  UnpackedLayersImpl(std::string root, const BlobStore& store)
      : root_(std::move(root)), store_(store) {}

  absl::StatusOr<std::string> Get(const Digest& diff_id, const Descriptor& blob) override {
    const std::string dir = root_ + "/" + diff_id.hex();
    std::shared_ptr<InFlight> mine;
    {
      absl::MutexLock lock(&mu_);
      auto it = in_flight_.find(diff_id.hex());
      if (it != in_flight_.end()) {
        // Someone is unpacking this layer: wait for their result rather than unpack it twice.
        std::shared_ptr<InFlight> theirs = it->second;
        mu_.Await(absl::Condition(&theirs->done));
        if (!theirs->status.ok()) return theirs->status;
        return dir;
      }
      if (IsDirectory(dir)) return dir;
      mine = std::make_shared<InFlight>();
      in_flight_.emplace(diff_id.hex(), mine);
    }
    absl::Status status = Unpack(diff_id, blob, dir);
    absl::MutexLock lock(&mu_);
    mine->status = status;
    mine->done = true;
    in_flight_.erase(diff_id.hex());
    if (!status.ok()) return status;
    return dir;
  }

  absl::Status Adopt(const Digest& diff_id, const std::string& dir) override {
    const std::string target = root_ + "/" + diff_id.hex();
    absl::MutexLock lock(&mu_);
    if (!IsDirectory(target) && rename(dir.c_str(), target.c_str()) == 0) {
      return absl::OkStatus();
    }
    if (!IsDirectory(target)) {
      return absl::InternalError(absl::StrCat("adopting ", dir, " as ", target, ": ",
                                              std::strerror(errno)));
    }
    return RemoveTree(dir);
  }

  absl::Status Prune(const std::vector<Digest>& keep) override {
    std::set<std::string> keep_hex;
    for (const Digest& d : keep) keep_hex.insert(d.hex());
    std::vector<std::string> victims;
    {
      absl::MutexLock lock(&mu_);
      for (const auto& [hex, unused] : in_flight_) keep_hex.insert(hex);
      std::error_code ec;
      for (std::filesystem::directory_iterator it(root_, ec), end; !ec && it != end;
           it.increment(ec)) {
        std::string name = it->path().filename().string();
        if (IsDigestHex(name) && keep_hex.count(name) == 0) victims.push_back(name);
      }
      if (ec) return absl::InternalError(absl::StrCat("listing ", root_, ": ", ec.message()));
    }
    for (const std::string& name : victims) {
      // Renamed aside first so a concurrent Get never sees a half-removed layer as complete.
      std::string aside = absl::StrCat(root_, "/", kTempPrefix, "prune-", name);
      if (rename((root_ + "/" + name).c_str(), aside.c_str()) != 0) {
        return absl::InternalError(absl::StrCat("pruning ", root_, "/", name, ": ",
                                                std::strerror(errno)));
      }
      SLIPWAY_RETURN_IF_ERROR(RemoveTree(aside));
    }
    return absl::OkStatus();
  }

 private:
  struct InFlight {
    bool done = false;
    absl::Status status;
  };

  absl::Status Unpack(const Digest& diff_id, const Descriptor& blob, const std::string& dir) {
    std::string tmp = absl::StrCat(root_, "/", kTempPrefix, diff_id.hex(), "-", getpid(), "-",
                                   next_temp_.fetch_add(1));
    if (mkdir(tmp.c_str(), 0755) != 0) {
      return absl::InternalError(absl::StrCat("mkdir ", tmp, ": ", std::strerror(errno)));
    }
    absl::Status status = UnpackInto(diff_id, blob, tmp);
    if (status.ok() && rename(tmp.c_str(), dir.c_str()) != 0) {
      // Another process may have finished the same layer first: theirs is as good as ours.
      if ((errno != EEXIST && errno != ENOTEMPTY) || !IsDirectory(dir)) {
        status = absl::InternalError(absl::StrCat("renaming ", tmp, " to ", dir, ": ",
                                                  std::strerror(errno)));
      }
    }
    if (IsDirectory(tmp)) {
      absl::Status removed = RemoveTree(tmp);
      if (status.ok()) status = removed;
    }
    return status;
  }

  absl::Status UnpackInto(const Digest& diff_id, const Descriptor& blob, const std::string& tmp) {
    SLIPWAY_ASSIGN_OR_RETURN(std::unique_ptr<BlobReader> reader,
                             store_.NewReader(blob.digest, /*verify=*/true));
    BlobByteSource source(std::move(reader));
    SafeExtractOptions options;
    options.what = absl::StrCat("layer ", blob.digest.ToString());
    options.layer_names = true;
    options.overlay_whiteouts = true;
    options.corrupt_code = absl::StatusCode::kDataLoss;
    SLIPWAY_ASSIGN_OR_RETURN(SafeExtractResult result, SafeExtract(source, tmp, options));
    if (result.tar_digest != diff_id) {
      return absl::DataLossError(absl::StrCat("layer ", blob.digest.ToString(),
                                              ": uncompressed content is ",
                                              result.tar_digest.ToString(), ", expected diff_id ",
                                              diff_id.ToString()));
    }
    // Durable before it becomes visible: a crash must not leave a complete-looking layer whose
    // file contents never reached the disk.
    int fd = open(tmp.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0 || syncfs(fd) != 0) {
      absl::Status s = absl::InternalError(absl::StrCat("syncing ", tmp, ": ", std::strerror(errno)));
      if (fd >= 0) close(fd);
      return s;
    }
    close(fd);
    return absl::OkStatus();
  }

  const std::string root_;
  const BlobStore& store_;
  std::atomic<uint64_t> next_temp_{0};
  absl::Mutex mu_;
  absl::flat_hash_map<std::string, std::shared_ptr<InFlight>> in_flight_ ABSL_GUARDED_BY(mu_);
};

}  // namespace

absl::StatusOr<std::unique_ptr<UnpackedLayers>> UnpackedLayers::Create(
    const UnpackedLayersOptions& options, const BlobStore& store) {
  if (options.root.empty()) return absl::InvalidArgumentError("unpacked layers: root is empty");
  std::error_code ec;
  std::filesystem::create_directories(options.root, ec);
  if (ec) {
    return absl::InternalError(absl::StrCat("creating ", options.root, ": ", ec.message()));
  }
  // Layers are extracted below this path with symlink checks on every component: it must be
  // the real path.
  char real[PATH_MAX];
  if (realpath(options.root.c_str(), real) == nullptr) {
    return absl::InternalError(absl::StrCat("realpath ", options.root, ": ", std::strerror(errno)));
  }
  std::string root = real;
  // Temp directories left by a crash are never complete layers.
  for (std::filesystem::directory_iterator it(root, ec), end; !ec && it != end; it.increment(ec)) {
    std::string name = it->path().filename().string();
    if (absl::StartsWith(name, kTempPrefix)) SLIPWAY_RETURN_IF_ERROR(RemoveTree(it->path()));
  }
  if (ec) return absl::InternalError(absl::StrCat("listing ", root, ": ", ec.message()));
  return std::unique_ptr<UnpackedLayers>(new UnpackedLayersImpl(root, store));
}

}  // namespace slipway::build
