#include "client/connection.h"

#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>

#include <chrono>
#include <fstream>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"

namespace slipway::client {
namespace {

absl::StatusOr<std::string> ReadFile(const std::string& var, const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::InvalidArgumentError(absl::StrCat(var, "=", path, ": cannot open"));
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

}  // namespace

std::string DefaultAddress(const EnvLookup& env, bool is_root) {
  if (is_root) return "unix:///run/slipway/slipway.sock";
  if (auto run = env("XDG_RUNTIME_DIR"); run && !run->empty()) {
    return "unix://" + *run + "/slipway.sock";
  }
  if (auto data = env("XDG_DATA_HOME"); data && !data->empty()) {
    return "unix://" + *data + "/slipway/slipway.sock";
  }
  auto home = env("HOME");
  return "unix://" + (home ? *home : std::string()) + "/.local/share/slipway/slipway.sock";
}

absl::StatusOr<ConnectionSettings> SettingsFromEnvironment(const EnvLookup& env, bool is_root) {
  ConnectionSettings s;
  auto addr = env("SLIPWAY_ADDR");
  s.address = addr && !addr->empty() ? *addr : DefaultAddress(env, is_root);
  if (auto token = env("SLIPWAY_TOKEN"); token && !token->empty()) {
    s.token = std::string(absl::StripAsciiWhitespace(*token));
  } else if (auto file = env("SLIPWAY_TOKEN_FILE"); file && !file->empty()) {
    auto text = ReadFile("SLIPWAY_TOKEN_FILE", *file);
    if (!text.ok()) return text.status();
    std::string first = text->substr(0, text->find('\n'));
    s.token = std::string(absl::StripAsciiWhitespace(first));
    if (s.token.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("SLIPWAY_TOKEN_FILE=", *file, ": holds no token"));
    }
  }
  bool is_unix = absl::StartsWith(s.address, "unix:");
  auto tls = env("SLIPWAY_TLS");
  s.tls = !is_unix && tls && (*tls == "1" || *tls == "true");
  if (s.tls) {
    if (auto ca = env("SLIPWAY_TLS_CA"); ca && !ca->empty()) {
      auto pem = ReadFile("SLIPWAY_TLS_CA", *ca);
      if (!pem.ok()) return pem.status();
      s.tls_ca_pem = *pem;
    }
  }
  return s;
}

absl::StatusOr<std::unique_ptr<Connection>> Connection::Open(const ConnectionSettings& settings) {
  std::shared_ptr<grpc::ChannelCredentials> creds;
  if (settings.tls) {
    grpc::SslCredentialsOptions ssl;
    ssl.pem_root_certs = settings.tls_ca_pem;
    creds = grpc::SslCredentials(ssl);
  } else {
    creds = grpc::InsecureChannelCredentials();
  }
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(16 << 20);
  std::unique_ptr<Connection> c(new Connection());
  c->channel_ = grpc::CreateCustomChannel(settings.address, creds, args);
  if (!c->channel_)
    return absl::InvalidArgumentError("SLIPWAY_ADDR: cannot make a channel to " + settings.address);
  c->stub_ = v1::Slipway::NewStub(c->channel_);
  c->token_ = settings.token;
  return c;
}

std::unique_ptr<grpc::ClientContext> Connection::NewContext(int deadline_seconds) const {
  auto ctx = std::make_unique<grpc::ClientContext>();
  if (!token_.empty()) ctx->AddMetadata("authorization", "Bearer " + token_);
  if (deadline_seconds > 0) {
    ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(deadline_seconds));
  }
  return ctx;
}

}  // namespace slipway::client
