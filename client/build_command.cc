// slipway build: walks and hashes the context locally, sends only what the server lacks, and
// prints the build's progress.
#include <fcntl.h>
#include <limits.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "client/commands.h"
#include "client/context_walker.h"
#include "client/hash_cache.h"
#include "nlohmann/json.hpp"

namespace slipway::client {
namespace {

constexpr int kEntriesPerMessage = 1000;
constexpr size_t kChunkBytes = 1 << 20;

struct BuildFlags {
  std::string context;
  std::string dockerfile;
  bool json = false;
  bool quiet = false;
  std::string iidfile;
  v1::BuildSpec spec;
};

int BuildFail(const std::string& cause) {
  std::cerr << "slipway build: " << cause << "\n";
  return kExitFailed;
}

int BuildUsage(const std::string& cause) {
  std::cerr << "slipway build: " << cause << "\n"
            << "usage: slipway build [-f FILE] [-t TAG]... [--build-arg K[=V]]... [--target STAGE]\n"
            << "       [--no-cache] [--platform OS/ARCH[/VARIANT]] [--label K=V]...\n"
            << "       [--format oci|docker] [--compression gzip|zstd] [--source-date-epoch N] [--iidfile PATH] [--json]\n"
            << "       [--secret id=ID[,src=FILE|,env=VAR]]... [--network none|host]\n"
            << "       [--quiet] CONTEXT_DIR\n";
  return kExitUsage;
}

// --secret id=ID[,src=FILE|,env=VAR] (BuildKit's syntax; with neither, the variable named ID).
// The value travels in the request for this build only; it is never echoed.
std::string AddSecret(const std::string& value, v1::BuildSpec* spec) {
  std::string id, src, env;
  for (absl::string_view part : absl::StrSplit(value, ',')) {
    std::pair<std::string, std::string> kv = absl::StrSplit(part, absl::MaxSplits('=', 1));
    if (kv.first == "id") id = kv.second;
    else if (kv.first == "src" || kv.first == "source") src = kv.second;
    else if (kv.first == "env") env = kv.second;
    else if (kv.first == "type" && (kv.second == "file" || kv.second == "env")) continue;
    else return "--secret: unknown key \"" + kv.first + "\" (want id=ID,src=FILE or id=ID,env=VAR)";
  }
  if (id.empty()) return "--secret: id= is required";
  v1::BuildSecret* secret = spec->add_secrets();
  secret->set_id(id);
  if (!src.empty()) {
    std::ifstream in(src, std::ios::binary);
    if (!in) return "--secret id=" + id + ": cannot read " + src;
    std::stringstream content;
    content << in.rdbuf();
    secret->set_value(content.str());
    return "";
  }
  const char* from_env = std::getenv((env.empty() ? id : env).c_str());
  if (from_env == nullptr) {
    return "--secret id=" + id + ": no src= file and no environment variable " +
           (env.empty() ? id : env);
  }
  secret->set_value(from_env);
  return "";
}

// Returns an error message, empty when the flags are fine.
std::string ParseBuildFlags(const std::vector<std::string>& raw, BuildFlags* out) {
  Args args = SplitArgs(raw,
                        {"-f", "--file", "-t", "--tag", "--build-arg", "--target", "--platform",
                         "--label", "--format", "--compression", "--source-date-epoch",
                         "--iidfile", "--secret", "--network"},
                        {"--no-cache", "--json", "--quiet", "-q"});
  if (!args.error.empty()) return args.error;
  if (args.positional.size() != 1) return "want exactly one CONTEXT_DIR";
  out->context = args.positional[0];
  v1::BuildSpec& spec = out->spec;
  bool epoch_set = false;
  for (const auto& [name, value] : args.flags) {
    if (name == "--secret") {
      std::string error = AddSecret(value, &spec);
      if (!error.empty()) return error;
    }
    if (name == "--network") {
      if (value != "none" && value != "host" && value != "default") {
        return "--network: want none, host or default, got \"" + value + "\"";
      }
      spec.set_network(value);
    }
    if (name == "-f" || name == "--file") out->dockerfile = value;
    if (name == "-t" || name == "--tag") spec.add_tags(value);
    if (name == "--target") spec.set_target(value);
    if (name == "--no-cache") spec.set_no_cache(true);
    if (name == "--json") out->json = true;
    if (name == "--quiet" || name == "-q") out->quiet = true;
    if (name == "--iidfile") out->iidfile = value;
    if (name == "--build-arg") {
      size_t eq = value.find('=');
      if (value.empty() || eq == 0) return "--build-arg: want KEY=VALUE or KEY, got \"" + value + "\"";
      if (eq == std::string::npos) {
        // KEY alone takes the environment's value, and is dropped when unset (as docker does).
        if (const char* v = std::getenv(value.c_str())) (*spec.mutable_build_args())[value] = v;
      } else {
        (*spec.mutable_build_args())[value.substr(0, eq)] = value.substr(eq + 1);
      }
    }
    if (name == "--label") {
      size_t eq = value.find('=');
      if (eq == std::string::npos || eq == 0) return "--label: want KEY=VALUE, got \"" + value + "\"";
      (*spec.mutable_labels())[value.substr(0, eq)] = value.substr(eq + 1);
    }
    if (name == "--platform") {
      std::vector<std::string> parts = absl::StrSplit(value, '/');
      if (parts.size() < 2 || parts.size() > 3 || parts[0].empty() || parts[1].empty()) {
        return "--platform: want OS/ARCH[/VARIANT], got \"" + value + "\"";
      }
      spec.mutable_platform()->set_os(parts[0]);
      spec.mutable_platform()->set_architecture(parts[1]);
      if (parts.size() == 3) spec.mutable_platform()->set_variant(parts[2]);
    }
    if (name == "--format") {
      if (value == "docker") {
        spec.set_docker_media_types(true);
      } else if (value != "oci") {
        return "--format: want oci or docker, got \"" + value + "\"";
      }
    }
    if (name == "--compression") {
      if (value != "gzip" && value != "zstd") {
        return "--compression: want gzip or zstd, got \"" + value + "\"";
      }
      spec.set_compression(value);
    }
    if (name == "--source-date-epoch") {
      int64_t epoch = 0;
      if (!absl::SimpleAtoi(value, &epoch) || epoch < 0) {
        return "--source-date-epoch: want a non-negative integer, got \"" + value + "\"";
      }
      spec.set_source_date_epoch(epoch);
      epoch_set = true;
    }
  }
  if (!epoch_set) {
    if (const char* env = std::getenv("SOURCE_DATE_EPOCH"); env != nullptr && *env != '\0') {
      int64_t epoch = 0;
      if (!absl::SimpleAtoi(env, &epoch) || epoch < 0) {
        return std::string("SOURCE_DATE_EPOCH: want a non-negative integer, got \"") + env + "\"";
      }
      spec.set_source_date_epoch(epoch);
    }
  }
  if (out->dockerfile.empty()) out->dockerfile = out->context + "/Dockerfile";
  return "";
}

const char* EventState(v1::BuildEvent::State s) {
  switch (s) {
    case v1::BuildEvent::STARTED: return "started";
    case v1::BuildEvent::CACHED: return "cached";
    case v1::BuildEvent::DONE: return "done";
    case v1::BuildEvent::FAILED: return "failed";
    default: return "?";
  }
}

// Every message the client sends goes through here, so the byte count is exact.
class Sender {
 public:
  explicit Sender(grpc::ClientReaderWriter<v1::BuildClientMessage, v1::BuildServerMessage>* s)
      : stream_(s) {}
  bool Send(const v1::BuildClientMessage& msg) {
    bytes_ += static_cast<int64_t>(msg.ByteSizeLong());
    return stream_->Write(msg);
  }
  int64_t bytes() const { return bytes_; }

