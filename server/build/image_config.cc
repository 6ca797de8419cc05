#include "server/build/image_config.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "storage/json_util.h"

namespace slipway::build {
namespace {

nlohmann::json StringArray(const std::vector<std::string>& v) {
  nlohmann::json a = nlohmann::json::array();
  for (const auto& s : v) a.push_back(s);
  return a;
}

std::vector<std::string> ToStrings(const nlohmann::json* j) {
  std::vector<std::string> out;
  if (j == nullptr || !j->is_array()) return out;
  for (const auto& e : *j) {
    if (e.is_string()) out.push_back(e.get<std::string>());
  }
  return out;
}

// CMD/ENTRYPOINT as the config stores them: the exec form as is, the shell form wrapped in the
// stage's SHELL (Docker's rule).
std::vector<std::string> ExecForm(const ExecFormCommand& c, const std::vector<std::string>& shell) {
  if (c.json_form) return c.argv;
  std::vector<std::string> out = shell;
  out.push_back(c.shell_command);
  return out;
}

}  // namespace

std::string Rfc3339(int64_t unix_seconds) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", absl::FromUnixSeconds(unix_seconds),
                          absl::UTCTimeZone());
}

ImageConfig ImageConfig::Scratch(const PlatformSpec& platform) {
  ImageConfig c;
  c.doc_["architecture"] = platform.architecture;
  c.doc_["os"] = platform.os;
  if (!platform.variant.empty()) c.doc_["variant"] = platform.variant;
  c.doc_["config"] = nlohmann::json::object();
  return c;
}

absl::StatusOr<ImageConfig> ImageConfig::FromJson(absl::string_view json, absl::string_view what) {
  auto doc = ParseJsonObject(json, what);
  if (!doc.ok()) return doc.status();
  auto summary = ParseImageConfig(json);
  if (!summary.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(what, ": ", summary.status().message()));
  }
  ImageConfig c;
  c.doc_ = std::move(*doc);
  c.diff_ids_ = summary->diff_ids;
  if (!c.doc_.contains("config") || !c.doc_["config"].is_object()) {
    c.doc_["config"] = nlohmann::json::object();
  }
  return c;
}

nlohmann::json& ImageConfig::Config() {
  nlohmann::json& cfg = doc_["config"];
  if (!cfg.is_object()) cfg = nlohmann::json::object();
  return cfg;
}

const nlohmann::json* ImageConfig::ConfigOrNull() const {
  auto it = doc_.find("config");
  if (it == doc_.end() || !it->is_object()) return nullptr;
  return &*it;
}

std::vector<std::string> ImageConfig::Env() const {
  const nlohmann::json* cfg = ConfigOrNull();
  if (cfg == nullptr) return {};
  auto it = cfg->find("Env");
  return it == cfg->end() ? std::vector<std::string>{} : ToStrings(&*it);
}

std::string ImageConfig::WorkingDir() const {
  const nlohmann::json* cfg = ConfigOrNull();
  if (cfg != nullptr) {
    auto it = cfg->find("WorkingDir");
    if (it != cfg->end() && it->is_string() && !it->get<std::string>().empty()) {
      return it->get<std::string>();
    }
  }
  return "/";
}

std::string ImageConfig::User() const {
  const nlohmann::json* cfg = ConfigOrNull();
  if (cfg == nullptr) return "";
  auto it = cfg->find("User");
  return it != cfg->end() && it->is_string() ? it->get<std::string>() : "";
}

std::vector<std::string> ImageConfig::Shell() const {
  const nlohmann::json* cfg = ConfigOrNull();
  if (cfg != nullptr) {
    auto it = cfg->find("Shell");
    if (it != cfg->end()) {
      auto v = ToStrings(&*it);
      if (!v.empty()) return v;
    }
  }
  return {"/bin/sh", "-c"};
}

std::vector<std::string> ImageConfig::OnBuild() const {
  const nlohmann::json* cfg = ConfigOrNull();
  if (cfg == nullptr) return {};
  auto it = cfg->find("OnBuild");
  return it == cfg->end() ? std::vector<std::string>{} : ToStrings(&*it);
}

void ImageConfig::ClearOnBuild() {
  nlohmann::json* cfg = doc_.contains("config") ? &doc_["config"] : nullptr;
  if (cfg != nullptr && cfg->is_object()) cfg->erase("OnBuild");
}

PlatformSpec ImageConfig::Platform() const {
  PlatformSpec p;
  if (doc_.contains("os") && doc_["os"].is_string()) p.os = doc_["os"].get<std::string>();
  if (doc_.contains("architecture") && doc_["architecture"].is_string()) {
    p.architecture = doc_["architecture"].get<std::string>();
  }
  if (doc_.contains("variant") && doc_["variant"].is_string()) {
    p.variant = doc_["variant"].get<std::string>();
  }
  return p;
}

void ImageConfig::SetEnv(const std::vector<std::string>& env) { Config()["Env"] = StringArray(env); }

void ImageConfig::SetLabel(const std::string& key, const std::string& value) {
  nlohmann::json& labels = Config()["Labels"];
  if (!labels.is_object()) labels = nlohmann::json::object();
  labels[key] = value;
}

