#ifndef SLIPWAY_SERVER_APP_H_
#define SLIPWAY_SERVER_APP_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "server/config.h"

namespace grpc {
class Server;
}
namespace prometheus {
class Exposer;
class Registry;
}  // namespace prometheus

namespace slipway {

class BlobStore;
class ImageIndex;
class GarbageCollector;
class ServerMetrics;
class SlipwayService;
namespace registry {
class RealClock;
class DockerConfig;
}
namespace push {
class PushMetrics;
class PushEngine;
}  // namespace push
namespace build {
class CacheMountDirs;
class UnpackedLayers;
class NativeBuilder;
}  // namespace build
namespace scan {
class Scanner;
}

// Holds <data-dir>/LOCK with an exclusive flock for its lifetime, so two processes never share
// a store. FAILED_PRECONDITION naming the directory when another process holds it.
class DataDirLock {
 public:
  static absl::StatusOr<std::unique_ptr<DataDirLock>> Acquire(const std::string& data_dir);
  ~DataDirLock();

 private:
  explicit DataDirLock(int fd) : fd_(fd) {}
  int fd_;
};

// The composition root: config → lock → store and index → metrics → gRPC server. Owns every
// process-wide object (the Prometheus registry included) and hands references down.
//
// Signals: the caller must block SIGTERM and SIGINT in every thread (main does it before any
// thread exists); Run() then waits for them with sigwait.
class App {
 public:
  // Validates the listeners against the security rules (a TCP listener needs an auth token
  // file; a non-loopback one also needs TLS), takes the data-dir lock, opens the store, binds
  // the metrics endpoint and every listener, and starts serving. FAILED_PRECONDITION /
  // INVALID_ARGUMENT / UNAVAILABLE with a message saying why it cannot start.
  static absl::StatusOr<std::unique_ptr<App>> Start(const Config& config);
  ~App();

  // Blocks until SIGTERM or SIGINT, then drains: stops accepting, lets in-flight calls finish
  // until the drain timeout, cancels the rest. OK after a clean drain.
  absl::Status Run();

  // Stops as Run does after a signal (for tests and callers that manage signals themselves).
  void Shutdown();

  int metrics_port() const { return metrics_port_; }

 private:
  App() = default;
  absl::Status Init(const Config& config);

  Config config_;
  std::unique_ptr<DataDirLock> lock_;
  std::unique_ptr<BlobStore> blobs_;
  std::unique_ptr<ImageIndex> index_;
  std::unique_ptr<GarbageCollector> gc_;
  std::shared_ptr<prometheus::Registry> registry_;
  std::unique_ptr<prometheus::Exposer> exposer_;
  std::unique_ptr<ServerMetrics> metrics_;
  std::unique_ptr<registry::RealClock> clock_;
  std::unique_ptr<push::PushMetrics> push_metrics_;
  std::unique_ptr<push::PushEngine> push_engine_;
  std::unique_ptr<registry::DockerConfig> registry_auth_;  // --registry-auth-file, if any
  std::unique_ptr<build::UnpackedLayers> unpacked_layers_;
  std::unique_ptr<build::CacheMountDirs> cache_mounts_;
  std::unique_ptr<build::NativeBuilder> builder_;
  std::unique_ptr<scan::Scanner> scanner_;                // null without scan hooks
  std::unique_ptr<SlipwayService> service_;
  std::unique_ptr<grpc::Server> server_;
  std::vector<std::string> unix_sockets_;  // paths to remove at exit
  int metrics_port_ = 0;
};

// Runs `slipwayd fsck`: takes the lock, re-hashes every blob and reconciles the index. Prints
// the report on stdout. Returns the exit code: 0 clean, 1 findings, 2 could not run.
int RunFsckCommand(const Config& config, bool repair);

}  // namespace slipway

#endif  // SLIPWAY_SERVER_APP_H_
