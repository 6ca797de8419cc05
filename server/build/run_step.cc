// RUN: prepare (mounts, environment, cache-key inputs), then execute in the sandbox and turn
// the overlay upper directory into the layer.

#include "server/build/run_step.h"

#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <set>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "server/build/layer/upper_dir.h"
#include "server/build/run/run_user.h"
#include "server/build/run/tree_materializer.h"
#include "storage/status_macros.h"

namespace slipway::build {
namespace {

// Docker's PATH for a RUN whose image sets none.
constexpr char kDefaultPath[] =
    "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
constexpr size_t kLastLinesInError = 10;

std::string EnvName(const std::string& kv) { return kv.substr(0, kv.find('=')); }

bool HasEnv(const std::vector<std::string>& env, const std::string& name) {
  for (const std::string& kv : env) {
    if (EnvName(kv) == name) return true;
  }
  return false;
}

// A heredoc that is the whole command ("RUN <<EOF"): its body is the script.
bool IsBareHeredoc(const RunCommand& run) {
  if (run.heredocs.size() != 1) return false;
  std::string cmd(absl::StripAsciiWhitespace(run.shell_command));
  if (!absl::StartsWith(cmd, "<<")) return false;
  cmd = cmd.substr(2);
  if (absl::StartsWith(cmd, "-")) cmd = cmd.substr(1);
  cmd = std::string(absl::StripPrefix(absl::StripSuffix(cmd, "\""), "\""));
  cmd = std::string(absl::StripPrefix(absl::StripSuffix(cmd, "'"), "'"));
  return cmd == run.heredocs[0].name;
}

}  // namespace

absl::StatusOr<std::unique_ptr<RunStep>> RunStep::Prepare(RunStepInput input) {
  std::unique_ptr<RunStep> step(new RunStep(std::move(input)));
  SLIPWAY_RETURN_IF_ERROR(step->Plan());
  return step;
}

absl::Status RunStep::Plan() {
  const RunCommand& run = *in_.body;
  const ImageConfig& config = *in_.config;
  BuildRun& build = *in_.run;

  // The command.
  if (run.json_form) {
    argv_ = run.argv;
    if (argv_.empty()) return absl::InvalidArgumentError("RUN: empty command");
  } else {
    argv_ = config.Shell();
    if (IsBareHeredoc(run) && absl::StartsWith(run.heredocs[0].content, "#!")) {
      script_ = run.heredocs[0].content;  // run as a file, by its own interpreter
      argv_ = {"/.slipway-run-script"};
    } else if (IsBareHeredoc(run)) {
      argv_.push_back(run.heredocs[0].content);
    } else {
      // The shell handles heredocs itself: hand it the command with the bodies after it.
      std::string script = run.shell_command;
      for (const Heredoc& h : run.heredocs) absl::StrAppend(&script, "\n", h.content, h.name);
      argv_.push_back(script);
    }
  }
  created_by_ = absl::StrCat("RUN ", absl::StrJoin(argv_, " "));

  // The environment: the image's, then build args the image does not set (ENV wins).
  env_ = config.Env();
  for (const auto& [name, value] : in_.args_in_scope) {
    if (!HasEnv(env_, name)) env_.push_back(absl::StrCat(name, "=", value));
  }
  if (!HasEnv(env_, "PATH")) env_.insert(env_.begin(), kDefaultPath);
  cwd_ = config.WorkingDir();

  // Network and security.
  std::string network = run.network.empty() ? build.request->spec.network() : run.network;
  if (network == "none") {
    network_none_ = true;
  } else if (!network.empty() && network != "host" && network != "default") {
    return absl::InvalidArgumentError(
        absl::StrCat("RUN --network=", network, ": expected default, none or host"));
  }
  if (!run.security.empty() && run.security != "sandbox") {
    return absl::InvalidArgumentError(absl::StrCat(
        "RUN --security=", run.security, ": only sandbox is supported (no insecure builds)"));
  }

  // Mounts.
  std::set<std::string> secret_ids;
  for (const auto& s : build.request->spec.secrets()) secret_ids.insert(s.id());
  for (const std::string& value : run.mounts) {
    SLIPWAY_ASSIGN_OR_RETURN(RunMountSpec mount, ParseRunMount(value, cwd_));
    MountSource source;
    switch (mount.type) {
      case RunMountSpec::Type::kBind: {
        SLIPWAY_ASSIGN_OR_RETURN(source, in_.resolve_source(mount.from));
        // The mounted content is an input: fingerprint it like a COPY source.
        std::vector<std::string> parts{source.identity};
        absl::Status found = AppendTreeFingerprint(*source.tree, mount.source, &parts);
        if (absl::IsNotFound(found)) {
          return absl::NotFoundError(absl::StrCat("RUN --mount: source \"", mount.source,
                                                  "\" not found in ",
                                                  mount.from.empty() ? "the build context"
                                                                     : mount.from));
        }
        SLIPWAY_RETURN_IF_ERROR(found);
        key_parts_.push_back(absl::StrCat("bind|", mount.target, "|", mount.source, "|",
                                          mount.read_only, "|", CacheKey(parts)));
        break;
      }
      case RunMountSpec::Type::kCache:
        if (!mount.from.empty()) {
          return absl::InvalidArgumentError("RUN --mount=type=cache: from= is not supported");
        }
        key_parts_.push_back(absl::StrCat("cache|", mount.target, "|", mount.id));
        break;
      case RunMountSpec::Type::kTmpfs:
        key_parts_.push_back(absl::StrCat("tmpfs|", mount.target, "|", mount.size_bytes));
        break;
      case RunMountSpec::Type::kSecret:
        if (secret_ids.count(mount.id) == 0 && mount.required) {
          return absl::NotFoundError(absl::StrCat(
              "RUN --mount=type=secret: secret \"", mount.id,
              "\" is required but the build has no such secret (slipway build --secret id=",
              mount.id, ",src=FILE)"));
        }
        key_parts_.push_back(absl::StrCat("secret|", mount.target, "|", mount.id));
        break;
      case RunMountSpec::Type::kSsh:
        return absl::InvalidArgumentError("RUN --mount=type=ssh is not supported");
    }
    mounts_.push_back(mount);
    mount_sources_.push_back(source);
  }

  key_parts_.insert(key_parts_.begin(),
                    {absl::StrCat("argv=", absl::StrJoin(argv_, "\x1f")),
                     absl::StrCat("env=", absl::StrJoin(env_, "\x1f")),
                     absl::StrCat("user=", config.User()), absl::StrCat("cwd=", cwd_),
                     absl::StrCat("network=", network_none_ ? "none" : "host"),
                     absl::StrCat("script=", script_)});
  return absl::OkStatus();
}

absl::StatusOr<WrittenLayer> RunStep::Execute() {
  BuildRun& build = *in_.run;
  if (!build.run_support->ok()) {
    return absl::FailedPreconditionError(
        absl::StrCat("RUN cannot run on this host: ", build.run_support->message()));
  }
  SLIPWAY_ASSIGN_OR_RETURN(std::vector<std::string> lowers, in_.fs->UnpackedDirs());
  std::reverse(lowers.begin(), lowers.end());  // overlayfs wants the top layer first
  SLIPWAY_ASSIGN_OR_RETURN(auto rootfs, in_.fs->View());
  SLIPWAY_ASSIGN_OR_RETURN(RunUser user, ResolveRunUser(in_.config->User(), *rootfs));

  const std::string dir = absl::StrCat(build.staging_dir, "/run-", in_.stage_index, "-",
                                       in_.command->line, "-", build.next_run_dir.fetch_add(1));
  std::error_code ec;
  std::filesystem::create_directories(dir + "/upper", ec);
  std::filesystem::create_directories(dir + "/work", ec);
  if (ec) return absl::InternalError(absl::StrCat("creating ", dir, ": ", ec.message()));
  // The upper directory is adopted by UnpackedLayers on success; the rest is scratch.
  absl::Cleanup remove_scratch = [&dir] {
    std::error_code ignored;
    std::filesystem::remove_all(dir, ignored);
  };

  SandboxSpec spec;
  spec.lower_dirs = std::move(lowers);
  spec.upper_dir = dir + "/upper";
  spec.work_dir = dir + "/work";
  spec.argv = argv_;
  spec.env = env_;
  if (!HasEnv(spec.env, "HOME")) spec.env.push_back(absl::StrCat("HOME=", user.home));
  spec.cwd = cwd_;
  spec.uid = user.uid;
  spec.gid = user.gid;
  spec.supplementary_gids = user.supplementary_gids;
  spec.network_none = network_none_;
  spec.cancelled = build.request->cancelled;

  if (!script_.empty()) {
    const std::string path = dir + "/script";
    std::ofstream script(path, std::ios::binary);
    script << script_;
    script.close();
    if (!script || chmod(path.c_str(), 0755) != 0) {
      return absl::InternalError(absl::StrCat("writing the heredoc script ", path));
    }
    SandboxMount m;
    m.kind = SandboxMount::Kind::kBind;
    m.source = path;
    m.target = argv_[0];
    spec.mounts.push_back(m);
  }

  std::vector<std::unique_ptr<CacheMountDirs::Lease>> cache_leases;
  for (size_t i = 0; i < mounts_.size(); ++i) {
    const RunMountSpec& mount = mounts_[i];
    SandboxMount m;
    m.target = mount.target;
    m.read_only = mount.read_only;
    switch (mount.type) {
      case RunMountSpec::Type::kBind: {
        const std::string dest = absl::StrCat(dir, "/bind-", i);
        SLIPWAY_RETURN_IF_ERROR(MaterializeTree(*mount_sources_[i].tree, mount.source, dest));
        m.kind = SandboxMount::Kind::kBind;
        m.source = dest;
        break;
      }
      case RunMountSpec::Type::kCache: {
        if (build.cache_mounts == nullptr) {
          return absl::FailedPreconditionError("RUN --mount=type=cache: no cache directory");
        }
        SLIPWAY_ASSIGN_OR_RETURN(auto lease,
                                 build.cache_mounts->Acquire(mount.id, mount.sharing, mount.mode,
                                                             mount.uid, mount.gid));
        m.kind = SandboxMount::Kind::kBind;
        m.source = lease->path();
        m.read_only = mount.read_only;
        cache_leases.push_back(std::move(lease));
        break;
      }
      case RunMountSpec::Type::kTmpfs:
        m.kind = SandboxMount::Kind::kTmpfs;
        m.read_only = false;
        m.size_bytes = mount.size_bytes;
        break;
      case RunMountSpec::Type::kSecret: {
        const v1::BuildSecret* secret = nullptr;
        for (const auto& s : build.request->spec.secrets()) {
          if (s.id() == mount.id) secret = &s;
        }
        if (secret == nullptr) continue;  // not required: no file, as BuildKit does
        m.kind = SandboxMount::Kind::kSecretFile;
        m.content = secret->value();
        m.mode = mount.mode == 0 ? 0400 : mount.mode;
        m.uid = mount.uid;
        m.gid = mount.gid;
        break;
      }
      case RunMountSpec::Type::kSsh:
        break;
    }
    spec.mounts.push_back(std::move(m));
  }

  v1::BuildLog log;
  log.set_step(in_.step);
  auto output = [&](bool is_stderr, const std::string& line) {
    log.set_stream(is_stderr ? v1::BuildLog::STDERR : v1::BuildLog::STDOUT);
    log.set_line(line);
    build.observer->OnLog(log);
  };
  SLIPWAY_ASSIGN_OR_RETURN(SandboxResult result,
                           RunInSandbox(*build.sandbox, spec, output));
  if (result.exit_code != 0) {
    std::vector<std::string> tail = result.last_lines;
    if (tail.size() > kLastLinesInError) tail.erase(tail.begin(), tail.end() - kLastLinesInError);
    std::string message = absl::StrCat("RUN ", absl::StrJoin(argv_, " "),
                                       ": exit code ", result.exit_code);
    if (!tail.empty()) absl::StrAppend(&message, "; last output:\n", absl::StrJoin(tail, "\n"));
    return absl::FailedPreconditionError(message);
  }

  UpperDirOptions upper_options;
  upper_options.source_date_epoch = build.layer_options.source_date_epoch;
  SLIPWAY_ASSIGN_OR_RETURN(std::vector<LayerEntry> entries,
                           EntriesFromUpperDir(spec.upper_dir, upper_options));
  SLIPWAY_ASSIGN_OR_RETURN(WrittenLayer layer, WriteLayer(std::move(entries), build.layer_options,
                                                          *build.store, build.index));
  // The upper directory already is the layer in overlay form: the next RUN stacks it as is.
  (void)build.unpacked->Adopt(layer.diff_id, spec.upper_dir);
  return layer;
}

}  // namespace slipway::build
