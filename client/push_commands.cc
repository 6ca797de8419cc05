// slipway push / push-many: Push and PushMany with progress lines and a per-target table.

#include <cstdlib>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/strip.h"
#include "client/commands.h"
#include "client/push_flow.h"

namespace slipway::client {
namespace {

// Flags shared by push and push-many, applied to every destination.
struct PushFlags {
  std::vector<std::string> tags;
  std::string username;
  std::string password;
  bool insecure = false;
  bool skip_verify = false;
  std::string ca_pem;
  v1::ScanGate gate;  // the push's own scan requirement (tightens the server's)
  bool attach_scan_reports = false;
};

const std::vector<std::string> kValueFlags = {"--tag",  "-t",           "--username", "-u",
                                              "--ca",   "--require-scan", "--max-severity"};
const std::vector<std::string> kBoolFlags = {"--password-stdin", "--insecure", "--skip-verify",
                                             "--attach-scan-reports"};

// Parses the flags; returns an error message (empty when fine).
std::string ParseFlags(const Args& args, PushFlags* out) {
  bool password_stdin = false;
  for (const auto& [name, value] : args.flags) {
    if (name == "--tag" || name == "-t") out->tags.push_back(value);
    if (name == "--username" || name == "-u") out->username = value;
    if (name == "--password-stdin") password_stdin = true;
    if (name == "--insecure") out->insecure = true;
    if (name == "--require-scan") {
      if (value == "any") {
        out->gate.set_require(v1::ScanGate::ANY);
      } else if (value == "all") {
        out->gate.set_require(v1::ScanGate::ALL);
      } else {
        return "--require-scan: want any or all";
      }
    }
    if (name == "--max-severity") out->gate.set_max_severity(value);
    if (name == "--attach-scan-reports") out->attach_scan_reports = true;
    if (name == "--skip-verify") out->skip_verify = true;
    if (name == "--ca") {
      std::ifstream in(value, std::ios::binary);
      if (!in) return "--ca: cannot read " + value;
      std::ostringstream ss;
      ss << in.rdbuf();
      out->ca_pem = ss.str();
    }
  }
  if (out->username.empty()) {
    if (const char* u = std::getenv("SLIPWAY_REGISTRY_USERNAME")) out->username = u;
  }
  if (password_stdin) {
    if (out->username.empty()) return "--password-stdin needs --username";
    std::getline(std::cin, out->password);
    if (!out->password.empty() && out->password.back() == '\r') out->password.pop_back();
  } else if (const char* p = std::getenv("SLIPWAY_REGISTRY_PASSWORD")) {
    out->password = p;
  }
  if (!out->password.empty() && out->username.empty()) {
    return "a registry password needs a username (--username or SLIPWAY_REGISTRY_USERNAME)";
  }
  return "";
}

// "REGISTRY/REPO[:TAG]" → a target; an error message when malformed.
std::string ParseDestination(const std::string& dest, const PushFlags& flags, v1::PushTarget* t) {
  auto slash = dest.find('/');
  if (slash == std::string::npos || slash == 0 || slash + 1 == dest.size()) {
    return "destination \"" + dest + "\": want REGISTRY/REPOSITORY[:TAG]";
  }
  t->set_registry(dest.substr(0, slash));
  std::string repo = dest.substr(slash + 1);
  auto colon = repo.rfind(':');
  std::vector<std::string> tags = flags.tags;
  if (colon != std::string::npos) {
    tags.insert(tags.begin(), repo.substr(colon + 1));
    repo = repo.substr(0, colon);
  }
  if (repo.empty()) return "destination \"" + dest + "\": empty repository";
  t->set_repository(repo);
  if (tags.empty()) tags.push_back("latest");
  for (const auto& tag : tags) t->add_tags(tag);
  if (!flags.username.empty()) {
    t->mutable_credential()->set_registry(t->registry());
    t->mutable_credential()->mutable_basic()->set_username(flags.username);
    t->mutable_credential()->mutable_basic()->set_password(flags.password);
  }
  if (flags.insecure || flags.skip_verify || !flags.ca_pem.empty()) {
    t->mutable_tls()->set_insecure_http(flags.insecure);
    t->mutable_tls()->set_skip_verify(flags.skip_verify);
    t->mutable_tls()->set_ca_pem(flags.ca_pem);
  }
  return "";
}

// Prints one line per blob state change (not every upload progress tick).
class PushPrinter : public PushObserver {
 public:
  explicit PushPrinter(const std::vector<std::string>& names) : names_(names) {}
  void OnBlob(const v1::BlobProgress& b) override {
    if (b.state() == v1::BlobProgress::UPLOADING && b.bytes_sent() > 0) return;
    const int i = b.target_index();
    const std::string& name = i >= 0 && i < static_cast<int>(names_.size()) ? names_[i] : "?";
    std::cout << name << ": " << ShortDigest(b.digest()) << " " << BlobStateName(b.state())
              << " (" << HumanSize(b.size()) << ")\n";
  }

