#ifndef SLIPWAY_TESTS_SUPPORT_LOOPBACK_SERVER_H_
#define SLIPWAY_TESTS_SUPPORT_LOOPBACK_SERVER_H_

#include <atomic>
#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "tests/support/http_wire.h"

namespace slipway::testing {

// A TCP server on 127.0.0.1 with an ephemeral port: an accept thread plus one thread per
// connection running `handler`. Stop() (and the destructor) raises the stop flag, which every
// http::Conn read/write and every wait of a handler observes within ~50 ms, then joins all
// threads. Thread-safe.
class LoopbackServer {
 public:
  // Owns the connection; it is closed when the handler returns (unless the handler closed or
  // reset it first). `stop` is the server's stop flag, for the handler's own waits.
  using ConnHandler = std::function<void(http::Conn& conn, const std::atomic<bool>& stop)>;

  static absl::StatusOr<std::unique_ptr<LoopbackServer>> Start(
      ConnHandler handler, absl::Duration idle_timeout = absl::Seconds(30));
  ~LoopbackServer();
  LoopbackServer(const LoopbackServer&) = delete;
  LoopbackServer& operator=(const LoopbackServer&) = delete;

  int port() const { return port_; }
  // "127.0.0.1:<port>"
  std::string HostPort() const;
  // Connections accepted so far.
  int64_t connections() const { return connections_.load(); }
  const std::atomic<bool>& stop_flag() const { return stop_; }

  // Idempotent; returns once every thread has ended.
  void Stop();

  // Sleeps for `d` (capped at 60 s) unless `stop` rises first; false when interrupted.
  static bool SleepUnlessStopped(absl::Duration d, const std::atomic<bool>& stop);

 private:
  LoopbackServer(int listen_fd, int port, ConnHandler handler, absl::Duration idle_timeout);
  void AcceptLoop();
  // Joins connection threads that have finished.
  void Reap() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  struct Worker {
    std::thread thread;
    std::atomic<bool> done{false};
  };

  const int listen_fd_;
  const int port_;
  const ConnHandler handler_;
  const absl::Duration idle_timeout_;
  std::atomic<bool> stop_{false};
  std::atomic<int64_t> connections_{0};
  std::thread accept_thread_;
  absl::Mutex mu_;
  std::list<Worker> workers_ ABSL_GUARDED_BY(mu_);
  std::once_flag stopped_;
};

}  // namespace slipway::testing

#endif  // SLIPWAY_TESTS_SUPPORT_LOOPBACK_SERVER_H_
