#include "tests/support/loopback_server.h"

#include <unistd.h>

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace slipway::testing {

absl::StatusOr<std::unique_ptr<LoopbackServer>> LoopbackServer::Start(
    ConnHandler handler, absl::Duration idle_timeout) {
  auto listener = http::ListenLoopback();
  if (!listener.ok()) return listener.status();
  std::unique_ptr<LoopbackServer> server(
      new LoopbackServer(listener->fd, listener->port, std::move(handler), idle_timeout));
  server->accept_thread_ = std::thread([s = server.get()] { s->AcceptLoop(); });
  return server;
}

LoopbackServer::LoopbackServer(int listen_fd, int port, ConnHandler handler,
                               absl::Duration idle_timeout)
    : listen_fd_(listen_fd), port_(port), handler_(std::move(handler)),
      idle_timeout_(idle_timeout) {}

LoopbackServer::~LoopbackServer() { Stop(); }

std::string LoopbackServer::HostPort() const { return absl::StrCat("127.0.0.1:", port_); }

void LoopbackServer::Stop() {
  std::call_once(stopped_, [this] {
    stop_.store(true);
    if (accept_thread_.joinable()) accept_thread_.join();
    std::list<Worker> workers;
    {
      absl::MutexLock lock(&mu_);
      workers.swap(workers_);
    }
    for (Worker& w : workers) {
      if (w.thread.joinable()) w.thread.join();
    }
    close(listen_fd_);
  });
}

bool LoopbackServer::SleepUnlessStopped(absl::Duration d, const std::atomic<bool>& stop) {
  absl::Time end = absl::Now() + std::min(d, absl::Seconds(60));
  while (absl::Now() < end) {
    if (stop.load()) return false;
    absl::SleepFor(std::min(absl::Milliseconds(20), end - absl::Now()));
  }
  return !stop.load();
}

void LoopbackServer::Reap() {
  for (auto it = workers_.begin(); it != workers_.end();) {
    if (it->done.load()) {
      it->thread.join();
      it = workers_.erase(it);
    } else {
      ++it;
    }
  }
}

void LoopbackServer::AcceptLoop() {
  while (!stop_.load()) {
    auto fd = http::AcceptWithin(listen_fd_, absl::Milliseconds(50));
    if (!fd.ok()) continue;
    connections_.fetch_add(1);
    absl::MutexLock lock(&mu_);
    Reap();
    workers_.emplace_back();
    Worker* w = &workers_.back();
    int conn_fd = *fd;
    w->thread = std::thread([this, w, conn_fd] {
      {
        http::Conn conn(conn_fd, &stop_, idle_timeout_);
        handler_(conn, stop_);
      }
      w->done.store(true);
    });
  }
}

}  // namespace slipway::testing
