#include "tests/support/http_test_server.h"

#include <netinet/in.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <ctime>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/support/registry_process.h"
#include "tests/support/temp_dir.h"

namespace slipway::testing {
namespace {

std::string PercentDecode(absl::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size()) {
      int v = 0;
      if (absl::SimpleHexAtoi(s.substr(i + 1, 2), &v)) {
        out.push_back(static_cast<char>(v));
        i += 2;
        continue;
      }
    }
    out.push_back(s[i] == '+' ? ' ' : s[i]);
  }
  return out;
}

const char* Reason(int status) {
  switch (status) {
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 302: return "Found";
    case 307: return "Temporary Redirect";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    default: return "Status";
  }
}

std::string Base64Url(absl::string_view data) { return absl::WebSafeBase64Escape(data); }

}  // namespace

std::string RecordedRequest::Header(const std::string& name) const {
  for (const auto& [k, v] : headers) {
    if (absl::EqualsIgnoreCase(k, name)) return v;
  }
  return "";
}

std::vector<std::string> RecordedRequest::Query(const std::string& name) const {
  std::vector<std::string> out;
  size_t q = target.find('?');
  if (q == std::string::npos) return out;
  for (absl::string_view pair : absl::StrSplit(target.substr(q + 1), '&')) {
    size_t eq = pair.find('=');
    if (eq != absl::string_view::npos && PercentDecode(pair.substr(0, eq)) == name) {
      out.push_back(PercentDecode(pair.substr(eq + 1)));
    }
  }
  return out;
}

HttpTestServer::HttpTestServer(Handler handler) : handler_(std::move(handler)) {
  listen_fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  if (listen_fd_ < 0 || bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      listen(listen_fd_, 16) != 0 ||
      getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    ADD_FAILURE() << "HttpTestServer: cannot listen on 127.0.0.1";
    return;
  }
  port_ = ntohs(addr.sin_port);
  thread_ = std::thread([this] { Serve(); });
}

HttpTestServer::~HttpTestServer() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
  if (listen_fd_ >= 0) close(listen_fd_);
}

std::string HttpTestServer::url() const { return absl::StrCat("http://127.0.0.1:", port_); }

std::vector<RecordedRequest> HttpTestServer::requests() const {
  absl::MutexLock lock(&mu_);
  return requests_;
}

void HttpTestServer::Serve() {
  while (!stop_) {
    pollfd p{listen_fd_, POLLIN, 0};
    if (poll(&p, 1, 50) <= 0) continue;
    int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) continue;
    HandleConnection(fd);
    close(fd);
  }
}

void HttpTestServer::HandleConnection(int fd) {
  // Bounded: at most 16 MiB of request and 5 s without progress.
  std::string data;
  size_t header_end = std::string::npos;
  size_t content_length = 0;
  char buf[16384];
  for (;;) {
    if (header_end != std::string::npos && data.size() >= header_end + 4 + content_length) break;
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, 5000) <= 0) return;
    ssize_t n = read(fd, buf, sizeof(buf));
    if (n <= 0) return;
    data.append(buf, static_cast<size_t>(n));
    if (data.size() > (16 << 20)) return;
    if (header_end == std::string::npos && (header_end = data.find("\r\n\r\n")) != std::string::npos) {
      for (absl::string_view line : absl::StrSplit(data.substr(0, header_end), "\r\n")) {
        if (absl::StartsWithIgnoreCase(line, "content-length:")) {
          absl::SimpleAtoi(absl::StripAsciiWhitespace(line.substr(15)), &content_length);
        }
      }
    }
  }
  RecordedRequest req;
  std::vector<std::string> lines = absl::StrSplit(data.substr(0, header_end), "\r\n");
  std::vector<std::string> first = absl::StrSplit(lines[0], ' ');
  if (first.size() < 2) return;
  req.method = first[0];
  req.target = first[1];
  req.path = req.target.substr(0, req.target.find('?'));
  for (size_t i = 1; i < lines.size(); ++i) {
    size_t colon = lines[i].find(':');
    if (colon == std::string::npos) continue;
    req.headers.emplace_back(lines[i].substr(0, colon),
                             std::string(absl::StripAsciiWhitespace(lines[i].substr(colon + 1))));
  }
  req.body = data.substr(header_end + 4, content_length);
  {
    absl::MutexLock lock(&mu_);
    requests_.push_back(req);
  }
  TestResponse resp = handler_(req);
  std::string out = absl::StrCat("HTTP/1.1 ", resp.status, " ", Reason(resp.status), "\r\n");
  for (const auto& [k, v] : resp.headers) absl::StrAppend(&out, k, ": ", v, "\r\n");
  absl::StrAppend(&out, "Content-Length: ", resp.body.size(), "\r\nConnection: close\r\n\r\n",
                  req.method == "HEAD" ? "" : resp.body);
  size_t off = 0;
  while (off < out.size()) {
    ssize_t w = send(fd, out.data() + off, out.size() - off, MSG_NOSIGNAL);
    if (w <= 0) return;
    off += static_cast<size_t>(w);
  }
}

