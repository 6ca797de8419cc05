// The client half of the Build RPC: context listing, uploads on demand, progress to the end.
#include "client/build_flow.h"

#include <fcntl.h>
#include <limits.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <optional>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "client/context_walker.h"
#include "client/hash_cache.h"
#include "client/rpc_status.h"

namespace slipway::client {
namespace {

constexpr int kEntriesPerMessage = 1000;
constexpr size_t kChunkBytes = 1 << 20;

using BuildStream = grpc::ClientReaderWriter<v1::BuildClientMessage, v1::BuildServerMessage>;

// Every message the client sends goes through here, so the byte count is exact.
class Sender {
 public:
  explicit Sender(BuildStream* s) : stream_(s) {}
  bool Send(const v1::BuildClientMessage& msg) {
    bytes_ += static_cast<int64_t>(msg.ByteSizeLong());
    return stream_->Write(msg);
  }
  int64_t bytes() const { return bytes_; }

 private:
  BuildStream* stream_;
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

}  // namespace

absl::StatusOr<v1::Image> BuildImage(Connection& conn, const BuildInput& input,
                                     BuildObserver* observer) {
  BuildObserver ignore;
  if (observer == nullptr) observer = &ignore;
  v1::BuildSpec spec = input.spec;
  {
    std::ifstream in(input.dockerfile, std::ios::binary);
    if (!in) {
      return absl::InvalidArgumentError(absl::StrCat("cannot read Dockerfile ", input.dockerfile));
    }
    std::ostringstream ss;
    ss << in.rdbuf();
    spec.set_dockerfile(ss.str());
    spec.set_dockerfile_name(input.dockerfile.substr(input.dockerfile.rfind('/') + 1));
  }

  auto env = [](const std::string& name) -> std::optional<std::string> {
    const char* v = std::getenv(name.c_str());
    if (v == nullptr) return std::nullopt;
    return std::string(v);
  };
  char resolved[PATH_MAX];
  std::string root = ::realpath(input.context.c_str(), resolved) ? resolved : input.context;
  HashCache cache = HashCache::Load(HashCache::DefaultDirectory(env), root);
  ContextWalkOptions walk_options;
  walk_options.context_dir = input.context;
  walk_options.dockerfile_path = input.dockerfile;
  walk_options.cache = &cache;
  auto listing = WalkContext(walk_options);
  if (!listing.ok()) return listing.status();
  if (absl::Status saved = cache.Save(); !saved.ok()) {
    observer->OnWarning(absl::StrCat("hash cache not saved: ", saved.message()));
  }

  auto ctx = conn.NewContext();
  auto stream = conn.stub().Build(ctx.get());
  Sender sender(stream.get());
  // Each step returns a cause on a broken stream; the server's status then explains it.
  auto finish_with = [&](const std::string& cause) -> absl::Status {
    stream->WritesDone();
    grpc::Status st = stream->Finish();
    if (!st.ok()) return FromRpc(grpc::Status(st.error_code(), RpcCause(st)));
    return absl::UnavailableError(cause);
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

  ContextStats stats;
  stats.entries = static_cast<int64_t>(listing->entries.size());
  stats.files_uploaded = uploaded;
  stats.bytes_sent = sender.bytes();
  stats.files_hashed = listing->files_hashed;
  stats.files_cached = listing->files_cached;
  observer->OnContextSent(stats);

  std::optional<v1::Image> image;
  int total = 0;
  while (stream->Read(&in)) {
    if (in.has_event()) {
      if (in.event().total_steps() > 0) total = in.event().total_steps();
      observer->OnEvent(in.event());
    } else if (in.has_log()) {
      observer->OnLog(in.log(), total);
    } else if (in.has_result()) {
      image = in.result().image();
    }
  }
  grpc::Status status = stream->Finish();
  if (!status.ok()) return FromRpc(grpc::Status(status.error_code(), RpcCause(status)));
  if (!image) return absl::InternalError("the server ended the build without a result");
  return *std::move(image);
}

const char* BuildEventStateName(v1::BuildEvent::State state) {
  switch (state) {
    case v1::BuildEvent::STARTED: return "started";
    case v1::BuildEvent::CACHED: return "cached";
    case v1::BuildEvent::DONE: return "done";
    case v1::BuildEvent::FAILED: return "failed";
    default: return "?";
  }
}

}  // namespace slipway::client
