#ifndef SLIPWAY_CLIENT_STEP_STEP_PROGRESS_H_
#define SLIPWAY_CLIENT_STEP_STEP_PROGRESS_H_

#include <ostream>
#include <string>
#include <vector>

#include "client/build_flow.h"
#include "client/push_flow.h"
#include "nlohmann/json.hpp"
#include "slipway/v1/slipway.pb.h"

namespace slipway::client::step {

// A CI step's progress on one stream: human lines meant for a CI log ("==> build", build step
// lines, blob lines, a per-target table, "==> done"), or with `json` one JSON object a line,
// each with a "type" ("phase", "context", "event", "log", "blob", "target", "scan", "output",
// "note", "result", "error"). Not thread-safe: one step, one thread.
class StepProgress : public BuildObserver, public PushObserver {
 public:
  StepProgress(std::ostream& out, bool json) : out_(out), json_(json) {}

  // A phase begins: "==> build: context . (Dockerfile ./Dockerfile)".
  void Phase(const std::string& name, const std::string& detail);
  // A plain remark ("BUILDX_LOAD: ...", "ignored: PLUGIN_X").
  void Note(const std::string& message);

  // BuildObserver.
  void OnWarning(absl::string_view message) override;
  void OnContextSent(const ContextStats& stats) override;
  void OnEvent(const v1::BuildEvent& event) override;
  void OnLog(const v1::BuildLog& log, int total_steps) override;

  // PushObserver. Blob lines name targets by index, so set their names first.
  void SetTargetNames(std::vector<std::string> names) { names_ = std::move(names); }
  void OnBlob(const v1::BlobProgress& blob) override;
  void OnTargetDone(const v1::TargetResult& result) override;
  // Human: the per-target table (fan-out or not); JSON: nothing more (one "target" each).
  void PushTable(const std::vector<v1::TargetResult>& results);

  void Scan(const v1::ScanResponse& response);
  // An image written somewhere: "tarball", "oci-layout", "imported", ...
  void Wrote(const std::string& what, const std::string& path, int64_t bytes);
  void Output(const std::string& variable, const std::string& path);
  void Result(const std::string& mode, const std::string& digest,
              const std::vector<std::string>& images, double seconds);
  // JSON only (the human form goes to the error stream, as one line, by the caller).
  void Error(const std::string& message);

 private:
  void Emit(const nlohmann::json& j);
  std::ostream& out_;
  bool json_;
  std::vector<std::string> names_;
};

}  // namespace slipway::client::step

#endif  // SLIPWAY_CLIENT_STEP_STEP_PROGRESS_H_
