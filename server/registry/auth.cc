#include "server/registry/auth.h"

#include <arpa/inet.h>

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "nlohmann/json.hpp"
#include "server/registry/reference.h"
#include "storage/status_macros.h"

namespace slipway::registry {
namespace {

constexpr absl::Duration kMinTokenLifetime = absl::Seconds(60);
constexpr int64_t kMaxTokenResponseBytes = 1 << 20;

bool IsLinkLocalLiteral(const std::string& host) {
  in_addr v4;
  if (inet_pton(AF_INET, host.c_str(), &v4) == 1) return (ntohl(v4.s_addr) >> 16) == 0xA9FE;
  in6_addr v6;
  if (inet_pton(AF_INET6, host.c_str(), &v6) == 1) return IN6_IS_ADDR_LINKLOCAL(&v6);
  return false;
}

bool IsIpLiteral(const std::string& host) {
  in_addr v4;
  in6_addr v6;
  return inet_pton(AF_INET, host.c_str(), &v4) == 1 || inet_pton(AF_INET6, host.c_str(), &v6) == 1;
}

// The last two DNS labels: "registry-1.docker.io" → "docker.io".
std::string ParentDomain(const std::string& host) {
  size_t last = host.rfind('.');
  if (last == std::string::npos || last == 0) return host;
  size_t prev = host.rfind('.', last - 1);
  return prev == std::string::npos ? host : host.substr(prev + 1);
}

std::string ScopeKey(const std::vector<std::string>& scopes) { return absl::StrJoin(scopes, " "); }

}  // namespace

bool RealmMayReceiveCredentials(absl::string_view realm_host, absl::string_view registry_host,
                                const std::vector<std::string>& extra_hosts) {
  const std::string realm = absl::AsciiStrToLower(HostWithoutPort(realm_host));
  const std::string registry = absl::AsciiStrToLower(HostWithoutPort(registry_host));
  if (realm == registry) return true;
  for (const std::string& h : extra_hosts) {
    if (absl::AsciiStrToLower(h) == realm) return true;
  }
  if (IsIpLiteral(realm) || IsIpLiteral(registry)) return false;
  // Registries commonly serve tokens from a sibling host (registry-1.docker.io → auth.docker.io,
  // registry.gitlab.com → gitlab.com).
  return ParentDomain(realm) == ParentDomain(registry);
}

Authenticator::Authenticator(HttpClient& http, Clock& clock, AuthenticatorOptions options)
    : http_(http), clock_(clock), options_(std::move(options)) {}

int Authenticator::token_requests() const {
  absl::MutexLock lock(&mu_);
  return token_requests_;
}

absl::StatusOr<std::optional<std::string>> Authenticator::AuthorizationFor(
    const std::vector<std::string>& scopes) {
  const Credentials& creds = options_.credentials;
  if (!creds.registry_token.empty()) return std::optional<std::string>("Bearer " + creds.registry_token);
  std::optional<AuthChallenge> challenge;
  const std::vector<std::string> merged = MergeScopes(scopes, {});
  {
    absl::MutexLock lock(&mu_);
    challenge = challenge_;
    if (!challenge.has_value()) return std::optional<std::string>();
    if (challenge->scheme == "bearer") {
      auto it = tokens_.find(ScopeKey(merged));
      if (it != tokens_.end() && clock_.Now() < it->second.expires) {
        return std::optional<std::string>("Bearer " + it->second.value);
      }
    }
  }
  if (challenge->scheme == "basic") {
    if (creds.username.empty() && creds.password.empty()) return std::optional<std::string>();
    return std::optional<std::string>(BasicAuthorization(creds.username, creds.password));
  }
  SLIPWAY_ASSIGN_OR_RETURN(std::string header, CachedOrFetch(*challenge, merged, false));
  return std::optional<std::string>(std::move(header));
}

absl::StatusOr<std::string> Authenticator::CachedOrFetch(const AuthChallenge& challenge,
                                                         const std::vector<std::string>& scopes,
                                                         bool force) {
  const std::string key = ScopeKey(scopes);
  std::shared_ptr<absl::Mutex> fetch_lock;
  {
    absl::MutexLock lock(&mu_);
    std::shared_ptr<absl::Mutex>& slot = fetch_locks_[key];
    if (slot == nullptr) slot = std::make_shared<absl::Mutex>();
    fetch_lock = slot;
  }
  absl::MutexLock fetching(fetch_lock.get());
  if (!force) {
    absl::MutexLock lock(&mu_);
    auto it = tokens_.find(key);
    if (it != tokens_.end() && clock_.Now() < it->second.expires) {
      return "Bearer " + it->second.value;
    }
  }
  return FetchToken(challenge, scopes);
}

absl::StatusOr<std::string> Authenticator::OnUnauthorized(const HttpResponse& response,
                                                          const std::vector<std::string>& scopes) {
  const std::string& host = options_.registry_host;
  auto challenges = ParseWwwAuthenticate(response.headers.GetAll("WWW-Authenticate"));
  if (!challenges.ok()) {
    return absl::UnauthenticatedError(
        absl::StrCat("registry ", host, " answered 401: ", challenges.status().message()));
  }
  const AuthChallenge* bearer = nullptr;
  const AuthChallenge* basic = nullptr;
  for (const AuthChallenge& c : *challenges) {
    if (c.scheme == "bearer" && bearer == nullptr) bearer = &c;
    if (c.scheme == "basic" && basic == nullptr) basic = &c;
  }
  const Credentials& creds = options_.credentials;
  if (!creds.registry_token.empty()) {
    return absl::UnauthenticatedError(
        absl::StrCat("registry ", host, " refused the given registry token"));
  }
  if (bearer != nullptr) {
    std::vector<std::string> merged = MergeScopes(scopes, {bearer->Param("scope")});
    {
      absl::MutexLock lock(&mu_);
      challenge_ = *bearer;
      tokens_.erase(ScopeKey(merged));
    }
    return CachedOrFetch(*bearer, merged, /*force=*/true);
  }
  if (basic != nullptr) {
    if (creds.username.empty() && creds.password.empty()) {
      return absl::UnauthenticatedError(absl::StrCat(
          "registry ", host, " requires Basic authentication and no credentials were given"));
    }
    absl::MutexLock lock(&mu_);
    challenge_ = *basic;
    return BasicAuthorization(creds.username, creds.password);
  }
  return absl::UnauthenticatedError(absl::StrCat(
      "registry ", host, " answered 401 without a Basic or Bearer challenge"));
}

absl::StatusOr<std::string> Authenticator::FetchToken(const AuthChallenge& challenge,
                                                      const std::vector<std::string>& scopes) {
  const std::string& host = options_.registry_host;
  const std::string realm = challenge.Param("realm");
  if (realm.empty()) {
    return absl::UnauthenticatedError(
        absl::StrCat("registry ", host, " sent a Bearer challenge without a realm"));
  }
  auto parsed = ParseUrl(realm);
  if (!parsed.ok()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "registry ", host, " sent an unusable token realm: ", parsed.status().message()));
  }
  if (parsed->scheme == "http" && options_.registry_https && !IsLoopbackHost(parsed->host)) {
    return absl::FailedPreconditionError(absl::StrCat(
        "token realm ", RedactUrl(realm), " of https registry ", host,
        " is plain http: refused, credentials would travel unencrypted"));
  }
  if (IsLinkLocalLiteral(parsed->host)) {
    return absl::FailedPreconditionError(absl::StrCat(
        "token realm ", RedactUrl(realm), " of registry ", host,
        " is on a link-local address: refused"));
  }
  const bool send_credentials = RealmMayReceiveCredentials(
      parsed->HostPort(), options_.registry_host, options_.credential_realm_hosts);
  SLIPWAY_ASSIGN_OR_RETURN(HttpResponse resp,
                           RequestToken(realm, challenge, scopes, send_credentials));
  const bool anonymous = options_.credentials.empty() || !send_credentials;
  if (resp.status == 401 || resp.status == 403) {
    return absl::UnauthenticatedError(absl::StrCat(
        "token endpoint ", RedactUrl(realm), " for registry ", host, " refused ",
        anonymous ? "anonymous access" : "the credentials", " (HTTP ", resp.status, ")",
        send_credentials || options_.credentials.empty()
            ? ""
            : "; credentials were withheld: the realm is not on the registry's host or domain"));
  }
  if (resp.status != 200) {
    return absl::UnavailableError(absl::StrCat("token endpoint ", RedactUrl(realm),
                                               " for registry ", host, " answered HTTP ",
                                               resp.status));
  }
  nlohmann::json body = nlohmann::json::parse(resp.body, nullptr, /*allow_exceptions=*/false);
  std::string token;
  int64_t expires_in = 0;
  std::string refresh;
  if (body.is_object()) {
    for (const char* key : {"token", "access_token"}) {
      auto it = body.find(key);
      if (it != body.end() && it->is_string() && !it->get<std::string>().empty()) {
        token = it->get<std::string>();
        break;
      }
    }
    if (auto it = body.find("expires_in"); it != body.end() && it->is_number_integer()) {
      expires_in = it->get<int64_t>();
    }
    if (auto it = body.find("refresh_token"); it != body.end() && it->is_string()) {
      refresh = it->get<std::string>();
    }
  }
  if (token.empty()) {
    return absl::UnauthenticatedError(absl::StrCat(
        "token endpoint ", RedactUrl(realm), " for registry ", host,
        " answered without a token (expected JSON with \"token\" or \"access_token\")"));
  }
  absl::Duration lifetime = std::max(absl::Seconds(expires_in), kMinTokenLifetime);
  // Renew a little early so that a token does not expire between our check and its use.
  absl::Time expires = clock_.Now() + lifetime - std::min(absl::Seconds(10), lifetime / 10);
  absl::MutexLock lock(&mu_);
  tokens_[ScopeKey(scopes)] = Token{token, expires};
  if (!refresh.empty()) refresh_token_ = refresh;
  return "Bearer " + token;
}

