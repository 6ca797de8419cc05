// Credential flavours: Docker Hub, any registry, ECR, GAR, ACR, base images, docker config.
#include "client/step/registry_flavours.h"

#include "absl/strings/escaping.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/step/step_test_env.h"

namespace slipway::client::step {
namespace {

using ::testing::IsEmpty;
using ::testing::SizeIs;
using Flavour = StepSettings::Flavour;

TEST(RegistryHostTest, Normalizes) {
  EXPECT_EQ(NormalizeRegistryHost("https://index.docker.io/v1/"), "docker.io");
  EXPECT_EQ(NormalizeRegistryHost("registry.hub.docker.com"), "docker.io");
  EXPECT_EQ(NormalizeRegistryHost("http://Reg.Example.com:5000/"), "reg.example.com:5000");
  EXPECT_EQ(NormalizeRegistryHost(""), "");
  EXPECT_EQ(RepoHost("team/app"), "docker.io");
  EXPECT_EQ(RepoHost("app"), "docker.io");
  EXPECT_EQ(RepoHost("localhost/app"), "localhost");
  EXPECT_EQ(RepoHost("127.0.0.1:5000/team/app"), "127.0.0.1:5000");
  EXPECT_EQ(RepoHost("index.docker.io/team/app"), "docker.io");
}

TEST(RegistryFlavoursTest, DockerHubWithUsernameAndPassword) {
  for (const auto& [user_var, pass_var] : {std::pair{"PLUGIN_USERNAME", "PLUGIN_PASSWORD"},
                                           {"DOCKER_USERNAME", "DOCKER_PASSWORD"},
                                           {"PLUGIN_username", "PLUGIN_password"}}) {
    auto s = Parse({{"PLUGIN_REPO", "team/app"},
                    {user_var, "bob"},
                    {pass_var, "s3cret"},
                    {"PLUGIN_REGISTRY", "https://index.docker.io/v1/"}});
    ASSERT_TRUE(s.ok()) << s.status();
    EXPECT_EQ(s->flavour, Flavour::kDockerHub);
    EXPECT_EQ(s->registry, "docker.io");
    EXPECT_EQ(s->credential.registry(), "docker.io");
    EXPECT_EQ(s->credential.basic().username(), "bob");
    EXPECT_EQ(s->credential.basic().password(), "s3cret");
  }
}

TEST(RegistryFlavoursTest, AnyRegistryWithBasicAuth) {
  auto s = Parse({{"PLUGIN_REPO", "127.0.0.1:5000/team/app"}, {"PLUGIN_USERNAME", "u"}},
                 {"--password", "p"});
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->flavour, Flavour::kGeneric);
  EXPECT_EQ(s->registry, "127.0.0.1:5000");
  EXPECT_EQ(s->credential.registry(), "127.0.0.1:5000");
  EXPECT_EQ(s->credential.basic().username(), "u");
  EXPECT_EQ(s->credential.basic().password(), "p");
}

TEST(RegistryFlavoursTest, Ecr) {
  auto s = Parse({{"PLUGIN_REPO", "team/app"},
                  {"PLUGIN_REGISTRY", "123456789012.dkr.ecr.eu-west-1.amazonaws.com"},
                  {"PLUGIN_ACCESS_KEY", "AKIA"},
                  {"PLUGIN_SECRET_KEY", "sk"},
                  {"PLUGIN_SESSION_TOKEN", "st"},
                  {"PLUGIN_ASSUME_ROLE", "arn:aws:iam::1:role/push"},
                  {"PLUGIN_EXTERNAL_ID", "ext"},
                  {"PLUGIN_CREATE_REPOSITORY", "true"},
                  {"PLUGIN_USERNAME", "hubuser"},
                  {"PLUGIN_PASSWORD", "hubpass"}});
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->flavour, Flavour::kEcr);
  EXPECT_EQ(s->repo, "123456789012.dkr.ecr.eu-west-1.amazonaws.com/team/app");
  const auto& ecr = s->credential.ecr();
  EXPECT_EQ(s->credential.registry(), "123456789012.dkr.ecr.eu-west-1.amazonaws.com");
  EXPECT_EQ(ecr.region(), "eu-west-1");  // from the registry host
  EXPECT_EQ(ecr.access_key(), "AKIA");
  EXPECT_EQ(ecr.secret_key(), "sk");
  EXPECT_EQ(ecr.session_token(), "st");
  EXPECT_EQ(ecr.assume_role(), "arn:aws:iam::1:role/push");
  EXPECT_EQ(ecr.external_id(), "ext");
  EXPECT_TRUE(ecr.create_repository());
  // The ECR plugin reads USERNAME/PASSWORD as base-image (Docker Hub) credentials.
  ASSERT_THAT(s->base_credentials, SizeIs(1));
  EXPECT_EQ(s->base_credentials[0].registry(), "docker.io");
  EXPECT_EQ(s->base_credentials[0].basic().username(), "hubuser");

