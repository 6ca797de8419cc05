// slipwayd: the Slipway service.
//   slipwayd [flags]                      serve (no flags: the defaults in docs/CONFIGURATION.md)
//   slipwayd fsck [--repair] [flags]      check the store; exit 0 clean, 1 findings, 2 error
//   slipwayd --version
#include <malloc.h>
#include <signal.h>

#include <iostream>
#include <string>
#include <vector>

#include "server/app.h"
#include "server/common/logging.h"
#include "server/config.h"

namespace {

constexpr char kUsage[] =
    "usage: slipwayd [--config FILE] [--data-dir DIR] [--listen ADDR]... [--metrics-listen "
    "HOST:PORT]\n"
    "                [--log-level LEVEL] [--auth-token-file FILE] [--tls-cert FILE --tls-key "
    "FILE]\n"
    "                [--gc-grace DURATION] [--store-quota SIZE] [--drain-timeout DURATION]\n"
    "       slipwayd fsck [--repair] [--data-dir DIR] [--config FILE]\n"
    "       slipwayd --version\n"
    "See docs/CONFIGURATION.md for every setting.\n";

int UsageError(const std::string& message) {
  std::cerr << "slipwayd: " << message << "\n" << kUsage;
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  // One malloc arena. glibc's default (8 per core) gives every gRPC, push and I/O thread its
  // own arena, and freed 1 MiB stream messages then linger per arena: measured on a 1 GiB
  // import, peak RSS 68-91 MiB with the default vs 55-57 MiB with one arena. The service's hot
  // loops do not allocate per byte, so the shared arena's lock is not contended.
  ::mallopt(M_ARENA_MAX, 1);
  // Before any thread exists (gRPC and the metrics server start their own), so every thread
  // inherits the mask and only App::Run's sigwait ever sees these signals.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  signal(SIGPIPE, SIG_IGN);

  std::vector<std::string> args(argv + 1, argv + argc);
  if (!args.empty() && (args[0] == "--version" || args[0] == "version")) {
    std::cout << "slipwayd " << SLIPWAY_VERSION << "\n";
    return 0;
  }
  if (!args.empty() && (args[0] == "--help" || args[0] == "-h" || args[0] == "help")) {
    std::cout << kUsage;
    return 0;
  }
  bool fsck = !args.empty() && args[0] == "fsck";
  if (fsck) args.erase(args.begin());

  std::vector<std::string> boolean_flags;
  if (fsck) boolean_flags.push_back("repair");
  auto flags = slipway::ParseFlags(args, slipway::ConfigFlagNames(), boolean_flags);
  if (!flags.ok()) return UsageError(std::string(flags.status().message()));
  auto config = slipway::LoadConfig(*flags, slipway::ConfigEnvironment::FromProcess());
  if (!config.ok()) return UsageError(std::string(config.status().message()));
  slipway::InitLogging(config->log_level);

  if (fsck) {
    bool repair = false;
    for (const auto& f : *flags) {
      if (f.name == "repair") repair = f.value != "false";
    }
    return slipway::RunFsckCommand(*config, repair);
  }

  auto app = slipway::App::Start(*config);
  if (!app.ok()) {
    slipway::GetLogger("app")->error("cannot start: {}", std::string(app.status().message()));
    std::cerr << "slipwayd: cannot start: " << app.status().message() << "\n";
    return 1;
  }
  absl::Status status = (*app)->Run();
  app->reset();
  if (!status.ok()) {
    std::cerr << "slipwayd: " << status.message() << "\n";
    return 1;
  }
  return 0;
}
