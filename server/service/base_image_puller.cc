#include "server/service/base_image_puller.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "server/pull/puller.h"
#include "server/registry/reference.h"
#include "server/registry/registry_client.h"

namespace slipway {
namespace {

absl::StatusOr<registry::Credentials> CredentialsFor(const std::string& domain,
                                                     const v1::BuildSpec& spec,
                                                     const registry::DockerConfig* auth_file) {
  registry::Credentials creds;
  for (int i = 0; i < spec.base_credentials_size(); ++i) {
    const v1::RegistryCredential& c = spec.base_credentials(i);
    if (c.registry() != domain) continue;
    switch (c.kind_case()) {
      case v1::RegistryCredential::kBasic:
        creds.username = c.basic().username();
        creds.password = c.basic().password();
        return creds;
      case v1::RegistryCredential::kToken:
        creds.registry_token = c.token();
        return creds;
      case v1::RegistryCredential::KIND_NOT_SET:
        return creds;
      default:
        return absl::UnimplementedError(absl::StrCat(
            "base_credentials[", i, "]: cloud credential kinds (ECR, GAR, ACR) are not supported"
            " yet; pass basic credentials or a token"));
    }
  }
  if (auth_file != nullptr) {
    auto found = auth_file->Lookup(domain);
    if (!found.ok()) return found.status();
    if (found->has_value()) return **found;
  }
  return creds;
}

}  // namespace

build::BaseImagePuller MakeBaseImagePuller(BlobStore& store, ImageIndex& index,
                                           registry::Clock& clock,
                                           const registry::DockerConfig* auth_file) {
  return [&store, &index, &clock, auth_file](const std::string& ref, const PlatformSpec& platform,
                                             const v1::BuildSpec& spec)
             -> absl::StatusOr<ImageRecord> {
    auto parsed = registry::ParseImageReference(ref);
    if (!parsed.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("\"", ref, "\": ", parsed.status().message()));
    }
    auto creds = CredentialsFor(parsed->domain, spec, auth_file);
    if (!creds.ok()) return creds.status();
    registry::RegistryClientOptions options;
    options.registry = parsed->domain;
    options.credentials = *std::move(creds);
    auto client = registry::RegistryClient::Create(options, clock);
    if (!client.ok()) return client.status();
    pull::Puller puller(**client, store, index);
    pull::PullOptions pull_options;
    pull_options.platform = platform;
    // Kept under its name, as `docker pull` would: the next build finds it in the store.
    if (ref.find('@') == std::string::npos) pull_options.tag = ref;
    return puller.Pull(*parsed, pull_options);
  };
}

}  // namespace slipway