absl::Status ImageConfig::Apply(const Command& command) {
  nlohmann::json& cfg = Config();
  const auto& body = command.body;
  if (const auto* c = std::get_if<LabelCommand>(&body)) {
    for (const auto& [k, v] : c->labels) SetLabel(k, v);
  } else if (const auto* c = std::get_if<MaintainerCommand>(&body)) {
    doc_["author"] = c->name;
  } else if (const auto* c = std::get_if<WorkdirCommand>(&body)) {
    cfg["WorkingDir"] = c->path;
  } else if (const auto* c = std::get_if<UserCommand>(&body)) {
    cfg["User"] = c->user;
  } else if (const auto* c = std::get_if<ExposeCommand>(&body)) {
    nlohmann::json& ports = cfg["ExposedPorts"];
    if (!ports.is_object()) ports = nlohmann::json::object();
    for (const auto& p : c->ports) ports[p] = nlohmann::json::object();
  } else if (const auto* c = std::get_if<VolumeCommand>(&body)) {
    nlohmann::json& volumes = cfg["Volumes"];
    if (!volumes.is_object()) volumes = nlohmann::json::object();
    for (const auto& p : c->paths) volumes[p] = nlohmann::json::object();
  } else if (const auto* c = std::get_if<ExecFormCommand>(&body)) {
    if (command.keyword == "CMD") {
      cfg["Cmd"] = StringArray(ExecForm(*c, Shell()));
      cmd_set_in_stage_ = true;
    } else if (command.keyword == "ENTRYPOINT") {
      cfg["Entrypoint"] = StringArray(ExecForm(*c, Shell()));
      // Docker: an ENTRYPOINT resets a CMD inherited from the base image.
      if (!cmd_set_in_stage_) cfg.erase("Cmd");
    } else if (command.keyword == "SHELL") {
      cfg["Shell"] = StringArray(c->argv);
    } else {
      return absl::InvalidArgumentError(absl::StrCat("not a config instruction: ", command.keyword));
    }
  } else if (const auto* c = std::get_if<StopSignalCommand>(&body)) {
    cfg["StopSignal"] = c->signal;
  } else if (const auto* c = std::get_if<HealthcheckCommand>(&body)) {
    nlohmann::json hc = nlohmann::json::object();
    if (c->none) {
      hc["Test"] = StringArray({"NONE"});
    } else {
      hc["Test"] = StringArray(c->test);
      if (c->interval_ns > 0) hc["Interval"] = c->interval_ns;
      if (c->timeout_ns > 0) hc["Timeout"] = c->timeout_ns;
      if (c->start_period_ns > 0) hc["StartPeriod"] = c->start_period_ns;
      if (c->start_interval_ns > 0) hc["StartInterval"] = c->start_interval_ns;
      if (c->retries > 0) hc["Retries"] = c->retries;
    }
    cfg["Healthcheck"] = hc;
  } else if (const auto* c = std::get_if<OnbuildCommand>(&body)) {
    nlohmann::json& triggers = cfg["OnBuild"];
    if (!triggers.is_array()) triggers = nlohmann::json::array();
    triggers.push_back(c->instruction);
  } else {
    return absl::InvalidArgumentError(absl::StrCat("not a config instruction: ", command.keyword));
  }
  return absl::OkStatus();
}

void ImageConfig::AddLayer(const Digest& diff_id) { diff_ids_.push_back(diff_id); }

size_t ImageConfig::AddHistory(const std::string& created_by, bool empty_layer) {
  nlohmann::json& history = doc_["history"];
  if (!history.is_array()) history = nlohmann::json::array();
  nlohmann::json h = nlohmann::json::object();
  h["created_by"] = created_by;
  if (empty_layer) h["empty_layer"] = true;
  history.push_back(std::move(h));
  return history.size() - 1;
}

void ImageConfig::SetHistoryCreated(size_t index, const std::string& created) {
  nlohmann::json& history = doc_["history"];
  if (history.is_array() && index < history.size()) history[index]["created"] = created;
}

std::optional<int64_t> ImageConfig::CreatedUnix() const {
  auto it = doc_.find("created");
  if (it == doc_.end() || !it->is_string()) return std::nullopt;
  absl::Time t;
  std::string error;
  if (!absl::ParseTime(absl::RFC3339_full, it->get<std::string>(), &t, &error)) {
    return std::nullopt;
  }
  return absl::ToUnixSeconds(t);
}

std::string ImageConfig::Serialize(const std::string& created) const {
  nlohmann::json doc = doc_;
  doc["created"] = created;
  nlohmann::json ids = nlohmann::json::array();
  for (const Digest& d : diff_ids_) ids.push_back(d.ToString());
  doc["rootfs"] = nlohmann::json{{"type", "layers"}, {"diff_ids", ids}};
  // nlohmann's default object is a std::map: keys come out sorted, so equal configs serialize
  // to equal bytes (and equal digests).
  return doc.dump();
}

}  // namespace slipway::build