  auto region = Parse(
      {{"PLUGIN_REPO", "1.dkr.ecr.us-west-2.amazonaws.com/app"}, {"PLUGIN_REGION", "ap-south-1"}});
  ASSERT_TRUE(region.ok()) << region.status();
  EXPECT_EQ(region->credential.ecr().region(), "ap-south-1");
  EXPECT_EQ(region->registry, "1.dkr.ecr.us-west-2.amazonaws.com");
  EXPECT_EQ(
      ErrorOf({{"PLUGIN_REPO", "app"}, {"PLUGIN_REGION", "us-east-1"}}),
      "PLUGIN_REGISTRY must name the ECR registry (<account>.dkr.ecr.<region>.amazonaws.com)");
  EXPECT_EQ(ErrorOf({{"PLUGIN_REPO", "1.dkr.ecr.us-west-2.amazonaws.com/app"},
                     {"PLUGIN_ACCESS_KEY", "AKIA"}}),
            "PLUGIN_ACCESS_KEY is set but PLUGIN_SECRET_KEY is not: secret key must be specified");
}

TEST(RegistryFlavoursTest, GarWithRawOrBase64Key) {
  const std::string key = R"({"type":"service_account","project_id":"p"})";
  std::string b64;
  absl::Base64Escape(key, &b64);
  for (const auto& value : {key, b64}) {
    auto s = Parse({{"PLUGIN_REPO", "proj/repo/app"},
                    {"PLUGIN_JSON_KEY", value},
                    {"PLUGIN_LOCATION", "europe-west1"}});
    ASSERT_TRUE(s.ok()) << s.status();
    EXPECT_EQ(s->flavour, Flavour::kGar);
    EXPECT_EQ(s->registry, "europe-west1-docker.pkg.dev");
    EXPECT_EQ(s->repo, "europe-west1-docker.pkg.dev/proj/repo/app");
    EXPECT_EQ(s->credential.gar().json_key(), key);
    EXPECT_EQ(s->credential.gar().location(), "europe-west1");
  }
  EXPECT_EQ(
      ErrorOf(
          {{"PLUGIN_REPO", "p/app"}, {"PLUGIN_JSON_KEY", "not json"}, {"PLUGIN_LOCATION", "us"}}),
      "PLUGIN_JSON_KEY: neither JSON nor base64-encoded JSON");
  EXPECT_EQ(ErrorOf({{"PLUGIN_REPO", "p/app"}, {"PLUGIN_LOCATION", "us"}}),
            "PLUGIN_JSON_KEY must be specified for Google Artifact Registry");
}