TokenIssuer::TokenIssuer(const std::string& dir, std::string issuer, std::string service)
    : key_file_(dir + "/token.key"),
      cert_file_(dir + "/token.crt"),
      issuer_(std::move(issuer)),
      service_(std::move(service)) {
  std::string out;
  int rc = RunCommand({"openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout",
                       key_file_, "-out", cert_file_, "-days", "2", "-subj",
                       "/CN=slipway-token-issuer"},
                      &out, 60);
  EXPECT_EQ(rc, 0) << out;
}

std::string TokenIssuer::Issue(const std::string& subject, const std::vector<Grant>& access,
                               int ttl_seconds) const {
  // x5c: the DER certificate in standard base64 — the PEM body without its armour.
  std::string pem = ReadFile(cert_file_);
  std::string der_b64;
  for (absl::string_view line : absl::StrSplit(pem, '\n')) {
    if (!line.empty() && !absl::StartsWith(line, "-----")) absl::StrAppend(&der_b64, line);
  }
  nlohmann::json header = {{"alg", "RS256"}, {"typ", "JWT"}, {"x5c", {der_b64}}};
  const int64_t now = static_cast<int64_t>(time(nullptr));
  nlohmann::json grants = nlohmann::json::array();
  for (const Grant& g : access) {
    grants.push_back({{"type", g.type}, {"name", g.name}, {"actions", g.actions}});
  }
  static std::atomic<int> counter{0};
  nlohmann::json claims = {{"iss", issuer_},  {"sub", subject},       {"aud", service_},
                           {"exp", now + ttl_seconds}, {"nbf", now - 10}, {"iat", now},
                           {"jti", absl::StrCat("jti-", now, "-", counter++)},
                           {"access", grants}};
  std::string signing_input = Base64Url(header.dump()) + "." + Base64Url(claims.dump());

  FILE* f = fopen(key_file_.c_str(), "r");
  EVP_PKEY* key = f != nullptr ? PEM_read_PrivateKey(f, nullptr, nullptr, nullptr) : nullptr;
  if (f != nullptr) fclose(f);
  EXPECT_NE(key, nullptr);
  if (key == nullptr) return "";
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  size_t sig_len = 0;
  std::string sig;
  if (EVP_DigestSignInit(ctx, nullptr, EVP_sha256(), nullptr, key) == 1 &&
      EVP_DigestSign(ctx, nullptr, &sig_len,
                     reinterpret_cast<const unsigned char*>(signing_input.data()),
                     signing_input.size()) == 1) {
    sig.resize(sig_len);
    EVP_DigestSign(ctx, reinterpret_cast<unsigned char*>(sig.data()), &sig_len,
                   reinterpret_cast<const unsigned char*>(signing_input.data()),
                   signing_input.size());
    sig.resize(sig_len);
  }
  EVP_MD_CTX_free(ctx);
  EVP_PKEY_free(key);
  return signing_input + "." + Base64Url(sig);
}

}  // namespace slipway::testing
