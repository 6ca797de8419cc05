#include "client/step/step_summary.h"

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace slipway::client::step {
namespace {

constexpr char kMask[] = "***";

std::string Masked(const std::string& secret) { return secret.empty() ? "" : kMask; }

bool LooksSecret(const std::string& name) {
  std::string upper = absl::AsciiStrToUpper(name);
  for (const char* word : {"TOKEN", "SECRET", "PASSWORD", "PASS", "KEY", "AUTH", "CREDENTIAL"}) {
    if (absl::StrContains(upper, word)) return true;
  }
  return false;
}

std::string Credential(const v1::RegistryCredential& c) {
  switch (c.kind_case()) {
    case v1::RegistryCredential::kBasic:
      return absl::StrCat("basic user=", c.basic().username(),
                          " password=", Masked(c.basic().password()));
    case v1::RegistryCredential::kToken:
      return absl::StrCat("token ", Masked(c.token()));
    case v1::RegistryCredential::kEcr: {
      const auto& e = c.ecr();
      return absl::StrCat(
          "ecr region=", e.region(), " access_key=", e.access_key(),
          " secret_key=", Masked(e.secret_key()), " session_token=", Masked(e.session_token()),
          " assume_role=", e.assume_role(), " external_id=", Masked(e.external_id()),
          " create_repository=", e.create_repository() ? "true" : "false");
    }
    case v1::RegistryCredential::kGar:
      return absl::StrCat("gar location=", c.gar().location(),
                          " json_key=", Masked(c.gar().json_key()));
    case v1::RegistryCredential::kAcr:
      return absl::StrCat("acr client_id=", c.acr().client_id(), " tenant_id=", c.acr().tenant_id(),
                          " client_secret=", Masked(c.acr().client_secret()));
    case v1::RegistryCredential::KIND_NOT_SET:
      break;
  }
  return "anonymous";
}

const char* ModeName(StepSettings::Mode m) {
  switch (m) {
    case StepSettings::Mode::kBuildAndPush:
      return "build-and-push";
    case StepSettings::Mode::kBuildOnly:
      return "build-only";
    case StepSettings::Mode::kPushOnly:
      return "push-only";
  }
  return "?";
}

const char* FlavourName(StepSettings::Flavour f) {
  switch (f) {
    case StepSettings::Flavour::kGeneric:
      return "registry";
    case StepSettings::Flavour::kDockerHub:
      return "docker-hub";
    case StepSettings::Flavour::kEcr:
      return "ecr";
    case StepSettings::Flavour::kGar:
      return "gar";
    case StepSettings::Flavour::kAcr:
      return "acr";
  }
  return "?";
}

}  // namespace

std::string DescribeStepSettings(const StepSettings& s) {
  std::string out;
  auto line = [&](const std::string& name, const std::string& value) {
    if (!value.empty()) absl::StrAppend(&out, name, ": ", value, "\n");
  };
  auto on = [](bool b) { return b ? std::string("true") : std::string(); };
  line("mode", ModeName(s.mode));
  line("repo", s.repo);
  line("registry", s.registry);
  line("tags", absl::StrJoin(s.tags, ","));
  line("destinations", absl::StrJoin(s.destinations, ","));
  if (s.mode != StepSettings::Mode::kPushOnly) {
    line("context", s.context);
    line("dockerfile", s.dockerfile);
    line("target", s.target);
    line("platform", s.platform);
    std::vector<std::string> args;
    for (const auto& [k, v] : s.build_args) {
      args.push_back(absl::StrCat(k, "=", LooksSecret(k) ? Masked(v) : v));
    }
    line("build_args", absl::StrJoin(args, " "));
    line("labels", absl::StrJoin(s.labels, " ", absl::PairFormatter("=")));
    line("no_cache", on(s.no_cache));
    line("reproducible", on(s.reproducible));
    if (s.source_date_epoch) line("source_date_epoch", absl::StrCat(*s.source_date_epoch));
    for (const auto& c : s.base_credentials)
      line("base_credential", c.registry() + " " + Credential(c));
    line("mirrors", absl::StrJoin(s.mirrors, ","));
  }
  if (s.mode != StepSettings::Mode::kBuildOnly) {
    line("flavour", FlavourName(s.flavour));
    line("credential", Credential(s.credential));
    line("push_retry", s.push_retry ? absl::StrCat(s.push_retry) : "");
  }
  line("insecure", on(s.tls.insecure_http()));
  line("skip_tls_verify", on(s.tls.skip_verify()));
  if (!s.tls.ca_pem().empty())
    line("registry_certificate", absl::StrCat(s.tls.ca_pem().size(), " bytes PEM"));
  line("tar_path", s.tar_path);
  line("oci_layout_path", s.oci_layout_path);
  line("source_tar_path", s.source_tar_path);
  line("source_image", s.source_image);
  line("buildx_load", on(s.buildx_load));
  line("docker_host", s.docker_host);
  if (s.scan)
    line("scan", absl::StrJoin(s.scanners, ",").empty() ? "true" : absl::StrJoin(s.scanners, ","));
  line("drone_output", s.drone_output);
  line("artifact_file", s.artifact_file);
  line("digest_file", s.digest_file);
  line("image_name_with_digest_file", s.image_name_with_digest_file);
  line("image_name_tag_with_digest_file", s.image_name_tag_with_digest_file);
  line("ignored", absl::StrJoin(s.ignored, ","));
  return out;
}

}  // namespace slipway::client::step
