#include "server/app.h"

#include "server/registry/docker_config.h"

#include <fcntl.h>
#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/health_check_service_interface.h>
#include <grpcpp/security/server_credentials.h>
#include <grpcpp/server.h>
#include <grpcpp/server_builder.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "prometheus/exposer.h"
#include "prometheus/registry.h"
#include "server/common/auth.h"
#include "server/common/listen_address.h"
#include "server/common/logging.h"
#include "server/common/metrics.h"
#include "server/build/layer/unpacked_layers.h"
#include "server/build/native_builder.h"
#include "server/build/run/run_mounts.h"
#include "server/build/run/sandbox.h"
#include "server/push/fan_out.h"
#include "server/push/push_metrics.h"
#include "server/scan/scanner.h"
#include "server/registry/retry.h"
#include "server/service/base_image_puller.h"
#include "server/service/slipway_service.h"
#include "storage/blob_store.h"
#include "storage/fsck.h"
#include "storage/garbage_collector.h"
#include "storage/image_index.h"
#include "storage/status_macros.h"

namespace slipway {
namespace {

// A file next to the running executable (the helpers slipwayd ships with).
std::string SiblingExecutable(const std::string& name) {
  std::error_code ec;
  std::filesystem::path self = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (ec) return name;
  return (self.parent_path() / name).string();
}

absl::Status ErrnoError(const std::string& what) {
  int err = errno;
  std::string msg = absl::StrCat(what, ": ", std::strerror(err));
  if (err == ENOSPC || err == EDQUOT) return absl::ResourceExhaustedError(msg);
  if (err == EACCES || err == EPERM) return absl::PermissionDeniedError(msg);
  return absl::UnavailableError(msg);
}

absl::Status MakeDirs(const std::string& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec)
    return absl::UnavailableError(
        absl::StrCat("cannot create directory ", dir, ": ", ec.message()));
  return absl::OkStatus();
}

absl::StatusOr<std::string> ReadWholeFile(const std::string& what, const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::InvalidArgumentError(absl::StrCat(what, " ", path, ": cannot open"));
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

// A socket file left by a crashed slipwayd is removed; one that still answers belongs to a live
// server (possibly on another data dir) and is never stolen.
absl::Status PrepareUnixSocket(const std::string& path) {
  std::string parent = std::filesystem::path(path).parent_path().string();
  std::error_code ec;
  if (!std::filesystem::exists(parent, ec)) {
    SLIPWAY_RETURN_IF_ERROR(MakeDirs(parent));
    ::chmod(parent.c_str(), 0755);
  }
  struct stat st;
  if (::lstat(path.c_str(), &st) != 0) return absl::OkStatus();
  if (!S_ISSOCK(st.st_mode)) {
    return absl::FailedPreconditionError(
        absl::StrCat("socket path ", path, " exists and is not a socket; refusing to remove it"));
  }
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof(addr.sun_path)) {
    return absl::InvalidArgumentError(absl::StrCat("socket path ", path, " is too long"));
  }
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return ErrnoError("socket");
  bool alive = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
  ::close(fd);
  if (alive) {
    return absl::FailedPreconditionError(
        absl::StrCat("socket ", path, " is in use by another running server"));
  }
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
    return ErrnoError(absl::StrCat("cannot remove stale socket ", path));
  }
  GetLogger("app")->info("removed stale socket {}", path);
  return absl::OkStatus();
}

int64_t NowUnix() { return static_cast<int64_t>(std::time(nullptr)); }

}  // namespace

absl::StatusOr<std::unique_ptr<DataDirLock>> DataDirLock::Acquire(const std::string& data_dir) {
  SLIPWAY_RETURN_IF_ERROR(MakeDirs(data_dir));
  std::string path = data_dir + "/LOCK";
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return ErrnoError(absl::StrCat("cannot open ", path));
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    int err = errno;
    ::close(fd);
    if (err == EWOULDBLOCK) {
      return absl::FailedPreconditionError(absl::StrCat(
          "data dir ", data_dir, " is in use by another slipwayd (", path, " is locked)"));
    }
    errno = err;
    return ErrnoError(absl::StrCat("cannot lock ", path));
  }
  // The pid is only for humans wondering who holds the lock; the flock is what counts.
  std::string pid = absl::StrCat(::getpid(), "\n");
  if (::ftruncate(fd, 0) == 0) {
    ssize_t ignored = ::pwrite(fd, pid.data(), pid.size(), 0);
    (void)ignored;
  }
  return std::unique_ptr<DataDirLock>(new DataDirLock(fd));
}

