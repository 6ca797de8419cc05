#include "tests/support/token_server.h"

#include <openssl/rand.h>

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "nlohmann/json.hpp"
#include "tests/support/jwt_signer.h"

namespace slipway::testing {
namespace {

std::string PercentDecode(absl::string_view in) {
  std::string out;
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i] == '+') {
      out.push_back(' ');
    } else if (uint32_t byte = 0; in[i] == '%' && i + 2 < in.size() &&
                                  absl::SimpleHexAtoi(in.substr(i + 1, 2), &byte)) {
      out.push_back(static_cast<char>(byte));
      i += 2;
    } else {
      out.push_back(in[i]);
    }
  }
  return out;
}

// "a=1&b=2&b=3" → ordered pairs, decoded.
std::vector<std::pair<std::string, std::string>> ParseForm(absl::string_view text) {
  std::vector<std::pair<std::string, std::string>> out;
  for (absl::string_view part : absl::StrSplit(text, '&', absl::SkipEmpty())) {
    std::pair<std::string, std::string> kv = absl::StrSplit(part, absl::MaxSplits('=', 1));
    out.emplace_back(PercentDecode(kv.first), PercentDecode(kv.second));
  }
  return out;
}

std::vector<std::string> Values(const std::vector<std::pair<std::string, std::string>>& form,
                                absl::string_view key) {
  std::vector<std::string> out;
  for (const auto& [k, v] : form) {
    if (k == key) out.push_back(v);
  }
  return out;
}

std::string First(const std::vector<std::pair<std::string, std::string>>& form,
                  absl::string_view key) {
  auto v = Values(form, key);
  return v.empty() ? "" : v.front();
}

std::string RandomHex(size_t bytes) {
  std::string raw(bytes, '\0');
  RAND_bytes(reinterpret_cast<unsigned char*>(raw.data()), static_cast<int>(bytes));
  std::string out;
  for (unsigned char c : raw) absl::StrAppend(&out, absl::Hex(c, absl::kZeroPad2));
  return out;
}

HttpResponse Json(int status, const nlohmann::json& body) {
  return HttpResponse{status, {{"Content-Type", "application/json"}}, body.dump()};
}

HttpResponse Unauthorized(absl::string_view why) {
  HttpResponse r = Json(401, {{"errors", {{{"code", "UNAUTHORIZED"}, {"message", why}}}}});
  r.headers.emplace_back("WWW-Authenticate", "Basic realm=\"slipway-test-token-server\"");
  return r;
}

}  // namespace

absl::StatusOr<TokenScope> ParseTokenScope(absl::string_view text) {
  size_t first = text.find(':');
  size_t last = text.rfind(':');
  if (first == absl::string_view::npos || first == last) {
    return absl::InvalidArgumentError(absl::StrCat("malformed scope: ", text));
  }
  TokenScope scope;
  scope.type = std::string(text.substr(0, first));
  scope.name = std::string(text.substr(first + 1, last - first - 1));
  scope.actions = absl::StrSplit(text.substr(last + 1), ',', absl::SkipEmpty());
  return scope;
}

struct TokenServer::Keys {
  std::unique_ptr<JwtSigner> signer;
};

TokenServer::TokenServer(TokenServerOptions options) : options_(std::move(options)) {}
TokenServer::~TokenServer() {
  if (server_) server_->Stop();
}

absl::StatusOr<std::unique_ptr<TokenServer>> TokenServer::Start(TokenServerOptions options) {
  if (options.cert_path.empty()) {
    return absl::InvalidArgumentError("TokenServerOptions.cert_path is empty");
  }
  std::unique_ptr<TokenServer> ts(new TokenServer(std::move(options)));
  ts->keys_ = std::make_unique<Keys>();
  auto signer = JwtSigner::Create(ts->options_.issuer);
  if (!signer.ok()) return signer.status();
  ts->keys_->signer = std::move(*signer);
  if (absl::Status st = ts->keys_->signer->WriteCertPem(ts->options_.cert_path); !st.ok()) {
    return st;
  }
  auto server =
      TestHttpServer::Start([t = ts.get()](const HttpRequest& r) { return t->Handle(r); });
  if (!server.ok()) return server.status();
  ts->server_ = std::move(*server);
  return ts;
}

absl::StatusOr<std::string> TokenServer::Issue(const std::string& subject,
                                               const std::vector<TokenScope>& access,
                                               absl::Duration lifetime) const {
  int64_t now = absl::ToUnixSeconds(absl::Now());
  nlohmann::json grants = nlohmann::json::array();
  for (const TokenScope& s : access) {
    grants.push_back({{"type", s.type}, {"name", s.name}, {"actions", s.actions}});
  }
  nlohmann::json claims = {{"iss", options_.issuer},  {"sub", subject},
                           {"aud", options_.service}, {"exp", now + absl::ToInt64Seconds(lifetime)},
                           {"nbf", now - 1},          {"iat", now},
                           {"jti", RandomHex(16)},    {"access", grants}};
  return keys_->signer->Sign(claims);
}

