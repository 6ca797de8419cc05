// slipway: the step client of slipwayd.
#include <signal.h>
#include <strings.h>
#include <unistd.h>

#include <cstdlib>
#include <iostream>
#include <string>
#include <vector>

#include "client/commands.h"
#include "client/connection.h"
#include "client/step/step_main.h"

extern char** environ;

namespace {

constexpr char kUsage[] =
    "usage: slipway <command> [args]\n"
    "  build [-f FILE] [-t TAG]... [--build-arg K[=V]]... [--target STAGE] [--no-cache]\n"
    "        [--platform OS/ARCH[/VARIANT]] [--label K=V]... [--format oci|docker]\n"
    "        [--source-date-epoch N] [--iidfile PATH] [--json] [--quiet]\n"
    "        [--secret id=ID[,src=FILE|,env=VAR]]... [--network none|host] CONTEXT_DIR\n"
    "  import FILE|DIR [--tag T]... [--select TAG] [--ignore-archive-tags]\n"
    "  export REF -o FILE|- [--format docker|docker-legacy|oci]\n"
    "  load REF [--docker-host unix:///PATH|tcp://HOST:PORT] [--tag T]...\n"
    "       (into a Docker Engine API; default DOCKER_HOST, else /var/run/docker.sock;\n"
    "        DOCKER_TLS_VERIFY / DOCKER_CERT_PATH for TLS; --tag names it, default its tags)\n"
    "  images [--json]\n"
    "  tag REF TAG\n"
    "  rm REF...\n"
    "  gc [--dry-run] [--grace DURATION]\n"
    "  push REF REGISTRY/REPO[:TAG] [--tag T]... [--username U --password-stdin] [--insecure]\n"
    "       [--skip-verify] [--ca FILE]   (or SLIPWAY_REGISTRY_USERNAME / SLIPWAY_REGISTRY_PASSWORD)\n"
    "       [--require-scan any|all] [--max-severity none|low|medium|high|critical]\n"
    "       [--attach-scan-reports]\n"
    "  push-many REF REGISTRY/REPO[:TAG]... [same flags, applied to every destination]\n"
    "  scan REF [--scanner NAME]...   (exit 1 when the scan failed)\n"
    "  record-scan REF --scanner NAME --passed|--failed [--version V] [--exit-code N]\n"
    "       [--report FILE [--media-type T]] [--critical N --high N --medium N --low N]\n"
    "       [--message M] [--token-file F]   (or SLIPWAY_RECORD_SCAN_TOKEN[_FILE])\n"
    "  step [--repo R --tags T,... --no-push --push-only ...]   (a CI build-and-push step,\n"
    "       configured like the Drone/Harness docker, buildx, kaniko and buildah plugins by\n"
    "       PLUGIN_* variables; `slipway` alone runs it when PLUGIN_* variables are set;\n"
    "       `slipway step --help` lists the flags, docs/STEP.md the variables)\n"
    "  version\n"
    "environment: SLIPWAY_ADDR (unix:///path or host:port), SLIPWAY_TOKEN or SLIPWAY_TOKEN_FILE,\n"
    "             SLIPWAY_TLS=1 and SLIPWAY_TLS_CA for TLS on TCP\n";

}  // namespace

int main(int argc, char** argv) {
  signal(SIGPIPE, SIG_IGN);
  std::vector<std::string> args(argv + 1, argv + argc);
  auto env = [](const std::string& name) -> std::optional<std::string> {
    const char* v = std::getenv(name.c_str());
    if (v == nullptr) return std::nullopt;
    return std::string(v);
  };
  std::vector<std::string> env_names;
  bool has_plugin_vars = false;
  for (char** e = environ; *e != nullptr; ++e) {
    std::string entry(*e);
    env_names.push_back(entry.substr(0, entry.find('=')));
    if (strncasecmp(entry.c_str(), "PLUGIN_", 7) == 0) has_plugin_vars = true;
  }
  // A CI step runs the image's entrypoint with no arguments and PLUGIN_* variables; a first
  // argument that is a flag (other than help/version) also means a step.
  const bool step_flags = !args.empty() && args[0].rfind("--", 0) == 0 && args[0] != "--help" &&
                          args[0] != "--version";
  if ((args.empty() && has_plugin_vars) || step_flags) {
    return slipway::client::step::RunStepMain(env, env_names, args);
  }
  if (args.empty()) {
    std::cerr << kUsage;
    return slipway::client::kExitUsage;
  }
  std::string command = args[0];
  args.erase(args.begin());
  if (command == "step") return slipway::client::step::RunStepMain(env, env_names, args);
  if (command == "version" || command == "--version") {
    std::cout << "slipway " << SLIPWAY_VERSION << "\n";
    return 0;
  }
  if (command == "help" || command == "--help" || command == "-h") {
    std::cout << kUsage;
    return 0;
  }
  using Runner = int (*)(slipway::client::Connection&, const std::vector<std::string>&);
  Runner run = nullptr;
  if (command == "build") run = slipway::client::RunBuild;
  if (command == "import") run = slipway::client::RunImport;
  if (command == "export") run = slipway::client::RunExport;
  if (command == "load") run = slipway::client::RunLoad;
  if (command == "images") run = slipway::client::RunImages;
  if (command == "tag") run = slipway::client::RunTag;
  if (command == "rm") run = slipway::client::RunRm;
  if (command == "gc") run = slipway::client::RunGc;
  if (command == "push") run = slipway::client::RunPush;
  if (command == "push-many") run = slipway::client::RunPushMany;
  if (command == "scan") run = slipway::client::RunScan;
  if (command == "record-scan") run = slipway::client::RunRecordScan;
  if (run == nullptr) {
    std::cerr << "slipway: unknown command \"" << command << "\"\n" << kUsage;
    return slipway::client::kExitUsage;
  }
  auto settings = slipway::client::SettingsFromEnvironment(env, geteuid() == 0);
  if (!settings.ok()) {
    std::cerr << "slipway: " << command << ": " << settings.status().message() << "\n";
    return slipway::client::kExitFailed;
  }
  auto conn = slipway::client::Connection::Open(*settings);
  if (!conn.ok()) {
    std::cerr << "slipway: " << command << ": " << conn.status().message() << "\n";
    return slipway::client::kExitFailed;
  }
  return run(**conn, args);
}
