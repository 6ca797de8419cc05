#include "tests/support/slipwayd_process.h"

#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>
#include <signal.h>
#include <sys/wait.h>

#include <chrono>
#include <fstream>
#include <regex>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "grpc/health/v1/health.grpc.pb.h"

namespace slipway::testing {
namespace {

int FindPort(const std::string& log, const std::string& pattern) {
  std::smatch m;
  std::regex re(pattern);
  if (std::regex_search(log, m, re)) return std::stoi(m[1].str());
  return 0;
}

}  // namespace

absl::Status CheckHealth(const std::shared_ptr<grpc::Channel>& channel, const std::string& token,
                         absl::Duration timeout) {
  auto stub = grpc::health::v1::Health::NewStub(channel);
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() +
                   std::chrono::milliseconds(absl::ToInt64Milliseconds(timeout)));
  if (!token.empty()) ctx.AddMetadata("authorization", "Bearer " + token);
  grpc::health::v1::HealthCheckRequest request;
  grpc::health::v1::HealthCheckResponse response;
  grpc::Status s = stub->Check(&ctx, request, &response);
  if (!s.ok()) return absl::UnavailableError(s.error_message());
  if (response.status() != grpc::health::v1::HealthCheckResponse::SERVING) {
    return absl::UnavailableError("not SERVING yet");
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<SlipwaydProcess>> SlipwaydProcess::Start(
    const SlipwaydOptions& options) {
  std::unique_ptr<SlipwaydProcess> p(new SlipwaydProcess());
  p->temp_ = std::make_unique<TempDir>();
  p->data_dir_ = options.data_dir.empty() ? p->temp_->Sub("data") : options.data_dir;
  p->log_path_ = p->temp_->Sub("slipwayd.log");
  std::vector<std::string> argv = {options.binary, "--data-dir", p->data_dir_, "--log-level",
                                   "debug"};
  if (options.unix_socket) {
    p->address_ = "unix://" + p->temp_->Sub("slipwayd.sock");
    argv.insert(argv.end(), {"--listen", p->address_});
  }
  argv.insert(argv.end(), {"--metrics-listen", options.metrics ? "127.0.0.1:0" : ""});
  argv.insert(argv.end(), options.extra_args.begin(), options.extra_args.end());
  std::map<std::string, std::string> env = options.env;
  // Keep the developer's own environment from steering the server under test.
  for (const char* var : {"SLIPWAY_CONFIG", "SLIPWAY_DATA_DIR", "SLIPWAY_LISTEN",
                          "SLIPWAY_METRICS_LISTEN", "SLIPWAY_AUTH_TOKEN_FILE"}) {
    env.emplace(var, "");
  }
  p->pid_ = SpawnProcess(argv, env, p->log_path_);
  if (p->pid_ < 0) return absl::InternalError("cannot spawn " + options.binary);

  absl::Time deadline = absl::Now() + options.ready_timeout;
  std::shared_ptr<grpc::Channel> channel;
  absl::Status last = absl::UnavailableError("never probed");
  while (absl::Now() < deadline) {
    ProcessResult exited;
    int status = 0;
    if (::waitpid(p->pid_, &status, WNOHANG) == p->pid_) {
      p->pid_ = -1;
      return absl::FailedPreconditionError(
          absl::StrCat("slipwayd exited before it was ready (status ", status, "):\n", p->Log()));
    }
    // A fresh channel per probe: a channel that failed once backs off for a second or more.
    channel.reset();
    if (options.unix_socket) {
      channel = grpc::CreateChannel(p->address_, grpc::InsecureChannelCredentials());
    } else {
      p->tcp_port_ = FindPort(p->Log(), R"(serving on 127\.0\.0\.1:(\d+))");
      if (p->tcp_port_ != 0) {
        channel = grpc::CreateChannel(absl::StrCat("127.0.0.1:", p->tcp_port_),
                                      grpc::InsecureChannelCredentials());
      }
    }
    if (channel) {
      last = CheckHealth(channel, options.health_token, absl::Milliseconds(500));
      if (last.ok()) break;
    }
    absl::SleepFor(absl::Milliseconds(50));
  }
  if (!last.ok()) {
    return absl::DeadlineExceededError(
        absl::StrCat("slipwayd not SERVING: ", last.message(), "\n", p->Log()));
  }
  std::string log = p->Log();
  p->metrics_port_ = FindPort(log, R"(metrics on http://127\.0\.0\.1:(\d+)/metrics)");
  if (p->tcp_port_ == 0) p->tcp_port_ = FindPort(log, R"(serving on 127\.0\.0\.1:(\d+))");
  return p;
}

SlipwaydProcess::~SlipwaydProcess() {
  if (pid_ > 0) {
    ::kill(pid_, SIGKILL);
    ProcessResult ignored;
    WaitForExit(pid_, absl::Seconds(10), &ignored);
  }
}

std::string SlipwaydProcess::Log() const {
  std::ifstream in(log_path_);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::shared_ptr<grpc::Channel> SlipwaydProcess::UnixChannel() const {
  return grpc::CreateChannel(address_, grpc::InsecureChannelCredentials());
}

bool SlipwaydProcess::Terminate(absl::Duration timeout, ProcessResult* result) {
  if (pid_ <= 0) return true;
  ::kill(pid_, SIGTERM);
  if (!WaitForExit(pid_, timeout, result)) return false;
  pid_ = -1;
  return true;
}

}  // namespace slipway::testing
