// slipway build: walks and hashes the context locally, sends only what the server lacks, and
// prints the build's progress.
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "client/build_flow.h"
#include "client/commands.h"
#include "nlohmann/json.hpp"

namespace slipway::client {
namespace {

struct BuildFlags {
  std::string context;
  std::string dockerfile;
  bool json = false;
  bool quiet = false;
  std::string iidfile;
  v1::BuildSpec spec;
};

int BuildFail(const std::string& cause) {
  std::cerr << "slipway build: " << cause << "\n";
  return kExitFailed;
}

int BuildUsage(const std::string& cause) {
  std::cerr << "slipway build: " << cause << "\n"
            << "usage: slipway build [-f FILE] [-t TAG]... [--build-arg K[=V]]... [--target STAGE]\n"
            << "       [--no-cache] [--platform OS/ARCH[/VARIANT]] [--label K=V]...\n"
            << "       [--format oci|docker] [--compression gzip|zstd] [--source-date-epoch N] [--iidfile PATH] [--json]\n"
            << "       [--secret id=ID[,src=FILE|,env=VAR]]... [--network none|host]\n"
            << "       [--quiet] CONTEXT_DIR\n";
  return kExitUsage;
}

// --secret id=ID[,src=FILE|,env=VAR] (BuildKit's syntax; with neither, the variable named ID).
// The value travels in the request for this build only; it is never echoed.
std::string AddSecret(const std::string& value, v1::BuildSpec* spec) {
  std::string id, src, env;
  for (absl::string_view part : absl::StrSplit(value, ',')) {
    std::pair<std::string, std::string> kv = absl::StrSplit(part, absl::MaxSplits('=', 1));
    if (kv.first == "id") id = kv.second;
    else if (kv.first == "src" || kv.first == "source") src = kv.second;
    else if (kv.first == "env") env = kv.second;
    else if (kv.first == "type" && (kv.second == "file" || kv.second == "env")) continue;
    else return "--secret: unknown key \"" + kv.first + "\" (want id=ID,src=FILE or id=ID,env=VAR)";
  }
  if (id.empty()) return "--secret: id= is required";
  v1::BuildSecret* secret = spec->add_secrets();
  secret->set_id(id);
  if (!src.empty()) {
    std::ifstream in(src, std::ios::binary);
    if (!in) return "--secret id=" + id + ": cannot read " + src;
    std::stringstream content;
    content << in.rdbuf();
    secret->set_value(content.str());
    return "";
  }
  const char* from_env = std::getenv((env.empty() ? id : env).c_str());
  if (from_env == nullptr) {
    return "--secret id=" + id + ": no src= file and no environment variable " +
           (env.empty() ? id : env);
  }
  secret->set_value(from_env);
  return "";
}

// Returns an error message, empty when the flags are fine.
std::string ParseBuildFlags(const std::vector<std::string>& raw, BuildFlags* out) {
  Args args = SplitArgs(raw,
                        {"-f", "--file", "-t", "--tag", "--build-arg", "--target", "--platform",
                         "--label", "--format", "--compression", "--source-date-epoch",
                         "--iidfile", "--secret", "--network"},
                        {"--no-cache", "--json", "--quiet", "-q"});
  if (!args.error.empty()) return args.error;
  if (args.positional.size() != 1) return "want exactly one CONTEXT_DIR";
  out->context = args.positional[0];
  v1::BuildSpec& spec = out->spec;
  bool epoch_set = false;
  for (const auto& [name, value] : args.flags) {
    if (name == "--secret") {
      std::string error = AddSecret(value, &spec);
      if (!error.empty()) return error;
    }
    if (name == "--network") {
      if (value != "none" && value != "host" && value != "default") {
        return "--network: want none, host or default, got \"" + value + "\"";
      }
      spec.set_network(value);
    }
    if (name == "-f" || name == "--file") out->dockerfile = value;
    if (name == "-t" || name == "--tag") spec.add_tags(value);
    if (name == "--target") spec.set_target(value);
    if (name == "--no-cache") spec.set_no_cache(true);
    if (name == "--json") out->json = true;
    if (name == "--quiet" || name == "-q") out->quiet = true;
    if (name == "--iidfile") out->iidfile = value;
    if (name == "--build-arg") {
      size_t eq = value.find('=');
      if (value.empty() || eq == 0) return "--build-arg: want KEY=VALUE or KEY, got \"" + value + "\"";
      if (eq == std::string::npos) {
        // KEY alone takes the environment's value, and is dropped when unset (as docker does).
        if (const char* v = std::getenv(value.c_str())) (*spec.mutable_build_args())[value] = v;
      } else {
        (*spec.mutable_build_args())[value.substr(0, eq)] = value.substr(eq + 1);
      }
    }
    if (name == "--label") {
      size_t eq = value.find('=');
      if (eq == std::string::npos || eq == 0) return "--label: want KEY=VALUE, got \"" + value + "\"";
      (*spec.mutable_labels())[value.substr(0, eq)] = value.substr(eq + 1);
    }
    if (name == "--platform") {
      std::vector<std::string> parts = absl::StrSplit(value, '/');
      if (parts.size() < 2 || parts.size() > 3 || parts[0].empty() || parts[1].empty()) {
        return "--platform: want OS/ARCH[/VARIANT], got \"" + value + "\"";
      }
      spec.mutable_platform()->set_os(parts[0]);
      spec.mutable_platform()->set_architecture(parts[1]);
      if (parts.size() == 3) spec.mutable_platform()->set_variant(parts[2]);
    }
    if (name == "--format") {
      if (value == "docker") {
        spec.set_docker_media_types(true);
      } else if (value != "oci") {
        return "--format: want oci or docker, got \"" + value + "\"";
      }
    }
    if (name == "--compression") {
      if (value != "gzip" && value != "zstd") {
        return "--compression: want gzip or zstd, got \"" + value + "\"";
      }
      spec.set_compression(value);
    }
    if (name == "--source-date-epoch") {
      int64_t epoch = 0;
      if (!absl::SimpleAtoi(value, &epoch) || epoch < 0) {
        return "--source-date-epoch: want a non-negative integer, got \"" + value + "\"";
      }
      spec.set_source_date_epoch(epoch);
      epoch_set = true;
    }
  }
  if (!epoch_set) {
    if (const char* env = std::getenv("SOURCE_DATE_EPOCH"); env != nullptr && *env != '\0') {
      int64_t epoch = 0;
      if (!absl::SimpleAtoi(env, &epoch) || epoch < 0) {
        return std::string("SOURCE_DATE_EPOCH: want a non-negative integer, got \"") + env + "\"";
      }
      spec.set_source_date_epoch(epoch);
    }
  }
  if (out->dockerfile.empty()) out->dockerfile = out->context + "/Dockerfile";
  return "";
}

// Prints a build's progress as `slipway build` always has: human lines, or JSON lines.
class BuildPrinter : public BuildObserver {
 public:
  explicit BuildPrinter(const BuildFlags& flags) : flags_(flags) {}