 private:
  grpc::ClientReaderWriter<v1::BuildClientMessage, v1::BuildServerMessage>* stream_;
  int64_t bytes_ = 0;
};

// Streams one file's bytes as chunks, checking it is still the file that was hashed.
std::string SendBlob(Sender& sender, const std::string& digest, const ContextSource& src) {
  int fd = ::open(src.abs_path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return absl::StrCat("cannot open ", src.abs_path, ": ", std::strerror(errno));
  struct stat st;
  if (::fstat(fd, &st) != 0 || st.st_ino != src.inode || st.st_dev != src.dev) {
    ::close(fd);
    return absl::StrCat(src.abs_path, " changed while the context was sent");
  }
  v1::BuildClientMessage msg;
  v1::ContextChunk* chunk = msg.mutable_chunk();
  chunk->set_digest(digest);
  std::string* data = chunk->mutable_data();
  int64_t offset = 0;
  for (;;) {
    data->resize(kChunkBytes);
    ssize_t n = ::read(fd, data->data(), kChunkBytes);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int err = errno;
      ::close(fd);
      return absl::StrCat("cannot read ", src.abs_path, ": ", std::strerror(err));
    }
    if (n == 0) break;
    data->resize(static_cast<size_t>(n));
    chunk->set_offset(offset);
    offset += n;
    if (!sender.Send(msg)) {
      ::close(fd);
      return "the server closed the stream during the upload";
    }
  }
  ::close(fd);
  if (offset != src.size) return absl::StrCat(src.abs_path, " changed while the context was sent");
  return "";
}

std::string GrpcCause(const grpc::Status& s) {
  static const char* const kNames[] = {
      "OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED", "NOT_FOUND",
      "ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION",
      "ABORTED", "OUT_OF_RANGE", "UNIMPLEMENTED", "INTERNAL", "UNAVAILABLE", "DATA_LOSS",
      "UNAUTHENTICATED"};
  int code = static_cast<int>(s.error_code());
  return absl::StrCat(code >= 0 && code <= 16 ? kNames[code] : "UNKNOWN", ": ",
                      s.error_message());
}

}  // namespace

int RunBuild(Connection& conn, const std::vector<std::string>& args) {
  BuildFlags flags;
  std::string usage = ParseBuildFlags(args, &flags);
  if (!usage.empty()) return BuildUsage(usage);
  v1::BuildSpec& spec = flags.spec;

  {
    std::ifstream in(flags.dockerfile, std::ios::binary);
    if (!in) return BuildFail(absl::StrCat("cannot read Dockerfile ", flags.dockerfile));
    std::ostringstream ss;
    ss << in.rdbuf();
    spec.set_dockerfile(ss.str());
    spec.set_dockerfile_name(flags.dockerfile.substr(flags.dockerfile.rfind('/') + 1));
  }

  auto env = [](const std::string& name) -> std::optional<std::string> {
    const char* v = std::getenv(name.c_str());
    if (v == nullptr) return std::nullopt;
    return std::string(v);
  };
  char resolved[PATH_MAX];
  std::string root = ::realpath(flags.context.c_str(), resolved) ? resolved : flags.context;
  HashCache cache = HashCache::Load(HashCache::DefaultDirectory(env), root);
  ContextWalkOptions walk_options;
  walk_options.context_dir = flags.context;
  walk_options.dockerfile_path = flags.dockerfile;
  walk_options.cache = &cache;
  auto listing = WalkContext(walk_options);
  if (!listing.ok()) return BuildFail(std::string(listing.status().message()));
  if (absl::Status saved = cache.Save(); !saved.ok() && !flags.quiet) {
    std::cerr << "slipway build: warning: hash cache not saved: " << saved.message() << "\n";
  }

  auto ctx = conn.NewContext();
  auto stream = conn.stub().Build(ctx.get());
  Sender sender(stream.get());
  // Each step returns a cause on a broken stream; the server's status then explains it.
  auto finish_with = [&](const std::string& cause) {
    stream->WritesDone();
    grpc::Status st = stream->Finish();
    if (!st.ok()) return BuildFail(GrpcCause(st));
    return BuildFail(cause);
  };

  v1::BuildClientMessage msg;
  *msg.mutable_spec() = spec;
  if (!sender.Send(msg)) return finish_with("the server closed the stream");
  for (size_t i = 0; i < listing->entries.size(); i += kEntriesPerMessage) {
    msg.Clear();
    auto* batch = msg.mutable_entries();
    size_t end = std::min(listing->entries.size(), i + kEntriesPerMessage);
    for (size_t j = i; j < end; ++j) *batch->add_entries() = listing->entries[j];
    if (!sender.Send(msg)) return finish_with("the server closed the stream");
  }
  msg.Clear();
  msg.mutable_context_end();
  if (!sender.Send(msg)) return finish_with("the server closed the stream");

  v1::BuildServerMessage in;
  if (!stream->Read(&in)) return finish_with("the server closed the stream before NeedBlobs");
  if (!in.has_need()) return finish_with("the server did not answer the listing with NeedBlobs");
  int64_t uploaded = 0;
  for (const std::string& digest : in.need().digests()) {
    auto src = listing->sources.find(digest);
    if (src == listing->sources.end()) {
      return finish_with(absl::StrCat("the server asked for ", digest, ", not in the context"));
    }
    std::string err = SendBlob(sender, digest, src->second);
    if (!err.empty()) return finish_with(err);
    ++uploaded;
  }
  msg.Clear();
  msg.mutable_upload_done();
  if (!sender.Send(msg)) return finish_with("the server closed the stream");
  stream->WritesDone();

  const int64_t entries = static_cast<int64_t>(listing->entries.size());
  if (flags.json) {
    nlohmann::json j = {{"type", "context"},         {"entries", entries},
                        {"files_uploaded", uploaded}, {"bytes_sent", sender.bytes()},
                        {"files_hashed", listing->files_hashed},
                        {"files_cached", listing->files_cached}};
    std::cout << j.dump() << "\n" << std::flush;
  } else if (!flags.quiet) {
    std::cout << "context: " << entries << " entries, " << uploaded << " files uploaded, "
              << sender.bytes() << " bytes sent\n"
              << std::flush;
  }

  std::optional<v1::Image> image;
  int total = 0;
  while (stream->Read(&in)) {
    if (in.has_event()) {
      const v1::BuildEvent& ev = in.event();
      if (ev.total_steps() > 0) total = ev.total_steps();
      if (flags.json) {
        nlohmann::json j = {{"type", "event"},          {"step", ev.step()},
                            {"total_steps", ev.total_steps()}, {"stage", ev.stage()},
                            {"instruction", ev.instruction()}, {"state", EventState(ev.state())},
                            {"bytes", ev.bytes()},      {"duration_ms", ev.duration_ms()},
                            {"message", ev.message()}};
        std::cout << j.dump() << "\n" << std::flush;
      } else if (!flags.quiet) {
        std::string line = absl::StrCat("[", ev.step(), "/", ev.total_steps(), "] ",
                                        ev.instruction(), "  ", EventState(ev.state()));
        if (ev.state() == v1::BuildEvent::DONE) {
          absl::StrAppend(&line, " ", ev.duration_ms(), " ms ", HumanSize(ev.bytes()));
        }
        if (!ev.message().empty()) absl::StrAppend(&line, ": ", ev.message());
        std::cout << line << "\n" << std::flush;
      }
    } else if (in.has_log()) {
      const v1::BuildLog& log = in.log();
      if (flags.json) {
        nlohmann::json j = {{"type", "log"},
                            {"step", log.step()},
                            {"stream", log.stream() == v1::BuildLog::STDERR ? "stderr" : "stdout"},
                            {"line", log.line()}};
        std::cout << j.dump() << "\n" << std::flush;
      } else if (!flags.quiet) {
        std::cout << "[" << log.step() << "/" << total << "] | " << log.line() << "\n"
                  << std::flush;
      }
    } else if (in.has_result()) {
      image = in.result().image();
    }
  }
  grpc::Status status = stream->Finish();
  if (!status.ok()) {
    if (flags.json) {
      std::cout << nlohmann::json({{"type", "error"}, {"message", GrpcCause(status)}}).dump()
                << "\n";
    }
    return BuildFail(GrpcCause(status));
  }
  if (!image) return BuildFail("the server ended the build without a result");
  const std::string& digest = image->manifest().digest();
  if (!flags.iidfile.empty()) {
    std::ofstream out(flags.iidfile, std::ios::binary | std::ios::trunc);
    out << digest;
    if (!out.good()) return BuildFail(absl::StrCat("cannot write --iidfile ", flags.iidfile));
  }
  if (flags.json) {
    nlohmann::json tags = nlohmann::json::array();
    for (const auto& t : image->tags()) tags.push_back(t);
    std::cout << nlohmann::json({{"type", "result"}, {"digest", digest}, {"tags", tags}}).dump()
              << "\n";
  } else if (flags.quiet) {
    std::cout << digest << "\n";
  } else {
    std::cout << "built " << digest << "\n";
    for (const auto& t : image->tags()) std::cout << "tagged " << t << "\n";
  }
  return kExitOk;
}

}  // namespace slipway::client
