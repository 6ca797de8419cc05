// WWW-Authenticate parsing (RFC 7235 §4.1, RFC 7230 §3.2.6) and scope helpers from auth.h.

#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "server/registry/auth.h"
#include "storage/status_macros.h"

namespace slipway::registry {
namespace {

bool IsTokenChar(char c) {
  return absl::ascii_isalnum(static_cast<unsigned char>(c)) ||
         absl::string_view("!#$%&'*+-.^_`|~").find(c) != absl::string_view::npos;
}

class ChallengeParser {
 public:
  explicit ChallengeParser(absl::string_view text) : s_(text) {}

  absl::Status Parse(std::vector<AuthChallenge>* out) {
    for (;;) {
      SkipSpaceAndCommas();
      if (AtEnd()) return absl::OkStatus();
      std::string scheme = Token();
      if (scheme.empty()) return Error("expected an auth scheme");
      AuthChallenge c;
      c.scheme = absl::AsciiStrToLower(scheme);
      SkipSpace();
      // token68 ("Basic dXNlcg==") when a lone token (with '=' padding) ends the challenge.
      size_t save = i_;
      if (!Token().empty()) {
        size_t j = i_;
        while (j < s_.size() && s_[j] == '=') ++j;
        size_t k = j;
        while (k < s_.size() && (s_[k] == ' ' || s_[k] == '\t')) ++k;
        if (k == s_.size() || s_[k] == ',') {
          c.params[""] = std::string(s_.substr(save, j - save));
          i_ = k;
          out->push_back(std::move(c));
          continue;
        }
      }
      i_ = save;
      for (;;) {
        SkipSpace();
        size_t param_start = i_;
        std::string name = Token();
        SkipSpace();
        if (name.empty() || AtEnd() || Peek() != '=') {
          // Not a parameter: the next challenge starts here.
          i_ = param_start;
          break;
        }
        ++i_;  // '='
        SkipSpace();
        std::string value;
        if (!AtEnd() && Peek() == '"') {
          SLIPWAY_RETURN_IF_ERROR(QuotedString(&value));
        } else {
          value = Token();
        }
        c.params[absl::AsciiStrToLower(name)] = std::move(value);
        SkipSpace();
        if (AtEnd()) break;
        if (Peek() != ',') return Error("expected ',' after a parameter");
        ++i_;
        SkipSpaceAndCommas();
      }
      out->push_back(std::move(c));
    }
  }

 private:
  bool AtEnd() const { return i_ >= s_.size(); }
  char Peek() const { return s_[i_]; }
  void SkipSpace() {
    while (!AtEnd() && (Peek() == ' ' || Peek() == '\t')) ++i_;
  }
  void SkipSpaceAndCommas() {
    while (!AtEnd() && (Peek() == ' ' || Peek() == '\t' || Peek() == ',')) ++i_;
  }
  std::string Token() {
    size_t start = i_;
    while (!AtEnd() && IsTokenChar(Peek())) ++i_;
    return std::string(s_.substr(start, i_ - start));
  }
  absl::Status QuotedString(std::string* out) {
    ++i_;  // opening quote
    while (!AtEnd()) {
      char c = s_[i_++];
      if (c == '"') return absl::OkStatus();
      if (c == '\\') {
        if (AtEnd()) break;
        c = s_[i_++];
      }
      out->push_back(c);
    }
    return Error("unterminated quoted string");
  }
  absl::Status Error(absl::string_view what) const {
    return absl::InvalidArgumentError(
        absl::StrCat("malformed WWW-Authenticate header at offset ", i_, ": ", what));
  }

  absl::string_view s_;
  size_t i_ = 0;
};

}  // namespace

std::string AuthChallenge::Param(absl::string_view name) const {
  auto it = params.find(absl::AsciiStrToLower(name));
  return it == params.end() ? "" : it->second;
}

absl::StatusOr<std::vector<AuthChallenge>> ParseWwwAuthenticate(
    const std::vector<std::string>& header_values) {
  std::vector<AuthChallenge> out;
  for (const std::string& v : header_values) {
    absl::Status s = ChallengeParser(v).Parse(&out);
    if (!s.ok()) return s;
  }
  return out;
}

std::string BasicAuthorization(absl::string_view username, absl::string_view password) {
  return absl::StrCat("Basic ", absl::Base64Escape(absl::StrCat(username, ":", password)));
}

std::string RepositoryScope(absl::string_view repository, bool push) {
  return absl::StrCat("repository:", repository, push ? ":pull,push" : ":pull");
}

std::vector<std::string> MergeScopes(const std::vector<std::string>& a,
                                     const std::vector<std::string>& b) {
  // "type:name:actions" — the name may itself hold ':' (a registry port), so split at the last.
  std::map<std::string, std::set<std::string>> merged;
  for (const auto* list : {&a, &b}) {
    for (const std::string& scope : *list) {
      // A header may carry several space-separated scopes.
      for (absl::string_view one : absl::StrSplit(scope, ' ', absl::SkipEmpty())) {
        size_t colon = one.rfind(':');
        if (colon == absl::string_view::npos) {
          merged[std::string(one)];
          continue;
        }
        auto& actions = merged[std::string(one.substr(0, colon))];
        for (absl::string_view act : absl::StrSplit(one.substr(colon + 1), ',', absl::SkipEmpty())) {
          actions.insert(std::string(act));
        }
      }
    }
  }
  std::vector<std::string> out;
  for (const auto& [resource, actions] : merged) {
    out.push_back(actions.empty() ? resource
                                  : absl::StrCat(resource, ":", absl::StrJoin(actions, ",")));
  }
  return out;
}

}  // namespace slipway::registry
