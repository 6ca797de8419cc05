#ifndef SLIPWAY_TESTS_TESTINFRA_CURL_UTIL_H_
#define SLIPWAY_TESTS_TESTINFRA_CURL_UTIL_H_

// A minimal libcurl client for the test-infrastructure tests (the servers are checked with a
// client nobody here wrote the HTTP side of).

#include <curl/curl.h>

#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/string_view.h"

namespace slipway::testing {

struct CurlResult {
  CURLcode code = CURLE_OK;
  long status = 0;
  std::string body;
  std::vector<std::string> header_lines;
  std::string error;
  // Value of response header `name` (case-insensitive) from the final response, or "".
  std::string Header(absl::string_view name) const {
    std::string found;
    for (const std::string& line : header_lines) {
      if (absl::StartsWith(line, "HTTP/")) found.clear();  // a new response (after 100)
      size_t colon = line.find(':');
      if (colon != std::string::npos &&
          absl::EqualsIgnoreCase(absl::string_view(line).substr(0, colon), name)) {
        found = std::string(absl::StripAsciiWhitespace(absl::string_view(line).substr(colon + 1)));
      }
    }
    return found;
  }
};

struct CurlRequest {
  std::string method = "GET";
  std::string url;
  std::vector<std::string> headers;  // "Name: value"
  bool has_body = false;
  std::string body;
  bool chunked = false;  // send the body with Transfer-Encoding: chunked
  long timeout_ms = 20000;
};

inline CurlRequest Req(std::string method, std::string url) {
  CurlRequest r;
  r.method = std::move(method);
  r.url = std::move(url);
  return r;
}

// One easy handle, so consecutive requests reuse the connection.
class CurlClient {
 public:
  CurlClient() : h_(curl_easy_init()) {}
  ~CurlClient() { curl_easy_cleanup(h_); }
  CurlClient(const CurlClient&) = delete;
  CurlClient& operator=(const CurlClient&) = delete;

  CurlResult Do(const CurlRequest& req) {
    CurlResult result;
    curl_easy_reset(h_);
    char errbuf[CURL_ERROR_SIZE] = {0};
    curl_easy_setopt(h_, CURLOPT_URL, req.url.c_str());
    curl_easy_setopt(h_, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(h_, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h_, CURLOPT_TIMEOUT_MS, req.timeout_ms);
    curl_easy_setopt(h_, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
    curl_easy_setopt(h_, CURLOPT_WRITEFUNCTION, &Write);
    curl_easy_setopt(h_, CURLOPT_WRITEDATA, &result.body);
    curl_easy_setopt(h_, CURLOPT_HEADERFUNCTION, &Header);
    curl_easy_setopt(h_, CURLOPT_HEADERDATA, &result.header_lines);
    struct curl_slist* list = nullptr;
    for (const std::string& h : req.headers) list = curl_slist_append(list, h.c_str());
    if (req.chunked) list = curl_slist_append(list, "Transfer-Encoding: chunked");
    if (req.method == "HEAD") {
      curl_easy_setopt(h_, CURLOPT_NOBODY, 1L);
    } else if (req.has_body) {
      upload_ = req.body;
      upload_pos_ = 0;
      curl_easy_setopt(h_, CURLOPT_UPLOAD, 1L);
      curl_easy_setopt(h_, CURLOPT_READFUNCTION, &Read);
      curl_easy_setopt(h_, CURLOPT_READDATA, this);
      if (!req.chunked) {
        curl_easy_setopt(h_, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(req.body.size()));
      }
      curl_easy_setopt(h_, CURLOPT_CUSTOMREQUEST, req.method.c_str());
    } else if (req.method != "GET") {
      curl_easy_setopt(h_, CURLOPT_CUSTOMREQUEST, req.method.c_str());
    }
    curl_easy_setopt(h_, CURLOPT_HTTPHEADER, list);
    result.code = curl_easy_perform(h_);
    curl_easy_getinfo(h_, CURLINFO_RESPONSE_CODE, &result.status);
    result.error = errbuf[0] ? errbuf : curl_easy_strerror(result.code);
    curl_slist_free_all(list);
    return result;
  }

 private:
  static size_t Write(char* data, size_t size, size_t n, void* user) {
    static_cast<std::string*>(user)->append(data, size * n);
    return size * n;
  }
  static size_t Header(char* data, size_t size, size_t n, void* user) {
    std::string line(data, size * n);
    while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.pop_back();
    if (!line.empty()) static_cast<std::vector<std::string>*>(user)->push_back(line);
    return size * n;
  }
  static size_t Read(char* buf, size_t size, size_t n, void* user) {
    auto* self = static_cast<CurlClient*>(user);
    // Small pieces, so a chunked upload really has several chunks.
    size_t take = std::min({size * n, self->upload_.size() - self->upload_pos_, size_t{16384}});
    std::copy_n(self->upload_.data() + self->upload_pos_, take, buf);
    self->upload_pos_ += take;
    return take;
  }

  CURL* h_;
  std::string upload_;
  size_t upload_pos_ = 0;
};

inline CurlResult CurlDo(const CurlRequest& req) {
  CurlClient client;
  return client.Do(req);
}

}  // namespace slipway::testing

#endif  // SLIPWAY_TESTS_TESTINFRA_CURL_UTIL_H_
