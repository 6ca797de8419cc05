// Tag normalization after Docker's reference grammar (github.com/distribution/reference):
//
//   name             := [domain '/'] path-component ['/' path-component]*
//   domain           := host [':' port]          host := domain-name | '[' IPv6 ']'
//   domain-name      := domain-component ['.' domain-component]*
//   domain-component := [a-zA-Z0-9] | [a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]
//   port             := [0-9]+
//   path-component   := [a-z0-9]+ (separator [a-z0-9]+)*    separator := [._] | '__' | '-'+
//   tag              := [\w][\w.-]{0,127}
//
// Hand-written matchers instead of std::regex: libstdc++'s regex backtracks recursively and
// can overflow the stack on long input, and names arrive from untrusted requests.

#include "storage/image_name.h"

#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace slipway {
namespace {

constexpr absl::string_view kDefaultDomain = "docker.io";
constexpr absl::string_view kLegacyDefaultDomain = "index.docker.io";
constexpr absl::string_view kOfficialRepoPrefix = "library/";
constexpr absl::string_view kDefaultTag = "latest";
constexpr size_t kMaxNameLength = 255;
constexpr size_t kMaxTagLength = 128;

bool IsLowerAlnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }
bool IsWordChar(char c) { return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '_'; }

bool IsPathComponent(absl::string_view s) {
  size_t i = 0;
  const size_t n = s.size();
  auto alnum_run = [&] {
    size_t start = i;
    while (i < n && IsLowerAlnum(s[i])) ++i;
    return i > start;
  };
  if (!alnum_run()) return false;
  while (i < n) {
    if (s[i] == '.') {
      ++i;
    } else if (s[i] == '_') {
      i += (i + 1 < n && s[i + 1] == '_') ? 2 : 1;
    } else if (s[i] == '-') {
      while (i < n && s[i] == '-') ++i;
    } else {
      return false;
    }
    if (!alnum_run()) return false;
  }
  return true;
}

bool IsDomainComponent(absl::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '-') return false;
  }
  return s.front() != '-' && s.back() != '-';
}

bool IsPort(absl::string_view p) {
  if (p.empty()) return false;
  for (char c : p) {
    if (!absl::ascii_isdigit(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

// host[:port], host a domain name or a bracketed IPv6 address.
bool IsDomain(absl::string_view d) {
  absl::string_view host = d;
  if (absl::StartsWith(d, "[")) {
    size_t close = d.find(']');
    if (close == absl::string_view::npos || close == 1) return false;
    for (char c : d.substr(1, close - 1)) {
      if (!absl::ascii_isxdigit(static_cast<unsigned char>(c)) && c != ':') return false;
    }
    absl::string_view rest = d.substr(close + 1);
    return rest.empty() || (rest[0] == ':' && IsPort(rest.substr(1)));
  }
  if (size_t colon = d.find(':'); colon != absl::string_view::npos) {
    if (!IsPort(d.substr(colon + 1))) return false;
    host = d.substr(0, colon);
  }
  for (absl::string_view part : absl::StrSplit(host, '.')) {
    if (!IsDomainComponent(part)) return false;
  }
  return true;
}

bool IsTag(absl::string_view t) {
  if (t.empty() || t.size() > kMaxTagLength || !IsWordChar(t[0])) return false;
  for (char c : t) {
    if (!IsWordChar(c) && c != '.' && c != '-') return false;
  }
  return true;
}

bool Is64Hex(absl::string_view s) {
  if (s.size() != 64) return false;
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

// Error text quotes at most a short printable prefix of untrusted input.
std::string Quote(absl::string_view text) {
  std::string out;
  for (char c : text.substr(0, 100)) out.push_back((c >= 0x20 && c < 0x7f) ? c : '?');
  if (text.size() > 100) out += "...";
  return absl::StrCat("\"", out, "\"");
}

absl::Status Invalid(absl::string_view name, absl::string_view rule) {
  return absl::InvalidArgumentError(absl::StrCat("invalid image name ", Quote(name), ": ", rule));
}

}  // namespace

absl::StatusOr<std::string> NormalizeTag(absl::string_view name) {
  if (name.empty()) return Invalid(name, "empty");
  if (absl::StrContains(name, '@')) {
    return Invalid(name, "a digest reference (@sha256:...) is not a tag");
  }
  // The tag is what follows the last ':' after the last '/' (a ':' before it is a port).
  absl::string_view repo = name, tag = kDefaultTag;
  size_t last_slash = name.rfind('/');
  size_t colon = name.rfind(':');
  if (colon != absl::string_view::npos &&
      (last_slash == absl::string_view::npos || colon > last_slash)) {
    repo = name.substr(0, colon);
    tag = name.substr(colon + 1);
    if (tag.size() > kMaxTagLength) {
      return Invalid(name, absl::StrCat("tag is longer than ", kMaxTagLength, " characters"));
    }
    if (!IsTag(tag)) {
      return Invalid(name, "tag must match [A-Za-z0-9_][A-Za-z0-9_.-]* (and not be empty)");
    }
  }
  // Split off the registry host, as Docker does.
  absl::string_view domain = kDefaultDomain, path = repo;
  size_t slash = repo.find('/');
  if (slash != absl::string_view::npos) {
    absl::string_view first = repo.substr(0, slash);
    if (absl::StrContains(first, '.') || absl::StrContains(first, ':') || first == "localhost") {
      domain = first;
      path = repo.substr(slash + 1);
      if (!IsDomain(domain)) {
        return Invalid(name, absl::StrCat("registry host ", Quote(domain),
                                          " is not a valid host[:port]"));
      }
    }
  }
  if (domain == kLegacyDefaultDomain) domain = kDefaultDomain;
  std::string full_path(path);
  if (domain == kDefaultDomain && !absl::StrContains(path, '/')) {
    if (Is64Hex(path)) {
      return Invalid(name, "a 64-character hex string is an image ID, not a repository name");
    }
    full_path = absl::StrCat(kOfficialRepoPrefix, path);
  }
  if (absl::AsciiStrToLower(full_path) != full_path) {
    return Invalid(name, "repository name must be lowercase");
  }
  for (absl::string_view component : absl::StrSplit(full_path, '/')) {
    if (component.empty()) return Invalid(name, "repository name has an empty path component");
    if (!IsPathComponent(component)) {
      return Invalid(name, absl::StrCat("path component ", Quote(component),
                                        " must match [a-z0-9]+ joined by '.', '_', '__' or '-'"));
    }
  }
  std::string normalized = absl::StrCat(domain, "/", full_path);
  if (normalized.size() > kMaxNameLength) {
    return Invalid(name, absl::StrCat("repository name is longer than ", kMaxNameLength,
                                      " characters"));
  }
  return absl::StrCat(normalized, ":", tag);
}

std::string FamiliarTag(absl::string_view normalized_tag) {
  absl::string_view rest = normalized_tag;
  if (!absl::ConsumePrefix(&rest, absl::StrCat(kDefaultDomain, "/"))) {
    return std::string(normalized_tag);
  }
  // "library/x:tag" → "x:tag", but "library/x/y:tag" keeps its prefix (not an official image).
  absl::string_view after_library = rest;
  if (absl::ConsumePrefix(&after_library, kOfficialRepoPrefix) &&
      !absl::StrContains(after_library.substr(0, after_library.find(':')), '/')) {
    return std::string(after_library);
  }
  return std::string(rest);
}

}  // namespace slipway
