#ifndef SLIPWAY_TESTS_SUPPORT_PODMAN_SERVICE_H_
#define SLIPWAY_TESTS_SUPPORT_PODMAN_SERVICE_H_

#include <sys/types.h>

#include <memory>
#include <string>

#include "absl/time/time.h"
#include "tests/support/temp_dir.h"

namespace slipway::testing {

// One HTTP answer from the engine.
struct EngineResponse {
  long status = 0;  // 0 when the request itself failed (then `body` says why)
  std::string body;
};

// Debian's podman serving the Docker Engine API on a unix socket in its own temp dir, as a real
// engine for `slipway load` tests: `podman --root R --runroot RR --tmpdir T --storage-driver vfs
// --events-backend none --cgroup-manager cgroupfs system service --time=0 unix://<dir>/docker.sock`
// with TMPDIR in that dir too, so nothing it stores is shared with the host or other tests.
// Start() returns once GET /_ping answers "OK" (bounded by `ready_timeout`), else records a test
// failure with podman's log and returns nullptr. The destructor stops the process by its PID
// (SIGTERM, up to 10 s, then SIGKILL).
class PodmanService {
 public:
  static std::unique_ptr<PodmanService> Start(absl::Duration ready_timeout = absl::Seconds(60));
  ~PodmanService();
  PodmanService(const PodmanService&) = delete;
  PodmanService& operator=(const PodmanService&) = delete;

  const std::string& socket_path() const { return socket_path_; }
  std::string docker_host() const { return "unix://" + socket_path_; }
  pid_t pid() const { return pid_; }
  std::string Log() const;

  // GET `path` ("/images/json") over the socket; at most `timeout`.
  EngineResponse Get(const std::string& path, absl::Duration timeout = absl::Seconds(30)) const;

 private:
  PodmanService() = default;
  void Stop();

  TempDir dir_;
  std::string socket_path_, log_path_;
  pid_t pid_ = -1;
};

}  // namespace slipway::testing

#endif  // SLIPWAY_TESTS_SUPPORT_PODMAN_SERVICE_H_
