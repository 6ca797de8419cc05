#include "client/step/step_progress.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "client/commands.h"
#include "client/rpc_status.h"
#include "client/scan_flow.h"

namespace slipway::client::step {

void StepProgress::Emit(const nlohmann::json& j) { out_ << j.dump() << "\n" << std::flush; }

void StepProgress::Phase(const std::string& name, const std::string& detail) {
  if (json_) return Emit({{"type", "phase"}, {"name", name}, {"detail", detail}});
  out_ << "==> " << name << (detail.empty() ? "" : ": ") << detail << "\n" << std::flush;
}

void StepProgress::Note(const std::string& message) {
  if (json_) return Emit({{"type", "note"}, {"message", message}});
  out_ << "    " << message << "\n" << std::flush;
}

void StepProgress::OnWarning(absl::string_view message) {
  Note(absl::StrCat("warning: ", message));
}

void StepProgress::OnContextSent(const ContextStats& s) {
  if (json_) {
    return Emit({{"type", "context"},
                 {"entries", s.entries},
                 {"files_uploaded", s.files_uploaded},
                 {"bytes_sent", s.bytes_sent},
                 {"files_hashed", s.files_hashed},
                 {"files_cached", s.files_cached}});
  }
  out_ << "    context: " << s.entries << " entries, " << s.files_uploaded << " files uploaded ("
       << HumanSize(s.bytes_sent) << " sent)\n"
       << std::flush;
}

void StepProgress::OnEvent(const v1::BuildEvent& ev) {
  if (json_) {
    return Emit({{"type", "event"},
                 {"step", ev.step()},
                 {"total_steps", ev.total_steps()},
                 {"stage", ev.stage()},
                 {"instruction", ev.instruction()},
                 {"state", BuildEventStateName(ev.state())},
                 {"bytes", ev.bytes()},
                 {"duration_ms", ev.duration_ms()},
                 {"message", ev.message()}});
  }
  // One line per finished step keeps a CI log short; "started" adds nothing a reader needs.
  if (ev.state() == v1::BuildEvent::STARTED) return;
  std::string line = absl::StrCat("    [", ev.step(), "/", ev.total_steps(), "] ",
                                  ev.instruction(), "  ", BuildEventStateName(ev.state()));
  if (ev.state() == v1::BuildEvent::DONE) {
    absl::StrAppend(&line, absl::StrFormat(" %.2fs", ev.duration_ms() / 1000.0), " ",
                    HumanSize(ev.bytes()));
  }
  if (!ev.message().empty()) absl::StrAppend(&line, ": ", ev.message());
  out_ << line << "\n" << std::flush;
}

void StepProgress::OnLog(const v1::BuildLog& log, int total_steps) {
  if (json_) {
    return Emit({{"type", "log"},
                 {"step", log.step()},
                 {"stream", log.stream() == v1::BuildLog::STDERR ? "stderr" : "stdout"},
                 {"line", log.line()}});
  }
  out_ << "    [" << log.step() << "/" << total_steps << "] | " << log.line() << "\n" << std::flush;
}

void StepProgress::OnBlob(const v1::BlobProgress& b) {
  if (b.state() == v1::BlobProgress::UPLOADING && b.bytes_sent() > 0) return;
  const int i = b.target_index();
  const std::string name = i >= 0 && i < static_cast<int>(names_.size()) ? names_[i] : "?";
  if (json_) {
    return Emit({{"type", "blob"},
                 {"target", name},
                 {"digest", b.digest()},
                 {"size", b.size()},
                 {"state", BlobStateName(b.state())}});
  }
  out_ << "    " << name << ": " << ShortDigest(b.digest()) << " " << BlobStateName(b.state())
       << " (" << HumanSize(b.size()) << ")\n"
       << std::flush;
}

void StepProgress::OnTargetDone(const v1::TargetResult& r) {
  if (!json_) return;  // the table prints them together
  Emit({{"type", "target"},
        {"target", TargetName(r.registry(), r.repository())},
        {"result", RpcCodeName(r.code())},
        {"message", r.message()},
        {"digest", r.manifest_digest()},
        {"bytes_sent", r.bytes_sent()},
        {"blobs_uploaded", r.blobs_uploaded()},
        {"blobs_mounted", r.blobs_mounted()},
        {"blobs_skipped", r.blobs_skipped()},
        {"retries", r.retries()},
        {"duration_ms", r.duration_ms()}});
}

void StepProgress::PushTable(const std::vector<v1::TargetResult>& results) {
  if (json_ || results.empty()) return;
  PrintPushTable(out_, results);
  out_ << std::flush;
}

void StepProgress::Scan(const v1::ScanResponse& response) {
  if (json_) {
    nlohmann::json scanners = nlohmann::json::array();
    for (const auto& r : response.results()) {
      scanners.push_back({{"scanner", r.scanner()},
                          {"passed", r.passed()},
                          {"exit_code", r.exit_code()},
                          {"summary", SeveritySummaryText(r.summary())},
                          {"message", r.message()}});
    }
    return Emit({{"type", "scan"},
                 {"digest", response.manifest_digest()},
                 {"passed", response.passed()},
                 {"results", scanners}});
  }
  out_ << "    scan of " << response.manifest_digest() << ": "
       << (response.passed() ? "PASSED" : "FAILED") << "\n";
  for (const auto& r : response.results()) PrintHookResult(out_, r);
  out_ << std::flush;
}

void StepProgress::Wrote(const std::string& what, const std::string& path, int64_t bytes) {
  if (json_) return Emit({{"type", "wrote"}, {"what", what}, {"path", path}, {"bytes", bytes}});
  out_ << "    wrote " << what << " " << path << " (" << HumanSize(bytes) << ")\n" << std::flush;
}

void StepProgress::Output(const std::string& variable, const std::string& path) {
  if (json_) return Emit({{"type", "output"}, {"variable", variable}, {"path", path}});
  out_ << "    " << variable << " → " << path << "\n" << std::flush;
}

void StepProgress::Result(const std::string& mode, const std::string& digest,
                          const std::vector<std::string>& images, double seconds) {
  if (json_) {
    return Emit({{"type", "result"},
                 {"mode", mode},
                 {"digest", digest},
                 {"images", images},
                 {"seconds", seconds}});
  }
  out_ << "==> done (" << mode << ", " << absl::StrFormat("%.1fs", seconds) << "): " << digest
       << "\n";
  for (const auto& image : images) out_ << "    " << image << "\n";
  out_ << std::flush;
}

void StepProgress::Error(const std::string& message) {
  if (json_) Emit({{"type", "error"}, {"message", message}});
}

}  // namespace slipway::client::step
