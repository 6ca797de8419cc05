// URL helpers declared in http_client.h, on libcurl's URL API (no hand-written URL parser).

#include <curl/curl.h>

#include <memory>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "server/registry/http_client.h"

namespace slipway::registry {
namespace {

struct UrlDeleter {
  void operator()(CURLU* u) const { curl_url_cleanup(u); }
};
using UrlHandle = std::unique_ptr<CURLU, UrlDeleter>;

struct CurlStringDeleter {
  void operator()(char* p) const { curl_free(p); }
};

absl::StatusOr<UrlHandle> ParseHandle(absl::string_view url) {
  UrlHandle h(curl_url());
  if (h == nullptr) return absl::ResourceExhaustedError("curl_url: out of memory");
  std::string text(url);
  CURLUcode rc = curl_url_set(h.get(), CURLUPART_URL, text.c_str(), 0);
  if (rc != CURLUE_OK) {
    return absl::InvalidArgumentError(
        absl::StrCat("malformed URL \"", RedactUrl(url), "\": ", curl_url_strerror(rc)));
  }
  return h;
}

std::optional<std::string> Part(CURLU* h, CURLUPart part, unsigned flags = 0) {
  char* out = nullptr;
  if (curl_url_get(h, part, &out, flags) != CURLUE_OK || out == nullptr) return std::nullopt;
  std::unique_ptr<char, CurlStringDeleter> guard(out);
  return std::string(out);
}

}  // namespace

std::string UrlParts::HostPort() const {
  std::string h = absl::StrContains(host, ':') ? absl::StrCat("[", host, "]") : host;
  return port.empty() ? h : absl::StrCat(h, ":", port);
}

absl::StatusOr<UrlParts> ParseUrl(absl::string_view url) {
  auto h = ParseHandle(url);
  if (!h.ok()) return h.status();
  UrlParts parts;
  parts.scheme = absl::AsciiStrToLower(Part(h->get(), CURLUPART_SCHEME).value_or(""));
  std::string host = Part(h->get(), CURLUPART_HOST).value_or("");
  if (absl::StartsWith(host, "[") && absl::EndsWith(host, "]")) {
    host = host.substr(1, host.size() - 2);
  }
  parts.host = absl::AsciiStrToLower(host);
  parts.port = Part(h->get(), CURLUPART_PORT).value_or("");
  if (parts.scheme != "http" && parts.scheme != "https") {
    return absl::InvalidArgumentError(
        absl::StrCat("URL \"", RedactUrl(url), "\" is not http or https"));
  }
  return parts;
}

std::string RedactUrl(absl::string_view url) {
  UrlHandle h(curl_url());
  std::string text(url);
  if (h == nullptr || curl_url_set(h.get(), CURLUPART_URL, text.c_str(), 0) != CURLUE_OK) {
    // Unparseable: keep only what precedes any query, and never more than 200 characters.
    absl::string_view head = url.substr(0, url.find_first_of("?#"));
    if (size_t at = head.find('@'); at != absl::string_view::npos) head = head.substr(at + 1);
    return std::string(head.substr(0, 200));
  }
  curl_url_set(h.get(), CURLUPART_USER, nullptr, 0);
  curl_url_set(h.get(), CURLUPART_PASSWORD, nullptr, 0);
  curl_url_set(h.get(), CURLUPART_QUERY, nullptr, 0);
  curl_url_set(h.get(), CURLUPART_FRAGMENT, nullptr, 0);
  return Part(h.get(), CURLUPART_URL).value_or("<url>");
}

absl::StatusOr<std::string> ResolveUrl(absl::string_view base, absl::string_view reference) {
  auto h = ParseHandle(base);
  if (!h.ok()) return h.status();
  std::string ref(reference);
  // With a URL already set, libcurl resolves a relative one against it (RFC 3986).
  CURLUcode rc = curl_url_set(h->get(), CURLUPART_URL, ref.c_str(), 0);
  if (rc != CURLUE_OK) {
    return absl::InvalidArgumentError(absl::StrCat("malformed URL reference \"",
                                                   RedactUrl(reference), "\": ",
                                                   curl_url_strerror(rc)));
  }
  auto out = Part(h->get(), CURLUPART_URL);
  if (!out.has_value()) return absl::InternalError("curl_url_get failed");
  return *out;
}

absl::StatusOr<std::string> AppendQueryParam(absl::string_view url, absl::string_view name,
                                             absl::string_view value) {
  auto h = ParseHandle(url);
  if (!h.ok()) return h.status();
  std::string pair = absl::StrCat(name, "=", value);
  CURLUcode rc = curl_url_set(h->get(), CURLUPART_QUERY, pair.c_str(),
                              CURLU_APPENDQUERY | CURLU_URLENCODE);
  if (rc != CURLUE_OK) {
    return absl::InvalidArgumentError(absl::StrCat("cannot add query parameter ", name, ": ",
                                                   curl_url_strerror(rc)));
  }
  auto out = Part(h->get(), CURLUPART_URL);
  if (!out.has_value()) return absl::InternalError("curl_url_get failed");
  return *out;
}

std::string UrlEncode(absl::string_view text) {
  std::string out;
  for (unsigned char c : text) {
    if (absl::ascii_isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      static constexpr char kHex[] = "0123456789ABCDEF";
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

}  // namespace slipway::registry