  void OnWarning(absl::string_view message) override {
    if (!flags_.quiet) std::cerr << "slipway build: warning: " << message << "\n";
  }

  void OnContextSent(const ContextStats& s) override {
    if (flags_.json) {
      nlohmann::json j = {{"type", "context"},         {"entries", s.entries},
                          {"files_uploaded", s.files_uploaded}, {"bytes_sent", s.bytes_sent},
                          {"files_hashed", s.files_hashed},
                          {"files_cached", s.files_cached}};
      std::cout << j.dump() << "\n" << std::flush;
    } else if (!flags_.quiet) {
      std::cout << "context: " << s.entries << " entries, " << s.files_uploaded
                << " files uploaded, " << s.bytes_sent << " bytes sent\n"
                << std::flush;
    }
  }

  void OnEvent(const v1::BuildEvent& ev) override {
    if (flags_.json) {
      nlohmann::json j = {{"type", "event"},          {"step", ev.step()},
                          {"total_steps", ev.total_steps()}, {"stage", ev.stage()},
                          {"instruction", ev.instruction()}, {"state", BuildEventStateName(ev.state())},
                          {"bytes", ev.bytes()},      {"duration_ms", ev.duration_ms()},
                          {"message", ev.message()}};
      std::cout << j.dump() << "\n" << std::flush;
    } else if (!flags_.quiet) {
      std::string line = absl::StrCat("[", ev.step(), "/", ev.total_steps(), "] ",
                                      ev.instruction(), "  ", BuildEventStateName(ev.state()));
      if (ev.state() == v1::BuildEvent::DONE) {
        absl::StrAppend(&line, " ", ev.duration_ms(), " ms ", HumanSize(ev.bytes()));
      }
      if (!ev.message().empty()) absl::StrAppend(&line, ": ", ev.message());
      std::cout << line << "\n" << std::flush;
    }
  }

  void OnLog(const v1::BuildLog& log, int total) override {
    if (flags_.json) {
      nlohmann::json j = {{"type", "log"},
                          {"step", log.step()},
                          {"stream", log.stream() == v1::BuildLog::STDERR ? "stderr" : "stdout"},
                          {"line", log.line()}};
      std::cout << j.dump() << "\n" << std::flush;
    } else if (!flags_.quiet) {
      std::cout << "[" << log.step() << "/" << total << "] | " << log.line() << "\n"
                << std::flush;
    }
  }

 private:
  const BuildFlags& flags_;
};

}  // namespace

int RunBuild(Connection& conn, const std::vector<std::string>& args) {
  BuildFlags flags;
  std::string usage = ParseBuildFlags(args, &flags);
  if (!usage.empty()) return BuildUsage(usage);
  BuildInput input{flags.context, flags.dockerfile, flags.spec};
  BuildPrinter printer(flags);
  absl::StatusOr<v1::Image> image = BuildImage(conn, input, &printer);
  if (!image.ok()) {
    if (flags.json) {
      std::cout << nlohmann::json({{"type", "error"}, {"message", std::string(image.status().message())}})
                       .dump()
                << "\n";
    }
    return BuildFail(std::string(image.status().message()));
  }
  const std::string& digest = image->manifest().digest();
  if (!flags.iidfile.empty()) {
    std::ofstream out(flags.iidfile, std::ios::binary | std::ios::trunc);
    out << digest;
    if (!out.good()) return BuildFail(absl::StrCat("cannot write --iidfile ", flags.iidfile));
  }
  if (flags.json) {
    nlohmann::json tags = nlohmann::json::array();
    for (const auto& t : image->tags()) tags.push_back(t);
    std::cout << nlohmann::json({{"type", "result"}, {"digest", digest}, {"tags", tags}}).dump()
              << "\n";
  } else if (flags.quiet) {
    std::cout << digest << "\n";
  } else {
    std::cout << "built " << digest << "\n";
    for (const auto& t : image->tags()) std::cout << "tagged " << t << "\n";
  }
  return kExitOk;
}

}  // namespace slipway::client