 private:
  const std::vector<std::string>& names_;
};

// The table, then one line on stderr per failed target; returns how many failed.
int Report(const PushOutcome& outcome) {
  PrintPushTable(std::cout, outcome.results);
  for (const auto& r : outcome.results) {
    if (r.code() != 0) {
      std::cerr << "slipway: push to " << r.registry() << "/" << r.repository() << ": "
                << r.message() << "\n";
    }
  }
  return outcome.failed_targets();
}

int RunPushCommon(Connection& conn, const std::vector<std::string>& raw, bool many) {
  const char* cmd = many ? "push-many" : "push";
  Args args = SplitArgs(raw, kValueFlags, kBoolFlags);
  if (!args.error.empty()) return Usage(absl::StrCat(cmd, ": ", args.error));
  if (args.positional.size() < 2 || (!many && args.positional.size() != 2)) {
    return Usage(many ? "push-many: want REF DEST..." : "push: want REF REGISTRY/REPO[:TAG]");
  }
  PushFlags flags;
  if (std::string e = ParseFlags(args, &flags); !e.empty()) {
    return Usage(absl::StrCat(cmd, ": ", e));
  }
  std::vector<v1::PushTarget> targets;
  std::vector<std::string> names;
  for (size_t i = 1; i < args.positional.size(); ++i) {
    v1::PushTarget t;
    if (std::string e = ParseDestination(args.positional[i], flags, &t); !e.empty()) {
      return Usage(absl::StrCat(cmd, ": ", e));
    }
    names.push_back(absl::StrCat(t.registry(), "/", t.repository()));
    targets.push_back(std::move(t));
  }
  PushPrinter printer(names);
  PushOutcome outcome;
  if (many) {
    v1::PushManyRequest request;
    request.set_ref(args.positional[0]);
    *request.mutable_gate() = flags.gate;
    request.set_attach_scan_reports(flags.attach_scan_reports);
    for (auto& t : targets) *request.add_targets() = std::move(t);
    outcome = PushImageMany(conn, request, &printer);
  } else {
    v1::PushRequest request;
    request.set_ref(args.positional[0]);
    *request.mutable_gate() = flags.gate;
    request.set_attach_scan_reports(flags.attach_scan_reports);
    *request.mutable_target() = std::move(targets[0]);
    outcome = PushImage(conn, request, &printer);
  }
  int failed = Report(outcome);
  // A single target's failure is already printed with its result.
  if (!many && !outcome.rpc.ok() && !outcome.results.empty()) return kExitFailed;
  if (!outcome.rpc.ok()) return FailStatus(outcome.rpc);
  return failed == 0 ? kExitOk : kExitFailed;
}

}  // namespace

int RunPush(Connection& conn, const std::vector<std::string>& args) {
  return RunPushCommon(conn, args, false);
}

int RunPushMany(Connection& conn, const std::vector<std::string>& args) {
  return RunPushCommon(conn, args, true);
}

}  // namespace slipway::client
