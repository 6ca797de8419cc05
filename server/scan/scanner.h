#ifndef SLIPWAY_SERVER_SCAN_SCANNER_H_
#define SLIPWAY_SERVER_SCAN_SCANNER_H_

#include <sys/types.h>

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "server/scan/materializer.h"
#include "server/scan/scan_config.h"
#include "storage/blob_store.h"
#include "storage/image_index.h"

namespace slipway::scan {

struct ScanOutcome {
  Digest manifest = Sha256Of("");
  bool passed = false;                    // every hook that ran passed
  std::vector<ScanResultRecord> results;  // in the order the hooks are configured
  // Hooks killed at their timeout whose result failed (closed); empty with on_timeout=pass.
  std::vector<std::string> timed_out;
};

struct ScanOptions {
  std::string image_name;             // {image}; "" = the digest
  std::vector<std::string> scanners;  // hook names; empty = every configured hook
};

// Stores a report file as a blob, streamed (never held whole). RESOURCE_EXHAUSTED naming the
// sizes when the file is larger than `max_bytes` (nothing is stored).
absl::StatusOr<Descriptor> StoreReport(BlobStore& blobs, const std::string& path,
                                       int64_t max_bytes, const std::string& media_type);

// Runs the configured exec hooks on stored images and records their results in the index.
// Thread-safe. Concurrent scans of one digest share work: each (digest, hook) runs at most
// once at a time (single flight — a scan arriving while a hook runs waits for that run's
// result), and the image is materialized once for all of them.
class Scanner {
 public:
  Scanner(std::vector<HookConfig> hooks, BlobStore& blobs, ImageIndex& index,
          std::string work_dir);

  // Runs the hooks on `image`, all at once, records each result against
  // image.manifest.digest, and returns them in the order they were selected. A hook's failure (non-zero exit, timeout, an oversized report) is a failed result,
  // not an error. Errors: NOT_FOUND naming an unknown scanner; FAILED_PRECONDITION when no
  // hooks are configured; DATA_LOSS / INTERNAL when the image cannot be materialized or a
  // result cannot be stored.
  absl::StatusOr<ScanOutcome> Scan(const ImageRecord& image, const ScanOptions& options);

  std::vector<std::string> hook_names() const;

  // For tests: called with each hook process's PID as it starts (from the hook's thread).
  void set_on_hook_start(std::function<void(const std::string& hook, pid_t)> fn) {
    on_hook_start_ = std::move(fn);
  }

 private:
  struct HookRun {
    ScanResultRecord record;
    bool timed_out_failed = false;
  };
  struct Flight {
    absl::Mutex mu;
    bool done ABSL_GUARDED_BY(mu) = false;
    absl::StatusOr<HookRun> result ABSL_GUARDED_BY(mu) =
        absl::UnknownError("in flight");
  };

  absl::StatusOr<HookRun> RunShared(const HookConfig& hook, const ImageRecord& image,
                                             const ScanOptions& options,
                                             MaterializedImage& materialized);
  absl::StatusOr<HookRun> RunHook(const HookConfig& hook, const ImageRecord& image,
                                           const ScanOptions& options,
                                           MaterializedImage& materialized);
  std::string ScannerVersion(const HookConfig& hook);
  // Stores the report file (if any) and fills r's report and summary; an oversized report
  // fails the result (closed).
  absl::Status FinishReport(const HookConfig& hook, const std::string& report,
                            ScanResultRecord& r);

  const std::vector<HookConfig> hooks_;
  BlobStore& blobs_;
  ImageIndex& index_;
  const std::string work_dir_;
  Materializer materializer_;
  std::function<void(const std::string&, pid_t)> on_hook_start_;
  absl::Mutex mu_;
  std::map<std::string, std::shared_ptr<Flight>> flights_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, std::string> versions_ ABSL_GUARDED_BY(mu_);
  uint64_t next_run_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace slipway::scan

#endif  // SLIPWAY_SERVER_SCAN_SCANNER_H_
