#include "tests/support/podman_service.h"

#include <curl/curl.h>
#include <signal.h>
#include <sys/wait.h>

#include <chrono>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "tests/support/registry_process.h"
#include "tests/support/subprocess.h"

namespace slipway::testing {
namespace {

size_t Collect(char* data, size_t size, size_t nmemb, void* userdata) {
  static_cast<std::string*>(userdata)->append(data, size * nmemb);
  return size * nmemb;
}

}  // namespace

std::unique_ptr<PodmanService> PodmanService::Start(absl::Duration ready_timeout) {
  std::unique_ptr<PodmanService> s(new PodmanService());
  s->socket_path_ = s->dir_.Sub("docker.sock");
  s->log_path_ = s->dir_.Sub("podman.log");
  WriteFile(s->dir_.Sub("tmp/.keep"), "");
  s->pid_ = SpawnProcess(
      {FindProgram("podman"), "--root", s->dir_.Sub("root"), "--runroot", s->dir_.Sub("runroot"),
       "--tmpdir", s->dir_.Sub("tmp"), "--storage-driver", "vfs", "--events-backend", "none",
       "--cgroup-manager", "cgroupfs", "system", "service", "--time=0",
       "unix://" + s->socket_path_},
      {{"TMPDIR", s->dir_.Sub("tmp")}}, s->log_path_);
  if (s->pid_ <= 0) {
    ADD_FAILURE() << "cannot start podman (is it installed? scripts/setup.sh)";
    return nullptr;
  }
  absl::Time deadline = absl::Now() + ready_timeout;
  while (absl::Now() < deadline) {
    int wstatus = 0;
    if (waitpid(s->pid_, &wstatus, WNOHANG) == s->pid_) {
      s->pid_ = -1;
      ADD_FAILURE() << "podman system service exited early; log:\n" << s->Log();
      return nullptr;
    }
    EngineResponse ping = s->Get("/_ping", absl::Seconds(2));
    if (ping.status == 200 && ping.body == "OK") return s;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ADD_FAILURE() << "podman did not answer GET /_ping within " << ready_timeout << "; log:\n"
                << s->Log();
  return nullptr;  // the destructor stops it
}

void PodmanService::Stop() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGTERM);
  int wstatus = 0;
  for (int i = 0; i < 200; ++i) {  // up to ~10 s for a clean exit, then SIGKILL
    if (waitpid(pid_, &wstatus, WNOHANG) == pid_) {
      pid_ = -1;
      return;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ::kill(pid_, SIGKILL);
  waitpid(pid_, &wstatus, 0);
  pid_ = -1;
}

PodmanService::~PodmanService() { Stop(); }

std::string PodmanService::Log() const { return ReadFile(log_path_); }

EngineResponse PodmanService::Get(const std::string& path, absl::Duration timeout) const {
  EngineResponse r;
  CURL* curl = curl_easy_init();
  if (curl == nullptr) {
    r.body = "curl_easy_init failed";
    return r;
  }
  std::string url = "http://localhost" + path;
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_UNIX_SOCKET_PATH, socket_path_.c_str());
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, static_cast<long>(absl::ToInt64Milliseconds(timeout)));
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, &Collect);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &r.body);
  CURLcode rc = curl_easy_perform(curl);
  if (rc == CURLE_OK) {
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &r.status);
  } else {
    r.body = curl_easy_strerror(rc);
  }
  curl_easy_cleanup(curl);
  return r;
}

}  // namespace slipway::testing
