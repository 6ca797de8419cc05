#include "tests/support/registry_process.h"

#include <curl/curl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"
#include "tests/support/subprocess.h"

namespace slipway::testing {
namespace {

// A port the kernel just handed out; released again, so another process may take it first
// (the caller retries on "address already in use").
int PickFreePort() {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return 0;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  int port = 0;
  socklen_t len = sizeof(addr);
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
    port = ntohs(addr.sin_port);
  }
  close(fd);
  return port;
}

size_t Discard(char*, size_t size, size_t n, void*) { return size * n; }

// GET /v2/ once; the HTTP status, or 0 when the registry does not answer yet.
long ProbeStatus(const std::string& url, const std::string& ca_file,
                 const TestCertificates* client) {
  CURL* curl = curl_easy_init();
  if (curl == nullptr) return 0;
  std::string target = url + "/v2/";
  curl_easy_setopt(curl, CURLOPT_URL, target.c_str());
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, 1000L);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, &Discard);
  if (!ca_file.empty()) curl_easy_setopt(curl, CURLOPT_CAINFO, ca_file.c_str());
  if (client != nullptr) {
    curl_easy_setopt(curl, CURLOPT_SSLCERT, client->client_cert.c_str());
    curl_easy_setopt(curl, CURLOPT_SSLKEY, client->client_key.c_str());
  }
  long code = 0;
  if (curl_easy_perform(curl) == CURLE_OK) curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &code);
  curl_easy_cleanup(curl);
  return code;
}

}  // namespace

