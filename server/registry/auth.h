#ifndef SLIPWAY_SERVER_REGISTRY_AUTH_H_
#define SLIPWAY_SERVER_REGISTRY_AUTH_H_

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "server/registry/http_client.h"
#include "server/registry/retry.h"

namespace slipway::registry {

// One challenge of a WWW-Authenticate header.
struct AuthChallenge {
  std::string scheme;                         // lower case: "basic", "bearer", ...
  std::map<std::string, std::string> params;  // names lower case, values unquoted
  std::string Param(absl::string_view name) const;
};

// Parses every challenge of every WWW-Authenticate value (RFC 7235: several challenges per
// value, comma-separated; parameters token or quoted-string with backslash escapes; a token68
// is kept under the parameter name ""). INVALID_ARGUMENT for an unterminated quoted string or
// a value that is not a challenge.
absl::StatusOr<std::vector<AuthChallenge>> ParseWwwAuthenticate(
    const std::vector<std::string>& header_values);

// Credentials for one registry. They live only in memory; no method prints them.
struct Credentials {
  std::string username;
  std::string password;
  std::string identity_token;  // an OAuth2 refresh token (docker login to some registries)
  std::string registry_token;  // a bearer token sent as-is
  bool empty() const {
    return username.empty() && password.empty() && identity_token.empty() &&
           registry_token.empty();
  }
};

// "Basic base64(user:password)".
std::string BasicAuthorization(absl::string_view username, absl::string_view password);

// Resource scopes of the token flow: "repository:<name>:pull" or ":pull,push".
std::string RepositoryScope(absl::string_view repository, bool push);
// Union of scopes, actions merged per resource, in a canonical (sorted) order.
std::vector<std::string> MergeScopes(const std::vector<std::string>& a,
                                     const std::vector<std::string>& b);

struct AuthenticatorOptions {
  std::string registry_host;    // host[:port] of the registry API
  bool registry_https = true;   // the registry's scheme
  Credentials credentials;
  absl::Duration token_timeout = absl::Seconds(30);
  // Realm hosts besides the registry's own host and its parent domain that may receive the
  // credentials (see RealmMayReceiveCredentials).
  std::vector<std::string> credential_realm_hosts;
  std::string client_id = "slipway";
};

// Whether registry credentials may go to a token realm on `realm_host`: the registry's own
// host (any port), a host in `extra_hosts`, or a DNS name under the same parent domain
// (registry-1.docker.io → auth.docker.io). IP literals must match exactly. Otherwise the token
// is asked for anonymously: a registry cannot lure credentials to another host.
bool RealmMayReceiveCredentials(absl::string_view realm_host, absl::string_view registry_host,
                                const std::vector<std::string>& extra_hosts = {});

// Answers a registry's authentication challenges: Basic, or the Bearer token flow with a
// token cache per scope set honouring expires_in (60 s when absent or smaller). Thread-safe.
//
// Security: credentials go only to realms RealmMayReceiveCredentials allows; a realm on plain
// http is refused when the registry is https, unless the realm is
// on a loopback host; a realm on a link-local address (169.254.0.0/16, fe80::/10, literal or
// resolved) is never contacted. Credentials never appear in an error message.
class Authenticator {
 public:
  Authenticator(HttpClient& http, Clock& clock, AuthenticatorOptions options);

  // The Authorization header for a request needing `scopes`, from what is already known: the
  // static registry token; Basic when the registry asked for Basic; a cached unexpired token,
  // or a fresh one when the registry asked for Bearer before. nullopt: send the request
  // anonymously (no challenge seen yet). Errors as for OnUnauthorized.
  absl::StatusOr<std::optional<std::string>> AuthorizationFor(
      const std::vector<std::string>& scopes);

  // After a 401: records the challenge, drops the cached token for these scopes and returns a
  // new Authorization header (scopes merged with the challenge's own scope, so pull → pull,push
  // escalates). Errors: UNAUTHENTICATED (no usable challenge, no credentials for Basic, or the
  // token endpoint refused: the message names the registry and the status, never a secret);
  // FAILED_PRECONDITION for a refused realm; UNAVAILABLE when the token endpoint is unreachable.
  absl::StatusOr<std::string> OnUnauthorized(const HttpResponse& response,
                                             const std::vector<std::string>& scopes);

  // Token-endpoint requests made so far (tests check caching).
  int token_requests() const;

 private:
  struct Token {
    std::string value;
    absl::Time expires;
  };
  // A cached token for `scopes` or a fresh one; concurrent callers for the same scopes wait
  // for one request instead of each asking the token endpoint (`force`: skip the cache).
  absl::StatusOr<std::string> CachedOrFetch(const AuthChallenge& challenge,
                                            const std::vector<std::string>& scopes, bool force);
  absl::StatusOr<std::string> FetchToken(const AuthChallenge& challenge,
                                         const std::vector<std::string>& scopes);
  absl::StatusOr<HttpResponse> RequestToken(const std::string& realm_url,
                                            const AuthChallenge& challenge,
                                            const std::vector<std::string>& scopes,
                                            bool send_credentials);

  HttpClient& http_;
  Clock& clock_;
  const AuthenticatorOptions options_;
  mutable absl::Mutex mu_;
  std::optional<AuthChallenge> challenge_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, Token> tokens_ ABSL_GUARDED_BY(mu_);
  std::string refresh_token_ ABSL_GUARDED_BY(mu_);
  // One lock per scope set, held while its token is fetched.
  absl::flat_hash_map<std::string, std::shared_ptr<absl::Mutex>> fetch_locks_ ABSL_GUARDED_BY(mu_);
  int token_requests_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace slipway::registry

#endif  // SLIPWAY_SERVER_REGISTRY_AUTH_H_
