#ifndef SLIPWAY_TESTS_SUPPORT_TOKEN_SERVER_H_
#define SLIPWAY_TESTS_SUPPORT_TOKEN_SERVER_H_

// A Docker registry token server (the "Bearer realm") for docker-registry's `auth: token`
// mode, on 127.0.0.1:<ephemeral>. At start it generates an RSA-2048 key and a self-signed
// certificate (OpenSSL) and writes the certificate PEM to `cert_path` for the registry's
// `rootcertbundle`. Tokens are RS256 JWTs with an `x5c` header and the claims iss, sub,
// aud (= service), exp, nbf, iat, jti and access[{type, name, actions}].
//
//   GET /token?service=S&scope=repository:NAME:pull,push[&scope=...][&offline_token=true]
//     Authorization: Basic (optional) → 200 {"token", "access_token", "expires_in", "issued_at"
//     [, "refresh_token" when offline_token=true and authenticated]}; 401 for bad credentials.
//   POST /token (form: grant_type=password|refresh_token, username, password, refresh_token,
//     service, scope (space-separated), client_id) → 200 {"access_token", "expires_in",
//     "issued_at" [, "refresh_token"]}; 401 for bad credentials or an unknown refresh token.

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "tests/support/http_wire.h"
#include "tests/support/test_http_server.h"

namespace slipway::testing {

// One resource scope, "repository:library/busybox:pull,push".
struct TokenScope {
  std::string type;
  std::string name;
  std::vector<std::string> actions;
};

// Granted actions for `requested` given the authenticated `subject` ("" when anonymous).
using TokenPolicy =
    std::function<std::vector<std::string>(const std::string& subject, const TokenScope&)>;

struct TokenServerOptions {
  std::string cert_path;  // required: where the certificate PEM is written
  std::string issuer = "slipway-test-issuer";
  std::string service = "test-registry";
  // The one account. Empty user: no account, any Authorization is refused with 401.
  std::string user;
  std::string password;
  bool require_auth = false;  // anonymous requests get 401
  absl::Duration expires_in = absl::Minutes(5);
  bool omit_expires_in = false;  // answer without "expires_in" (clients must assume 60 s)
  // Empty: an authenticated user gets every requested action, anonymous gets only "pull".
  TokenPolicy policy;
};

// What the server saw and did for one request.
struct TokenRequestRecord {
  std::string method;
  std::string target;
  http::Headers headers;
  std::string subject;  // "" when anonymous
  int status = 0;
  std::vector<TokenScope> requested;
  std::vector<TokenScope> granted;
};

class TokenServer {
 public:
  static absl::StatusOr<std::unique_ptr<TokenServer>> Start(TokenServerOptions options);
  ~TokenServer();

  int port() const { return server_->port(); }
  // "http://127.0.0.1:<port>/token", the realm to configure in the registry.
  std::string realm() const { return server_->url() + "/token"; }
  const std::string& cert_path() const { return options_.cert_path; }
  const std::string& issuer() const { return options_.issuer; }
  const std::string& service() const { return options_.service; }

  // A signed token for `subject` and `access`, as the server would issue it (for tests that
  // need e.g. an expired token: pass a negative `lifetime`).
  absl::StatusOr<std::string> Issue(const std::string& subject,
                                    const std::vector<TokenScope>& access,
                                    absl::Duration lifetime) const;

  std::vector<TokenRequestRecord> Requests() const;
  size_t TokensIssued() const;

 private:
  struct Keys;
  explicit TokenServer(TokenServerOptions options);
  HttpResponse Handle(const HttpRequest& request);
  // 401 for bad credentials; sets *subject ("" anonymous).
  bool Authenticate(const http::Headers& headers, std::string* subject) const;
  std::vector<TokenScope> Grant(const std::string& subject,
                                const std::vector<TokenScope>& requested) const;

  const TokenServerOptions options_;
  std::unique_ptr<Keys> keys_;
  mutable absl::Mutex mu_;
  std::vector<TokenRequestRecord> records_ ABSL_GUARDED_BY(mu_);
  std::vector<std::pair<std::string, std::string>> refresh_tokens_ ABSL_GUARDED_BY(mu_);
  size_t issued_ ABSL_GUARDED_BY(mu_) = 0;
  std::unique_ptr<TestHttpServer> server_;  // last: stopped first
};

// "repository:a/b:pull,push" → scope; InvalidArgument when it has no two colons.
absl::StatusOr<TokenScope> ParseTokenScope(absl::string_view text);

}  // namespace slipway::testing

#endif  // SLIPWAY_TESTS_SUPPORT_TOKEN_SERVER_H_