std::string FindProgram(const std::string& program) {
  if (program.find('/') != std::string::npos) return program;
  const char* path = getenv("PATH");
  for (absl::string_view dir : absl::StrSplit(path != nullptr ? path : "/usr/bin:/bin", ':')) {
    if (dir.empty()) continue;
    std::string candidate = absl::StrCat(dir, "/", program);
    if (access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return program;
}

TestCertificates MakeTestCertificates(const std::string& dir, const std::string& ca_name) {
  TestCertificates c{dir + "/ca.crt",     dir + "/ca.key",     dir + "/server.crt",
                     dir + "/server.key", dir + "/client.crt", dir + "/client.key"};
  const std::string client_csr = dir + "/client.csr", client_ext = dir + "/client.ext";
  WriteFile(client_ext, "basicConstraints=critical,CA:FALSE\nextendedKeyUsage=clientAuth\n");
  const std::string csr = dir + "/server.csr", ext = dir + "/server.ext";
  WriteFile(ext,
            "subjectAltName=IP:127.0.0.1,DNS:localhost\n"
            "basicConstraints=critical,CA:FALSE\n"
            "keyUsage=critical,digitalSignature,keyEncipherment\n"
            "extendedKeyUsage=serverAuth\n");
  const std::vector<std::vector<std::string>> steps = {
      {FindProgram("openssl"), "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
       "-nodes", "-keyout", c.ca_key, "-out", c.ca_cert, "-days", "2", "-subj",
       "/CN=" + ca_name, "-addext", "basicConstraints=critical,CA:TRUE", "-addext",
       "keyUsage=critical,keyCertSign,cRLSign"},
      {FindProgram("openssl"), "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
       "-keyout", c.server_key, "-out", csr, "-subj", "/CN=127.0.0.1"},
      {FindProgram("openssl"), "x509", "-req", "-in", csr, "-CA", c.ca_cert, "-CAkey", c.ca_key,
       "-CAcreateserial", "-out", c.server_cert, "-days", "2", "-extfile", ext},
      {FindProgram("openssl"), "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
       "-keyout", c.client_key, "-out", client_csr, "-subj", "/CN=slipway-test-client"},
      {FindProgram("openssl"), "x509", "-req", "-in", client_csr, "-CA", c.ca_cert, "-CAkey", c.ca_key,
       "-CAcreateserial", "-out", c.client_cert, "-days", "2", "-extfile", client_ext},
  };
  for (const auto& argv : steps) {
    ProcessResult r = RunProcess(argv);
    EXPECT_EQ(r.exit_code, 0) << absl::StrJoin(argv, " ") << "\n" << r.out << r.err;
  }
  return c;
}

std::unique_ptr<RegistryProcess> RegistryProcess::Start(const RegistryProcessOptions& options) {
  std::unique_ptr<RegistryProcess> r(new RegistryProcess(options));
  if (options.tls) r->certs_ = MakeTestCertificates(r->dir_.Sub("tls"), "slipway-test-ca");
  if (options.basic_auth) {
    ProcessResult p = RunProcess({FindProgram("htpasswd"), "-Bbn", options.username, options.password});
    if (p.exit_code != 0) {
      ADD_FAILURE() << "htpasswd failed: " << p.err;
      return nullptr;
    }
    WriteFile(r->dir_.Sub("htpasswd"), p.out);
  }
  std::string error;
  for (int attempt = 0; attempt < 5; ++attempt) {
    if (r->Launch(&error)) return r;
    if (!absl::StrContains(error, "address already in use")) break;
  }
  ADD_FAILURE() << "docker-registry did not start: " << error;
  return nullptr;
}

bool RegistryProcess::Launch(std::string* error) {
  port_ = PickFreePort();
  if (port_ == 0) {
    *error = "no free port";
    return false;
  }
  std::string config = absl::StrCat(
      "version: 0.1\n"
      "log:\n  level: error\n  accesslog:\n    disabled: true\n"
      "storage:\n  filesystem:\n    rootdirectory: ", dir_.Sub("data"), "\n",
      "  delete:\n    enabled: true\n"
      "http:\n  addr: 127.0.0.1:", port_, "\n");
  if (options_.tls) {
    absl::StrAppend(&config, "  tls:\n    certificate: ", certs_.server_cert, "\n    key: ",
                    certs_.server_key, "\n");
    if (options_.require_client_cert) {
      absl::StrAppend(&config, "    clientcas:\n      - ", certs_.ca_cert, "\n");
    }
  }
  if (options_.basic_auth) {
    absl::StrAppend(&config, "auth:\n  htpasswd:\n    realm: slipway-test\n    path: ",
                    dir_.Sub("htpasswd"), "\n");
  }
  if (!options_.token_realm.empty()) {
    absl::StrAppend(&config, "auth:\n  token:\n    realm: ", options_.token_realm,
                    "\n    service: ", options_.token_service, "\n    issuer: ",
                    options_.token_issuer, "\n    rootcertbundle: ", options_.token_cert_file,
                    "\n");
  }
  WriteFile(dir_.Sub("config.yml"), config);

  const std::string log_path = dir_.Sub("registry.log");
  pid_ = SpawnProcess({FindProgram("docker-registry"), "serve", dir_.Sub("config.yml")}, {}, log_path);
  if (pid_ <= 0) {
    pid_ = -1;
    *error = "cannot start docker-registry";
    return false;
  }
  // Bounded wait: 300 probes, each at most 1 s of curl timeout plus 50 ms.
  const std::string ca = options_.tls ? certs_.ca_cert : "";
  for (int i = 0; i < 300; ++i) {
    int wstatus = 0;
    if (waitpid(pid_, &wstatus, WNOHANG) == pid_) {
      pid_ = -1;
      *error = absl::StrCat("docker-registry exited early; log:\n", Log());
      return false;
    }
    long code = ProbeStatus(url(), ca, options_.require_client_cert ? &certs_ : nullptr);
    if (code == 200 || code == 401) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  *error = absl::StrCat("docker-registry did not answer GET /v2/ in time; log:\n", Log());
  Stop();
  return false;
}

void RegistryProcess::Stop() {
  if (pid_ <= 0) return;
  kill(pid_, SIGTERM);
  int wstatus = 0;
  for (int i = 0; i < 100; ++i) {  // up to ~5 s for a clean exit, then SIGKILL
    if (waitpid(pid_, &wstatus, WNOHANG) == pid_) {
      pid_ = -1;
      return;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  kill(pid_, SIGKILL);
  waitpid(pid_, &wstatus, 0);
  pid_ = -1;
}

RegistryProcess::~RegistryProcess() { Stop(); }

std::string RegistryProcess::host() const { return absl::StrCat("127.0.0.1:", port_); }

std::string RegistryProcess::url() const {
  return absl::StrCat(options_.tls ? "https://" : "http://", host());
}

std::string RegistryProcess::Log() const {
  std::string path = dir_.path() + "/registry.log";
  if (access(path.c_str(), R_OK) != 0) return "";
  return ReadFile(path);
}

}  // namespace slipway::testing
