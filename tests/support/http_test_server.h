#ifndef SLIPWAY_TESTS_SUPPORT_HTTP_TEST_SERVER_H_
#define SLIPWAY_TESTS_SUPPORT_HTTP_TEST_SERVER_H_

#include <atomic>
#include <functional>
#include <map>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/synchronization/mutex.h"

namespace slipway::testing {

struct RecordedRequest {
  std::string method;
  std::string target;  // path and query as sent
  std::string path;    // without the query
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  // First value of a header (case-insensitive), "" when absent.
  std::string Header(const std::string& name) const;
  // Every value of a query parameter, percent-decoded.
  std::vector<std::string> Query(const std::string& name) const;
};

struct TestResponse {
  int status = 200;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
};

// A tiny HTTP/1.1 server on 127.0.0.1 with an ephemeral port, one connection at a time, each
// closed after its response. It records every request (headers included) so tests can prove
// what did or did not reach it: token servers, realms on "other hosts", redirect targets.
// The destructor stops and joins the accept thread (which polls its stop flag every 50 ms).
class HttpTestServer {
 public:
  using Handler = std::function<TestResponse(const RecordedRequest&)>;
  explicit HttpTestServer(Handler handler);
  ~HttpTestServer();
  HttpTestServer(const HttpTestServer&) = delete;
  HttpTestServer& operator=(const HttpTestServer&) = delete;

  int port() const { return port_; }
  std::string url() const;  // "http://127.0.0.1:<port>"
  std::vector<RecordedRequest> requests() const;

 private:
  void Serve();
  void HandleConnection(int fd);

  Handler handler_;
  int listen_fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  mutable absl::Mutex mu_;
  std::vector<RecordedRequest> requests_ ABSL_GUARDED_BY(mu_);
  std::thread thread_;
};

// A JWT issuer for docker-registry's `auth: token` mode: an RSA key and a self-signed
// certificate (made with the openssl CLI in `dir`) that the registry trusts as its
// rootcertbundle; tokens are RS256 with an x5c header carrying that certificate.
class TokenIssuer {
 public:
  TokenIssuer(const std::string& dir, std::string issuer, std::string service);
  const std::string& cert_file() const { return cert_file_; }
  const std::string& issuer() const { return issuer_; }
  const std::string& service() const { return service_; }
  struct Grant {
    std::string type = "repository";
    std::string name;
    std::vector<std::string> actions;
  };
  std::string Issue(const std::string& subject, const std::vector<Grant>& access,
                    int ttl_seconds = 300) const;

 private:
  std::string key_file_;
  std::string cert_file_;
  std::string issuer_;
  std::string service_;
};

}  // namespace slipway::testing

#endif  // SLIPWAY_TESTS_SUPPORT_HTTP_TEST_SERVER_H_
