#ifndef SLIPWAY_TESTS_SUPPORT_SLIPWAYD_PROCESS_H_
#define SLIPWAY_TESTS_SUPPORT_SLIPWAYD_PROCESS_H_

#include <grpcpp/channel.h>
#include <sys/types.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "tests/support/subprocess.h"
#include "tests/support/temp_dir.h"

namespace slipway::testing {

struct SlipwaydOptions {
  std::string binary;       // path to slipwayd
  std::string data_dir;     // empty: a fresh temp dir
  bool unix_socket = true;  // --listen unix://<temp>/slipwayd.sock
  std::vector<std::string>
      extra_args;  // more flags (e.g. --listen 127.0.0.1:0 --auth-token-file F)
  std::map<std::string, std::string> env;
  bool metrics = true;       // --metrics-listen 127.0.0.1:0
  std::string health_token;  // bearer token for the readiness probe over TCP
  absl::Duration ready_timeout = absl::Seconds(30);
};

// The real slipwayd as a child process: a temp data dir, a temp unix socket, metrics on an
// ephemeral loopback port. Start() returns only once grpc.health.v1 answers SERVING (bounded by
// ready_timeout) and fails with the process log if it exits or never gets there. The destructor
// kills it by pid (SIGKILL) if it still runs.
class SlipwaydProcess {
 public:
  static absl::StatusOr<std::unique_ptr<SlipwaydProcess>> Start(const SlipwaydOptions& options);
  ~SlipwaydProcess();

  pid_t pid() const { return pid_; }
  const std::string& data_dir() const { return data_dir_; }
  // "unix:///..." (empty when unix_socket was off).
  const std::string& address() const { return address_; }
  int metrics_port() const { return metrics_port_; }
  // Port of the first TCP listener, read from the log (0 when none).
  int tcp_port() const { return tcp_port_; }
  std::string Log() const;
  std::shared_ptr<grpc::Channel> UnixChannel() const;

  // SIGTERM, then waits up to `timeout`; fills the result (exit code). false on timeout.
  bool Terminate(absl::Duration timeout, ProcessResult* result);

 private:
  SlipwaydProcess() = default;
  std::unique_ptr<TempDir> temp_;
  std::string data_dir_, address_, log_path_;
  pid_t pid_ = -1;
  int metrics_port_ = 0;
  int tcp_port_ = 0;
};

// Asks grpc.health.v1 once; OK when SERVING.
absl::Status CheckHealth(const std::shared_ptr<grpc::Channel>& channel, const std::string& token,
                         absl::Duration timeout);

}  // namespace slipway::testing

#endif  // SLIPWAY_TESTS_SUPPORT_SLIPWAYD_PROCESS_H_