DataDirLock::~DataDirLock() { ::close(fd_); }

absl::StatusOr<std::unique_ptr<App>> App::Start(const Config& config) {
  std::unique_ptr<App> app(new App());
  SLIPWAY_RETURN_IF_ERROR(app->Init(config));
  return app;
}

App::~App() {
  if (server_) Shutdown();
  for (const auto& path : unix_sockets_) ::unlink(path.c_str());
}

absl::Status App::Init(const Config& config) {
  config_ = config;
  auto log = GetLogger("app");
  // Security first: nothing is opened or bound when the listeners are unsafe.
  SLIPWAY_RETURN_IF_ERROR(CheckListenerSecurity(config_));
  std::string token;
  if (!config_.auth_token_file.empty()) {
    SLIPWAY_ASSIGN_OR_RETURN(token, ReadTokenFile(config_.auth_token_file));
  }
  std::shared_ptr<grpc::ServerCredentials> tls_creds;
  if (!config_.tls_cert.empty()) {
    grpc::SslServerCredentialsOptions ssl;
    grpc::SslServerCredentialsOptions::PemKeyCertPair pair;
    SLIPWAY_ASSIGN_OR_RETURN(pair.cert_chain, ReadWholeFile("TLS certificate", config_.tls_cert));
    SLIPWAY_ASSIGN_OR_RETURN(pair.private_key, ReadWholeFile("TLS key", config_.tls_key));
    ssl.pem_key_cert_pairs.push_back(std::move(pair));
    tls_creds = grpc::SslServerCredentials(ssl);
    // Set once: the processor only ever runs on TCP listeners, which require a token.
    if (!token.empty())
      tls_creds->SetAuthMetadataProcessor(std::make_shared<BearerTokenAuthProcessor>(token));
  }

  SLIPWAY_ASSIGN_OR_RETURN(lock_, DataDirLock::Acquire(config_.data_dir));
  {
    FsBlobStoreOptions options;
    options.root = config_.data_dir;
    SLIPWAY_ASSIGN_OR_RETURN(auto store, FsBlobStore::Create(options));
    if (store->removed_temp_files() > 0) {
      GetLogger("storage")->info("removed {} temp files left by an earlier crash",
                                 store->removed_temp_files());
    }
    blobs_ = std::move(store);
  }
  {
    SqliteImageIndexOptions options;
    options.path = config_.data_dir + "/index.db";
    SLIPWAY_ASSIGN_OR_RETURN(index_, OpenSqliteImageIndex(options));
  }
  gc_ = std::make_unique<GarbageCollector>(*blobs_, *index_, NowUnix);

  registry_ = std::make_shared<prometheus::Registry>();
  metrics_ = std::make_unique<ServerMetrics>(*registry_);
  if (!config_.metrics_listen.empty()) {
    try {
      exposer_ = std::make_unique<prometheus::Exposer>(config_.metrics_listen, 2);
    } catch (const std::exception& e) {
      return absl::UnavailableError(
          absl::StrCat("cannot serve metrics on ", config_.metrics_listen, ": ", e.what()));
    }
    exposer_->RegisterCollectable(registry_);
    auto ports = exposer_->GetListeningPorts();
    metrics_port_ = ports.empty() ? 0 : ports.front();
    std::string host = config_.metrics_listen.substr(0, config_.metrics_listen.rfind(':'));
    log->info("metrics on http://{}:{}/metrics", host, metrics_port_);
  }

  SlipwayServiceOptions service_options;
  service_options.gc_grace_seconds = config_.gc_grace_seconds;
  service_options.store_quota_bytes = config_.store_quota_bytes;
  if (!config_.registry_auth_file.empty()) {
    // Read once at startup; its secrets stay in memory and are never logged.
    auto auth = registry::DockerConfig::Load(config_.registry_auth_file);
    if (!auth.ok()) {
      return absl::Status(auth.status().code(), absl::StrCat("--registry-auth-file: ",
                                                             auth.status().message()));
    }
    registry_auth_ = std::make_unique<registry::DockerConfig>(*std::move(auth));
    service_options.registry_auth = registry_auth_.get();
  }
  clock_ = std::make_unique<registry::RealClock>();
  push_metrics_ = std::make_unique<push::PushMetrics>(*registry_);
  push_engine_ = std::make_unique<push::PushEngine>(push::PushEngineOptions{}, *blobs_, *index_,
                                                    *clock_, push_metrics_.get());
  // The native builder: layers unpacked once by diff_id under <data>/layers, per-build scratch
  // space under <data>/build-tmp (emptied at startup: a crashed build leaves nothing behind).
  {
    const std::string staging = config_.data_dir + "/build-tmp";
    std::error_code ec;
    std::filesystem::remove_all(staging, ec);
    SLIPWAY_RETURN_IF_ERROR(MakeDirs(staging));
    SLIPWAY_ASSIGN_OR_RETURN(unpacked_layers_,
                             build::UnpackedLayers::Create({config_.data_dir + "/layers"}, *blobs_));
    build::NativeBuilderOptions builder_options;
    builder_options.staging_root = staging;
    // RUN: probed once, so an unprivileged pod is told at startup (and in each build that
    // has a RUN) instead of failing obscurely later.
    builder_options.sandbox.helper_path = config_.sandbox_helper.empty()
                                              ? SiblingExecutable("slipway-sandbox")
                                              : config_.sandbox_helper;
    builder_options.run_support = build::ProbeSandbox(builder_options.sandbox, staging);
    if (builder_options.run_support.ok()) {
      log->info("RUN sandbox: {} (namespaces and overlayfs work)",
                builder_options.sandbox.helper_path);
    } else {
      log->warn("RUN is unavailable, builds with RUN will fail: {}",
                std::string(builder_options.run_support.message()));
    }
    SLIPWAY_ASSIGN_OR_RETURN(cache_mounts_,
                             build::CacheMountDirs::Create(config_.data_dir + "/run-cache"));
    builder_options.cache_mounts = cache_mounts_.get();
    builder_ = std::make_unique<build::NativeBuilder>(
        builder_options, *blobs_, *index_, *unpacked_layers_,
        MakeBaseImagePuller(*blobs_, *index_, *clock_, registry_auth_.get()));
    service_options.builder = builder_.get();
  }
  if (!config_.scan.hooks.empty()) {
    std::string work_dir = config_.scan.work_dir.empty() ? config_.data_dir + "/scan-work"
                                                         : config_.scan.work_dir;
    scanner_ = std::make_unique<scan::Scanner>(config_.scan.hooks, *blobs_, *index_, work_dir);
    service_options.scanner = scanner_.get();
    log->info("scan hooks: {}", absl::StrJoin(scanner_->hook_names(), ", "));
  }
  service_options.push_gate = config_.scan.push_gate;
  service_options.attach_reports_on_push = config_.scan.attach_reports_on_push;
  if (!config_.scan.record_scan_token_file.empty()) {
    auto scan_token = ReadTokenFile(config_.scan.record_scan_token_file);
    if (!scan_token.ok()) {
      return absl::Status(scan_token.status().code(),
                          absl::StrCat("record_scan_token_file: ", scan_token.status().message()));
    }
    service_options.record_scan_token = *std::move(scan_token);
  }
  service_ = std::make_unique<SlipwayService>(service_options, *blobs_, *index_, *gc_, *metrics_,
                                              push_engine_.get());
  service_->RefreshStoreGauges();

  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  builder.RegisterService(service_.get());
  std::shared_ptr<grpc::AuthMetadataProcessor> auth;
  if (!token.empty()) auth = std::make_shared<BearerTokenAuthProcessor>(token);
  std::vector<std::pair<std::string, std::unique_ptr<int>>> bound;
  for (const auto& text : config_.listen) {
    SLIPWAY_ASSIGN_OR_RETURN(ListenAddress addr, ParseListenAddress(text));
    std::shared_ptr<grpc::ServerCredentials> creds;
    if (addr.kind == ListenAddress::Kind::kUnix) {
      SLIPWAY_RETURN_IF_ERROR(PrepareUnixSocket(addr.path));
      unix_sockets_.push_back(addr.path);
      creds = grpc::InsecureServerCredentials();  // file permissions guard the socket
    } else if (tls_creds) {
      creds = tls_creds;
    } else {
      // Loopback without TLS: local credentials are a secure-credentials type, which is what
      // lets the token processor run; they also refuse any non-loopback peer.
      creds = grpc::experimental::LocalServerCredentials(LOCAL_TCP);
      creds->SetAuthMetadataProcessor(auth);
    }
    bound.emplace_back(text, std::make_unique<int>(0));
    builder.AddListeningPort(addr.ToGrpcUri(), creds, bound.back().second.get());
  }
  // The socket is created 0660 from the start (umask), not chmod-ed after a window of 0777.
  mode_t old_umask = ::umask(0117);
  server_ = builder.BuildAndStart();
  ::umask(old_umask);
  if (!server_) {
    return absl::UnavailableError(absl::StrCat("cannot listen on ",
                                               absl::StrJoin(config_.listen, ", "),
                                               " (address in use or not permitted?)"));
  }
  for (const auto& [text, port] : bound) {
    if (*port == 0) {
      return absl::UnavailableError(absl::StrCat("cannot listen on ", text));
    }
    auto addr = ParseListenAddress(text);
    if (addr->kind == ListenAddress::Kind::kUnix) {
      ::chmod(addr->path.c_str(), 0660);
      log->info("serving on unix://{}", addr->path);
    } else {
      log->info("serving on {}:{} ({}, bearer token required)", addr->host, *port,
                tls_creds ? "TLS" : "loopback, no TLS");
    }
  }
  server_->GetHealthCheckService()->SetServingStatus(true);
  log->info("slipwayd {} ready; data dir {}", SLIPWAY_VERSION, config_.data_dir);
  return absl::OkStatus();
}