TEST(RegistryFlavoursTest, Acr) {
  auto s = Parse({{"PLUGIN_REPO", "team/app"},
                  {"PLUGIN_REGISTRY", "myreg.azurecr.io"},
                  {"PLUGIN_CLIENT_ID", "cid"},
                  {"PLUGIN_CLIENT_SECRET", "csecret"},
                  {"PLUGIN_TENANT_ID", "tid"}});
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->flavour, Flavour::kAcr);
  EXPECT_EQ(s->repo, "myreg.azurecr.io/team/app");
  EXPECT_EQ(s->credential.acr().client_id(), "cid");
  EXPECT_EQ(s->credential.acr().client_secret(), "csecret");
  EXPECT_EQ(s->credential.acr().tenant_id(), "tid");
  EXPECT_EQ(ErrorOf({{"PLUGIN_REPO", "myreg.azurecr.io/app"},
                     {"PLUGIN_CLIENT_ID", "cid"},
                     {"PLUGIN_CLIENT_SECRET", "x"}}),
            "PLUGIN_TENANT_ID must be specified for Azure Container Registry");
  EXPECT_EQ(ErrorOf({{"PLUGIN_REPO", "myreg.azurecr.io/app"},
                     {"PLUGIN_CLIENT_ID", "cid"},
                     {"PLUGIN_CLIENT_CERTIFICATE", "/cert.pem"}}),
            "PLUGIN_CLIENT_CERTIFICATE: ACR client-certificate authentication is not supported; "
            "use PLUGIN_CLIENT_SECRET");
}

TEST(RegistryFlavoursTest, BaseImageCredentialsAndAliases) {
  for (const auto& prefix : {"PLUGIN_BASE_IMAGE_", "PLUGIN_DOCKER_", "DOCKER_BASE_IMAGE_"}) {
    std::string p = prefix;
    auto s = Parse({{"PLUGIN_REPO", "reg.example.com/app"},
                    {p + "REGISTRY", "https://index.docker.io/v1/"},
                    {p + "USERNAME", "pull"},
                    {p + "PASSWORD", "pw"}});
    ASSERT_TRUE(s.ok()) << p << ": " << s.status();
    ASSERT_THAT(s->base_credentials, SizeIs(1)) << p;
    EXPECT_EQ(s->base_credentials[0].registry(), "docker.io");
    EXPECT_EQ(s->base_credentials[0].basic().username(), "pull");
    EXPECT_EQ(s->base_credentials[0].basic().password(), "pw");
    EXPECT_EQ(s->credential.kind_case(), v1::RegistryCredential::KIND_NOT_SET);
    EXPECT_THAT(s->ignored, IsEmpty());
  }
}

TEST(RegistryFlavoursTest, DockerConfigJson) {
  std::string auth;
  absl::Base64Escape("cfguser:cfg:pass", &auth);
  const std::string config = R"({"auths":{"https://reg.example.com/v2/":{"auth":")" + auth +
                             R"("},"ghcr.io":{"username":"gh","password":"tok"},)"
                             R"("other.example":{"identitytoken":"idt"}}})";
  auto s = Parse({{"PLUGIN_REPO", "reg.example.com/app"}, {"PLUGIN_CONFIG", config}});
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->credential.basic().username(), "cfguser");
  EXPECT_EQ(s->credential.basic().password(), "cfg:pass");
  ASSERT_THAT(s->base_credentials, SizeIs(2));
  EXPECT_EQ(s->base_credentials[0].registry(), "ghcr.io");
  EXPECT_EQ(s->base_credentials[0].basic().password(), "tok");
  EXPECT_EQ(s->base_credentials[1].registry(), "other.example");
  EXPECT_EQ(s->base_credentials[1].token(), "idt");
  // Explicit USERNAME/PASSWORD win over the config's entry for the same registry.
  auto explicit_creds = Parse({{"PLUGIN_REPO", "reg.example.com/app"},
                               {"PLUGIN_CONFIG", config},
                               {"PLUGIN_USERNAME", "u"},
                               {"PLUGIN_PASSWORD", "p"}});
  ASSERT_TRUE(explicit_creds.ok()) << explicit_creds.status();
  EXPECT_EQ(explicit_creds->credential.basic().username(), "u");
  EXPECT_EQ(ErrorOf({{"PLUGIN_REPO", "reg.example.com/app"}, {"PLUGIN_CONFIG", "{not json"}}),
            "PLUGIN_CONFIG: not a docker config.json");
}

}  // namespace
}  // namespace slipway::client::step
