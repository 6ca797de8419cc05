#include "server/scan/scanner.h"

#include <sys/stat.h>

#include <filesystem>
#include <system_error>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/strip.h"
#include "server/registry/subprocess.h"
#include "server/scan/hook_runner.h"
#include "server/scan/http_hook.h"
#include "server/scan/report_parser.h"
#include "storage/archive/byte_stream.h"
#include "storage/status_macros.h"

extern char** environ;

namespace slipway::scan {
namespace fs = std::filesystem;
namespace {

constexpr char kDefaultPath[] = "/usr/local/bin:/usr/bin:/bin";
constexpr size_t kMessageTail = 2048;

// The hook's environment: only allow-listed variables that are set in ours, plus HOME and
// TMPDIR in its private directory (so scanners that cache have somewhere to write) and a PATH.
std::vector<std::string> HookEnvironment(const HookConfig& hook, const std::string& home,
                                         const std::string& tmp) {
  std::vector<std::string> env;
  bool have_path = false;
  for (const std::string& name : hook.env_allow) {
    if (name == "HOME" || name == "TMPDIR") continue;
    for (char** e = environ; *e != nullptr; ++e) {
      absl::string_view entry(*e);
      if (absl::StartsWith(entry, name + "=")) {
        env.emplace_back(entry);
        have_path = have_path || name == "PATH";
        break;
      }
    }
  }
  if (!have_path) env.push_back(absl::StrCat("PATH=", kDefaultPath));
  env.push_back("HOME=" + home);
  env.push_back("TMPDIR=" + tmp);
  return env;
}

std::string Tail(const std::string& s) {
  std::string t(absl::StripAsciiWhitespace(s));
  if (t.size() > kMessageTail) t = "…" + t.substr(t.size() - kMessageTail);
  return t;
}

}  // namespace

absl::StatusOr<Descriptor> StoreReport(BlobStore& blobs, const std::string& path,
                                       int64_t max_bytes, const std::string& media_type) {
  std::error_code ec;
  const auto size = fs::file_size(path, ec);
  if (ec) return absl::NotFoundError(absl::StrCat("report ", path, ": ", ec.message()));
  if (static_cast<int64_t>(size) > max_bytes) {
    return absl::ResourceExhaustedError(absl::StrCat("report is ", size,
                                                     " bytes, over the limit of ", max_bytes,
                                                     " (max_report_bytes); not stored"));
  }
  SLIPWAY_ASSIGN_OR_RETURN(auto source, FileByteSource::Open(path));
  SLIPWAY_ASSIGN_OR_RETURN(auto writer, blobs.NewWriter());
  int64_t total = 0;
  for (;;) {
    SLIPWAY_ASSIGN_OR_RETURN(absl::string_view chunk, source->Next());
    if (chunk.empty()) break;
    total += static_cast<int64_t>(chunk.size());
    if (total > max_bytes) {  // it grew after the size check
      return absl::ResourceExhaustedError(absl::StrCat(
          "report grew past the limit of ", max_bytes, " bytes (max_report_bytes); not stored"));
    }
    SLIPWAY_RETURN_IF_ERROR(writer->Append(chunk));
  }
  SLIPWAY_ASSIGN_OR_RETURN(BlobInfo info, writer->Commit());
  return Descriptor{media_type.empty() ? "application/json" : media_type, info.digest, info.size,
                    {}};
}

Scanner::Scanner(std::vector<HookConfig> hooks, BlobStore& blobs, ImageIndex& index,
                 std::string work_dir)
    : hooks_(std::move(hooks)),
      blobs_(blobs),
      index_(index),
      work_dir_(work_dir),
      materializer_(blobs, index, std::move(work_dir)) {}

std::vector<std::string> Scanner::hook_names() const {
  std::vector<std::string> names;
  for (const auto& h : hooks_) names.push_back(h.name);
  return names;
}

absl::StatusOr<ScanOutcome> Scanner::Scan(const ImageRecord& image, const ScanOptions& options) {
  if (hooks_.empty()) {
    return absl::FailedPreconditionError("scan: this server has no scan hooks configured");
  }
  std::vector<const HookConfig*> selected;
  if (options.scanners.empty()) {
    for (const auto& h : hooks_) selected.push_back(&h);
  } else {
    for (size_t i = 0; i < options.scanners.size(); ++i) {
      const HookConfig* found = nullptr;
      for (const auto& h : hooks_) {
        if (h.name == options.scanners[i]) found = &h;
      }
      if (found == nullptr) {
        return absl::NotFoundError(absl::StrCat("scanners[", i, "]: no scanner named \"",
                                                options.scanners[i], "\" is configured"));
      }
      selected.push_back(found);
    }
  }
  // Held for the whole scan so every hook shares one materialization.
  SLIPWAY_ASSIGN_OR_RETURN(auto materialized, materializer_.Get(image.manifest.digest));
  ScanOutcome outcome;
  outcome.manifest = image.manifest.digest;
  outcome.passed = true;
  // The hooks run at once, each on its own thread: a scan takes as long as its slowest
  // scanner, not the sum. Their number is the operator's (a few), so no pool is needed.
  std::vector<absl::StatusOr<HookRun>> runs(selected.size(),
                                            absl::UnknownError("hook did not run"));
  {
    std::vector<std::thread> threads;
    threads.reserve(selected.size());
    for (size_t i = 0; i < selected.size(); ++i) {
      threads.emplace_back([&, i] {
        runs[i] = RunShared(*selected[i], image, options, *materialized);
      });
    }
    for (auto& t : threads) t.join();
  }
  for (size_t i = 0; i < selected.size(); ++i) {
    SLIPWAY_ASSIGN_OR_RETURN(HookRun run, std::move(runs[i]));
    outcome.passed = outcome.passed && run.record.passed;
    if (run.timed_out_failed) outcome.timed_out.push_back(selected[i]->name);
    outcome.results.push_back(std::move(run.record));
  }
  return outcome;
}

absl::StatusOr<Scanner::HookRun> Scanner::RunShared(const HookConfig& hook,
                                                    const ImageRecord& image,
                                                    const ScanOptions& options,
                                                    MaterializedImage& materialized) {
  const std::string key = absl::StrCat(image.manifest.digest.ToString(), "\n", hook.name);
  std::shared_ptr<Flight> flight;
  bool leader = false;
  {
    absl::MutexLock lock(&mu_);
    auto it = flights_.find(key);
    if (it != flights_.end()) {
      flight = it->second;
    } else {
      flight = std::make_shared<Flight>();
      flights_[key] = flight;
      leader = true;
    }
  }
  if (!leader) {
    absl::MutexLock lock(&flight->mu);
    flight->mu.Await(absl::Condition(&flight->done));
    return flight->result;
  }
  absl::StatusOr<HookRun> result = RunHook(hook, image, options, materialized);
  {
    absl::MutexLock lock(&mu_);
    flights_.erase(key);
  }
  absl::MutexLock lock(&flight->mu);
  flight->result = result;
  flight->done = true;
  return result;
}

std::string Scanner::ScannerVersion(const HookConfig& hook) {
  if (!hook.version.empty() || hook.version_command.empty()) return hook.version;
  {
    absl::MutexLock lock(&mu_);
    auto it = versions_.find(hook.name);
    if (it != versions_.end()) return it->second;
  }
  registry::ProcessOptions options;
  options.timeout = absl::Seconds(30);
  options.max_output = 4096;
  auto run = registry::RunProcess(hook.version_command, options);
  if (!run.ok() || run->exit_code != 0) return "";
  std::string out(absl::StripAsciiWhitespace(run->out));
  std::string version = out.substr(0, out.find('\n'));
  absl::MutexLock lock(&mu_);
  versions_[hook.name] = version;
  return version;
}

absl::Status Scanner::FinishReport(const HookConfig& hook, const std::string& report,
                                   ScanResultRecord& r) {
  std::error_code ec;
  if (fs::exists(report, ec)) {
    auto stored = StoreReport(blobs_, report, hook.max_report_bytes, hook.report_media_type);
    if (stored.ok()) {
      r.report = *stored;
      if (auto counts = SummarizeReportFile(report, hook.max_report_bytes)) {
        SetSummary(*counts, &r);
      }
    } else if (absl::IsResourceExhausted(stored.status())) {
      // Fail closed: a result whose evidence we could not keep does not pass.
      r.passed = false;
      r.message = absl::StrCat(r.message.empty() ? "" : r.message + "; ",
                               stored.status().message());
    } else {
      return stored.status();
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<Scanner::HookRun> Scanner::RunHook(const HookConfig& hook,
                                                  const ImageRecord& image,
                                                  const ScanOptions& options,
                                                  MaterializedImage& materialized) {
  uint64_t run_id;
  {
    absl::MutexLock lock(&mu_);
    run_id = next_run_++;
  }
  const std::string dir = absl::StrCat(materialized.dir(), "/run-", hook.name, "-", run_id);
  std::error_code ec;
  fs::create_directories(dir + "/home", ec);
  if (!ec) fs::create_directories(dir + "/tmp", ec);
  if (ec) return absl::InternalError(absl::StrCat("scan: cannot create ", dir, ": ", ec.message()));
  const std::string report = dir + "/report";

  const std::string image_name =
      options.image_name.empty() ? image.manifest.digest.ToString() : options.image_name;
  std::vector<std::pair<std::string, std::string>> subst = {
      {"{digest}", image.manifest.digest.ToString()}, {"{image}", image_name}, {"{report}", report}};
  HookRun out;
  ScanResultRecord& r = out.record;
  r.manifest = image.manifest.digest;
  r.scanner = hook.name;
  r.scanner_version = ScannerVersion(hook);
  r.source = "hook";
  if (hook.type == HookConfig::Type::kHttp) {
    SLIPWAY_ASSIGN_OR_RETURN(std::string archive, materialized.Archive(image));
    SLIPWAY_ASSIGN_OR_RETURN(
        HttpHookResult http,
        RunHttpHook(hook, archive, image.manifest.digest, image_name, report));
    r.duration_ms = absl::ToInt64Milliseconds(http.duration);
    r.exit_code = http.http_status;  // for http hooks: the HTTP status (0 = no answer)
    r.passed = http.passed || (http.timed_out && hook.pass_on_timeout);
    out.timed_out_failed = http.timed_out && !hook.pass_on_timeout;
    r.message = http.message;
    SLIPWAY_RETURN_IF_ERROR(FinishReport(hook, report, r));
    fs::remove_all(dir, ec);
    SLIPWAY_RETURN_IF_ERROR(index_.RecordScanResult(r));
    return out;
  }
  bool need_archive = false, need_oci = false;
  for (const auto& arg : hook.argv) {
    need_archive = need_archive || absl::StrContains(arg, "{archive}");
    need_oci = need_oci || absl::StrContains(arg, "{oci_dir}");
  }
  if (need_archive) {
    SLIPWAY_ASSIGN_OR_RETURN(std::string path, materialized.Archive(image));
    subst.push_back({"{archive}", path});
  }
  if (need_oci) {
    SLIPWAY_ASSIGN_OR_RETURN(std::string path, materialized.OciDir(image));
    subst.push_back({"{oci_dir}", path});
  }
  HookProcessOptions run;
  for (const auto& arg : hook.argv) run.argv.push_back(absl::StrReplaceAll(arg, subst));
  run.env = HookEnvironment(hook, dir + "/home", dir + "/tmp");
  run.cwd = dir;
  run.timeout = hook.timeout;
  run.memory_limit_bytes = hook.memory_limit_bytes;
  if (on_hook_start_) run.on_start = [&](pid_t pid) { on_hook_start_(hook.name, pid); };

  auto done = RunHookProcess(run);
  if (!done.ok()) {
    // A hook that cannot even start is a failed scan (closed), recorded like any other.
    r.passed = false;
    r.message = std::string(done.status().message());
  } else {
    r.duration_ms = absl::ToInt64Milliseconds(done->duration);
    r.exit_code = done->exit_code;
    if (done->timed_out) {
      r.passed = hook.pass_on_timeout;
      out.timed_out_failed = !hook.pass_on_timeout;
      r.message = absl::StrCat("timed out after ", absl::FormatDuration(hook.timeout),
                               "; killed (", hook.pass_on_timeout ? "on_timeout=pass: counted as passed"
                                                                  : "fail closed", ")");
    } else if (done->signal != 0) {
      r.passed = false;
      r.message = absl::StrCat("killed by signal ", done->signal,
                               hook.memory_limit_bytes > 0 ? " (memory limit?)" : "", ": ",
                               Tail(done->output));
    } else {
      r.passed = done->exit_code == 0;
      if (!r.passed) r.message = absl::StrCat("exit ", done->exit_code, ": ", Tail(done->output));
    }
  }
  SLIPWAY_RETURN_IF_ERROR(FinishReport(hook, report, r));
  // The run's files (the report included: it is in the store now) go at once; the shared
  // image stays until its last user is done.
  fs::remove_all(dir, ec);
  SLIPWAY_RETURN_IF_ERROR(index_.RecordScanResult(r));
  return out;
}

}  // namespace slipway::scan