absl::Status App::Run() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  int sig = 0;
  if (sigwait(&set, &sig) != 0) return absl::InternalError("sigwait failed");
  GetLogger("app")->info("received {}, draining for up to {}",
                         sig == SIGTERM ? "SIGTERM" : "SIGINT",
                         absl::FormatDuration(config_.drain_timeout));
  Shutdown();
  return absl::OkStatus();
}

void App::Shutdown() {
  if (!server_) return;
  server_->GetHealthCheckService()->SetServingStatus(false);
  auto deadline = std::chrono::system_clock::now() +
                  std::chrono::milliseconds(absl::ToInt64Milliseconds(config_.drain_timeout));
  // Stops accepting at once; in-flight calls run until the deadline, then are cancelled.
  server_->Shutdown(deadline);
  server_->Wait();
  server_.reset();
  GetLogger("app")->info("drained; exiting");
}

int RunFsckCommand(const Config& config, bool repair) {
  auto lock = DataDirLock::Acquire(config.data_dir);
  if (!lock.ok()) {
    std::cerr << "slipwayd fsck: " << lock.status().message() << "\n";
    return 2;
  }
  FsBlobStoreOptions store_options;
  store_options.root = config.data_dir;
  auto blobs = FsBlobStore::Create(store_options);
  if (!blobs.ok()) {
    std::cerr << "slipwayd fsck: " << blobs.status().message() << "\n";
    return 2;
  }
  SqliteImageIndexOptions index_options;
  index_options.path = config.data_dir + "/index.db";
  auto index = OpenSqliteImageIndex(index_options);
  if (!index.ok()) {
    std::cerr << "slipwayd fsck: " << index.status().message() << "\n";
    return 2;
  }
  FsckOptions options;
  options.repair = repair;
  auto report = RunFsck(**blobs, **index, options);
  if (!report.ok()) {
    std::cerr << "slipwayd fsck: " << report.status().message() << "\n";
    return 2;
  }
  std::cout << report->ToText();
  return report->clean() ? 0 : 1;
}

}  // namespace slipway
