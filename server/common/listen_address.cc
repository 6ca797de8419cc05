#include "server/common/listen_address.h"

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "storage/status_macros.h"

namespace slipway {

std::string ListenAddress::ToGrpcUri() const {
  if (kind == Kind::kUnix) return "unix:" + path;
  if (host.find(':') != std::string::npos) return absl::StrCat("[", host, "]:", port);
  return absl::StrCat(host, ":", port);
}

absl::StatusOr<ListenAddress> ParseListenAddress(absl::string_view text) {
  ListenAddress out;
  if (absl::StartsWith(text, "unix://")) {
    out.kind = ListenAddress::Kind::kUnix;
    out.path = std::string(text.substr(7));
    if (out.path.empty() || out.path[0] != '/') {
      return absl::InvalidArgumentError(
          absl::StrCat("listen address \"", text, "\": want unix:///absolute/path"));
    }
    return out;
  }
  out.kind = ListenAddress::Kind::kTcp;
  size_t colon = text.rfind(':');
  if (colon == absl::string_view::npos || colon == 0 ||
      !absl::SimpleAtoi(text.substr(colon + 1), &out.port) || out.port < 0 || out.port > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat("listen address \"", text, "\": want unix:///path or host:port"));
  }
  absl::string_view host = text.substr(0, colon);
  if (absl::StartsWith(host, "[") && absl::EndsWith(host, "]")) {
    host = host.substr(1, host.size() - 2);
  }
  if (host.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("listen address \"", text, "\": empty host"));
  }
  out.host = std::string(host);
  return out;
}

bool IsLoopbackHost(absl::string_view host) {
  return host == "localhost" || host == "::1" || absl::StartsWith(host, "127.");
}

absl::Status CheckListenerSecurity(const Config& config) {
  for (const auto& text : config.listen) {
    SLIPWAY_ASSIGN_OR_RETURN(ListenAddress addr, ParseListenAddress(text));
    if (addr.kind != ListenAddress::Kind::kTcp) continue;
    if (config.auth_token_file.empty()) {
      return absl::FailedPreconditionError(absl::StrCat(
          "refusing to listen on TCP ", text,
          " without an auth token: set --auth-token-file (or SLIPWAY_AUTH_TOKEN_FILE); "
          "unix sockets need none"));
    }
    if (!IsLoopbackHost(addr.host) && (config.tls_cert.empty() || config.tls_key.empty())) {
      return absl::FailedPreconditionError(absl::StrCat(
          "refusing to listen on non-loopback TCP ", text,
          " without TLS: set --tls-cert and --tls-key (tokens must not cross a network in clear)"));
    }
  }
  return absl::OkStatus();
}

}  // namespace slipway