absl::StatusOr<HttpResponse> Authenticator::RequestToken(const std::string& realm_url,
                                                         const AuthChallenge& challenge,
                                                         const std::vector<std::string>& scopes,
                                                         bool send_credentials) {
  const Credentials no_credentials;
  const Credentials& creds = send_credentials ? options_.credentials : no_credentials;
  const std::string service = challenge.Param("service");
  std::string refresh;
  {
    absl::MutexLock lock(&mu_);
    ++token_requests_;
    refresh = !send_credentials ? std::string()
              : !refresh_token_.empty() ? refresh_token_ : creds.identity_token;
  }
  HttpRequest req;
  req.timeout = options_.token_timeout;
  req.connect_timeout = std::min(options_.token_timeout, absl::Seconds(10));
  req.forbid_link_local = true;
  req.max_body_bytes = kMaxTokenResponseBytes;
  if (!refresh.empty()) {
    // OAuth2 refresh-token grant, as Docker does for identity tokens.
    req.method = "POST";
    req.url = realm_url;
    req.headers.Add("Content-Type", "application/x-www-form-urlencoded");
    req.body = absl::StrCat("grant_type=refresh_token&refresh_token=", UrlEncode(refresh),
                            "&service=", UrlEncode(service), "&client_id=",
                            UrlEncode(options_.client_id), "&access_type=offline");
    if (!scopes.empty()) absl::StrAppend(&req.body, "&scope=", UrlEncode(ScopeKey(scopes)));
    SLIPWAY_ASSIGN_OR_RETURN(HttpResponse resp, http_.Send(req));
    if (resp.status != 404 && resp.status != 405) return resp;
    req = HttpRequest();  // endpoint without the OAuth2 POST: fall back to GET
    req.timeout = options_.token_timeout;
    req.forbid_link_local = true;
    req.max_body_bytes = kMaxTokenResponseBytes;
  }
  std::string url = realm_url;
  if (!service.empty()) {
    SLIPWAY_ASSIGN_OR_RETURN(url, AppendQueryParam(url, "service", service));
  }
  for (const std::string& scope : scopes) {
    SLIPWAY_ASSIGN_OR_RETURN(url, AppendQueryParam(url, "scope", scope));
  }
  if (!creds.username.empty()) {
    SLIPWAY_ASSIGN_OR_RETURN(url, AppendQueryParam(url, "account", creds.username));
    req.headers.Add("Authorization", BasicAuthorization(creds.username, creds.password));
  }
  req.method = "GET";
  req.url = url;
  return http_.Send(req);
}

}  // namespace slipway::registry
