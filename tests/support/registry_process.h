#ifndef SLIPWAY_TESTS_SUPPORT_REGISTRY_PROCESS_H_
#define SLIPWAY_TESTS_SUPPORT_REGISTRY_PROCESS_H_

#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include "tests/support/temp_dir.h"

namespace slipway::testing {

// The absolute path of `program` found on $PATH (subprocess.h runs argv[0] without a PATH
// search); `program` itself when not found, so the failure names it.
std::string FindProgram(const std::string& program);

// A CA and a server certificate for 127.0.0.1 / localhost (subjectAltName), made with the
// openssl command line in `dir`. Files are PEM.
struct TestCertificates {
  std::string ca_cert;   // path
  std::string ca_key;
  std::string server_cert;
  std::string server_key;
  std::string client_cert;  // signed by the same CA, extendedKeyUsage=clientAuth
  std::string client_key;
  std::string CaPem() const { return ReadFile(ca_cert); }
};
TestCertificates MakeTestCertificates(const std::string& dir, const std::string& ca_name);

struct RegistryProcessOptions {
  bool tls = false;         // https with a CA generated for the test
  bool basic_auth = false;  // htpasswd (bcrypt) with `username` / `password`
  bool require_client_cert = false;  // with tls: mTLS, clients need certificates().client_cert
  // Token auth (`auth: token`): the realm of a token server and the certificate whose key
  // signs its JWTs (tests/support/token_server.h); both set → token mode.
  std::string token_realm;
  std::string token_cert_file;
  std::string token_service = "slipway-registry";
  std::string token_issuer = "slipway-test-issuer";
  std::string username = "slipway";
  std::string password = "s3cret-Canary-7f1d";
};

// The Debian `docker-registry` (distribution v2) serving on 127.0.0.1 with an ephemeral port
// and storage in its own temp dir. Start() picks a free port (bind to port 0, release, retry on
// a collision, at most 5 attempts), starts `docker-registry serve config.yml` and waits (at most
// ~15 s) until GET /v2/ answers 200 or 401. The destructor kills the process by its PID.
// Start() returns nullptr after recording a test failure (with the registry's log).
class RegistryProcess {
 public:
  static std::unique_ptr<RegistryProcess> Start(const RegistryProcessOptions& options = {});
  ~RegistryProcess();
  RegistryProcess(const RegistryProcess&) = delete;
  RegistryProcess& operator=(const RegistryProcess&) = delete;

  std::string host() const;  // "127.0.0.1:<port>"
  std::string url() const;   // "http(s)://127.0.0.1:<port>"
  int port() const { return port_; }
  pid_t pid() const { return pid_; }
  const RegistryProcessOptions& options() const { return options_; }
  // Only with tls: the CA that signed the server certificate.
  const TestCertificates& certificates() const { return certs_; }
  std::string Log() const;

 private:
  explicit RegistryProcess(const RegistryProcessOptions& options) : options_(options) {}
  bool Launch(std::string* error);
  void Stop();

  RegistryProcessOptions options_;
  TempDir dir_;
  TestCertificates certs_;
  int port_ = 0;
  pid_t pid_ = -1;
};

}  // namespace slipway::testing

#endif  // SLIPWAY_TESTS_SUPPORT_REGISTRY_PROCESS_H_