bool TokenServer::Authenticate(const http::Headers& headers, std::string* subject) const {
  subject->clear();
  auto auth = http::FindHeader(headers, "Authorization");
  if (!auth) return !options_.require_auth;
  absl::string_view value = *auth;
  if (!absl::ConsumePrefix(&value, "Basic ") || options_.user.empty()) return false;
  auto decoded = Base64Decode(absl::StripAsciiWhitespace(value));
  if (!decoded.ok()) return false;
  if (*decoded != absl::StrCat(options_.user, ":", options_.password)) return false;
  *subject = options_.user;
  return true;
}

std::vector<TokenScope> TokenServer::Grant(const std::string& subject,
                                           const std::vector<TokenScope>& requested) const {
  std::vector<TokenScope> granted;
  for (const TokenScope& want : requested) {
    TokenScope got{want.type, want.name, {}};
    if (options_.policy) {
      got.actions = options_.policy(subject, want);
    } else if (!subject.empty()) {
      got.actions = want.actions;
    } else if (std::find(want.actions.begin(), want.actions.end(), "pull") != want.actions.end()) {
      got.actions = {"pull"};
    }
    granted.push_back(std::move(got));
  }
  return granted;
}

HttpResponse TokenServer::Handle(const HttpRequest& request) {
  TokenRequestRecord record;
  record.method = request.head.method;
  record.target = request.head.target;
  record.headers = request.head.headers;
  auto finish = [&](HttpResponse r) {
    record.status = r.status;
    absl::MutexLock lock(&mu_);
    records_.push_back(std::move(record));
    return r;
  };
  if (request.path() != "/token") return finish(Json(404, {{"error", "not found"}}));
  const bool is_post = request.head.method == "POST";
  if (!is_post && request.head.method != "GET") return finish(Json(405, {{"error", "method"}}));

  size_t q = request.head.target.find('?');
  auto form =
      ParseForm(is_post                  ? absl::string_view(request.body)
                : q == std::string::npos ? absl::string_view()
                                         : absl::string_view(request.head.target).substr(q + 1));
  std::string service = First(form, "service");
  if (!service.empty() && service != options_.service) {
    return finish(Json(400, {{"error", absl::StrCat("unknown service ", service)}}));
  }
  std::vector<std::string> scope_texts;
  if (is_post) {
    scope_texts = absl::StrSplit(First(form, "scope"), ' ', absl::SkipEmpty());
  } else {
    scope_texts = Values(form, "scope");
  }
  for (const std::string& text : scope_texts) {
    auto scope = ParseTokenScope(text);
    if (!scope.ok()) return finish(Json(400, {{"error", std::string(scope.status().message())}}));
    record.requested.push_back(std::move(*scope));
  }

  std::string subject;
  bool want_refresh = false;
  if (is_post) {
    std::string grant = First(form, "grant_type");
    if (grant == "password") {
      if (options_.user.empty() || First(form, "username") != options_.user ||
          First(form, "password") != options_.password) {
        return finish(Unauthorized("bad username or password"));
      }
      subject = options_.user;
      want_refresh = First(form, "access_type") == "offline";
    } else if (grant == "refresh_token") {
      std::string token = First(form, "refresh_token");
      bool known = false;
      {
        absl::MutexLock lock(&mu_);
        for (const auto& [t, who] : refresh_tokens_) {
          if (t == token) {
            known = true;
            subject = who;
          }
        }
      }
      if (!known) return finish(Unauthorized("unknown refresh token"));
    } else {
      return finish(Json(400, {{"error", absl::StrCat("unsupported grant_type ", grant)}}));
    }
  } else {
    if (!Authenticate(request.head.headers, &subject)) {
      return finish(Unauthorized("bad credentials"));
    }
    want_refresh = First(form, "offline_token") == "true" && !subject.empty();
  }
  record.subject = subject;
  record.granted = Grant(subject, record.requested);
  auto token = Issue(subject, record.granted, options_.expires_in);
  if (!token.ok()) return finish(Json(500, {{"error", std::string(token.status().message())}}));

  nlohmann::json body = {
      {"access_token", *token},
      {"issued_at", absl::FormatTime(absl::RFC3339_sec, absl::Now(), absl::UTCTimeZone())}};
  if (!is_post) body["token"] = *token;
  if (!options_.omit_expires_in) body["expires_in"] = absl::ToInt64Seconds(options_.expires_in);
  if (want_refresh) {
    std::string refresh = RandomHex(24);
    body["refresh_token"] = refresh;
    absl::MutexLock lock(&mu_);
    refresh_tokens_.emplace_back(refresh, subject);
  }
  {
    absl::MutexLock lock(&mu_);
    ++issued_;
  }
  return finish(Json(200, body));
}

std::vector<TokenRequestRecord> TokenServer::Requests() const {
  absl::MutexLock lock(&mu_);
  return records_;
}

size_t TokenServer::TokensIssued() const {
  absl::MutexLock lock(&mu_);
  return issued_;
}

}  // namespace slipway::testing
