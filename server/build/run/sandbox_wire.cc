#include "server/build/run/sandbox_wire.h"

#include <nlohmann/json.hpp>

namespace slipway::build::sandbox_wire {
namespace {

using Json = nlohmann::json;

const char* KindName(SandboxMount::Kind kind) {
  switch (kind) {
    case SandboxMount::Kind::kBind: return "bind";
    case SandboxMount::Kind::kTmpfs: return "tmpfs";
    case SandboxMount::Kind::kSecretFile: return "secret";
    case SandboxMount::Kind::kOverlayRo: return "overlay_ro";
  }
  return "bind";
}

bool KindFromName(const std::string& name, SandboxMount::Kind* kind) {
  if (name == "bind") *kind = SandboxMount::Kind::kBind;
  else if (name == "tmpfs") *kind = SandboxMount::Kind::kTmpfs;
  else if (name == "secret") *kind = SandboxMount::Kind::kSecretFile;
  else if (name == "overlay_ro") *kind = SandboxMount::Kind::kOverlayRo;
  else return false;
  return true;
}

}  // namespace

std::string SerializeSpec(const SandboxSpec& spec, bool probe) {
  Json mounts = Json::array();
  for (const SandboxMount& m : spec.mounts) {
    mounts.push_back({{"kind", KindName(m.kind)},
                      {"target", m.target},
                      {"source", m.source},
                      {"lower_dirs", m.lower_dirs},
                      {"content", m.content},
                      {"read_only", m.read_only},
                      {"mode", m.mode},
                      {"uid", m.uid},
                      {"gid", m.gid},
                      {"size_bytes", m.size_bytes}});
  }
  Json j = {{"lower_dirs", spec.lower_dirs},
            {"upper_dir", spec.upper_dir},
            {"work_dir", spec.work_dir},
            {"argv", spec.argv},
            {"env", spec.env},
            {"cwd", spec.cwd},
            {"uid", spec.uid},
            {"gid", spec.gid},
            {"supplementary_gids", spec.supplementary_gids},
            {"hostname", spec.hostname},
            {"network_none", spec.network_none},
            {"hosts_file_content", spec.hosts_file_content},
            {"resolv_conf_path", spec.resolv_conf_path},
            {"mounts", std::move(mounts)},
            {"probe", probe}};
  // Invalid UTF-8 in a path or argument must not throw: replace is lossy, but only for bytes
  // that no JSON string can carry anyway.
  return j.dump(-1, ' ', false, Json::error_handler_t::replace);
}

bool ParseSpec(const std::string& text, SandboxSpec* spec, bool* probe, std::string* error) {
  Json j = Json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) {
    *error = "spec: not a JSON object";
    return false;
  }
  // nlohmann throws on a type mismatch; the field being read names the error.
  std::string field;
  try {
    field = "lower_dirs"; spec->lower_dirs = j.at(field).get<std::vector<std::string>>();
    field = "upper_dir"; spec->upper_dir = j.at(field).get<std::string>();
    field = "work_dir"; spec->work_dir = j.at(field).get<std::string>();
    field = "argv"; spec->argv = j.at(field).get<std::vector<std::string>>();
    field = "env"; spec->env = j.at(field).get<std::vector<std::string>>();
    field = "cwd"; spec->cwd = j.at(field).get<std::string>();
    field = "uid"; spec->uid = j.at(field).get<uint32_t>();
    field = "gid"; spec->gid = j.at(field).get<uint32_t>();
    field = "supplementary_gids";
    spec->supplementary_gids = j.at(field).get<std::vector<uint32_t>>();
    field = "hostname"; spec->hostname = j.at(field).get<std::string>();
    field = "network_none"; spec->network_none = j.at(field).get<bool>();
    field = "hosts_file_content"; spec->hosts_file_content = j.at(field).get<std::string>();
    field = "resolv_conf_path"; spec->resolv_conf_path = j.at(field).get<std::string>();
    field = "probe"; *probe = j.at(field).get<bool>();
    field = "mounts";
    const Json& mounts = j.at(field);
    if (!mounts.is_array()) throw std::invalid_argument("not an array");
    spec->mounts.clear();
    for (size_t i = 0; i < mounts.size(); ++i) {
      const Json& mj = mounts[i];
      field = "mounts[" + std::to_string(i) + "]";
      SandboxMount m;
      if (!KindFromName(mj.at("kind").get<std::string>(), &m.kind)) {
        *error = "spec: " + field + ".kind: unknown";
        return false;
      }
      m.target = mj.at("target").get<std::string>();
      m.source = mj.at("source").get<std::string>();
      m.lower_dirs = mj.at("lower_dirs").get<std::vector<std::string>>();
      m.content = mj.at("content").get<std::string>();
      m.read_only = mj.at("read_only").get<bool>();
      m.mode = mj.at("mode").get<uint32_t>();
      m.uid = mj.at("uid").get<uint32_t>();
      m.gid = mj.at("gid").get<uint32_t>();
      m.size_bytes = mj.at("size_bytes").get<int64_t>();
      spec->mounts.push_back(std::move(m));
    }
  } catch (const std::exception&) {
    // The exception text may quote the value (a secret); name only the field.
    *error = "spec: field \"" + field + "\" missing or of the wrong type";
    return false;
  }
  return true;
}

std::string ErrorLine(const std::string& message, bool precondition) {
  Json j = {{"error", message}, {"precondition", precondition}};
  return j.dump(-1, ' ', false, Json::error_handler_t::replace) + "\n";
}

std::string ExitLine(int exit_code) {
  return Json({{"exit_code", exit_code}}).dump() + "\n";
}

}  // namespace slipway::build::sandbox_wire
