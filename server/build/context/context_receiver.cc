#include "server/build/context/context_receiver.h"

#include <algorithm>
#include <deque>
#include <map>
#include <optional>
#include <thread>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "server/build/context/context_tree.h"
#include "storage/status_macros.h"

namespace slipway::build {

namespace {

// One blob the client has to send.
struct Upload {
  int64_t size = 0;
  int64_t received = 0;
  bool complete = false;
  std::unique_ptr<BlobWriter> writer;  // open while chunks arrive
};

absl::Status BadEntry(absl::string_view path, absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat("context entry \"", path, "\": ", why));
}

absl::Status ValidatePath(absl::string_view path, const ContextLimits& limits) {
  if (path.empty()) return BadEntry(path, "empty path");
  if (static_cast<int64_t>(path.size()) > limits.max_path_bytes) {
    return absl::ResourceExhaustedError(absl::StrCat("context entry path of ", path.size(),
                                                     " bytes exceeds the limit of ",
                                                     limits.max_path_bytes));
  }
  if (path.find('\0') != absl::string_view::npos) return BadEntry(path, "NUL in path");
  if (path[0] == '/') return BadEntry(path, "absolute path");
  for (absl::string_view part : absl::StrSplit(path, '/')) {
    if (part.empty() || part == "." || part == "..") {
      return BadEntry(path, "path has an empty, \".\" or \"..\" component");
    }
  }
  return absl::OkStatus();
}

// Commits completed blobs (Finish = fsync + digest check, Publish = rename + directory fsync)
// on a few threads. A context is often thousands of small files, and committing them one by one
// on the stream's thread is bound by fsync latency; concurrent fsyncs share journal commits.
// Writers are handed over whole (one owner at a time), as BlobWriter requires.
class BackgroundCommitter {
 public:
  BackgroundCommitter() = default;
  ~BackgroundCommitter() {
    {
      absl::MutexLock lock(&mu_);
      stopping_ = true;
      queue_.clear();  // abandoned: destroying the writers removes their temp files
    }
    for (auto& t : threads_) t.join();
  }

  // Blocks while kMaxQueued blobs wait (bounds open files).
  void Submit(const Digest& digest, std::unique_ptr<BlobWriter> writer) {
    absl::MutexLock lock(&mu_);
    if (threads_.empty()) {
      for (int i = 0; i < kThreads; ++i) threads_.emplace_back([this] { Run(); });
    }
    mu_.Await(absl::Condition(
        +[](BackgroundCommitter* c) { return c->queue_.size() < kMaxQueued; }, this));
    queue_.push_back({digest, std::move(writer)});
    ++pending_;
  }

  // The first failure so far (OK when none).
  absl::Status error() {
    absl::MutexLock lock(&mu_);
    return error_;
  }

  // Waits for every submitted blob; the first failure, if any.
  absl::Status Drain() {
    absl::MutexLock lock(&mu_);
    mu_.Await(absl::Condition(+[](BackgroundCommitter* c) { return c->pending_ == 0; }, this));
    return error_;
  }

 private:
  static constexpr int kThreads = 8;
  static constexpr size_t kMaxQueued = 64;
  struct Job {
    Digest digest;
    std::unique_ptr<BlobWriter> writer;
  };

  void Run() {
    for (;;) {
      std::optional<Job> job;
      {
        absl::MutexLock lock(&mu_);
        mu_.Await(absl::Condition(
            +[](BackgroundCommitter* c) { return c->stopping_ || !c->queue_.empty(); }, this));
        if (queue_.empty()) return;  // stopping
        job.emplace(std::move(queue_.front()));
        queue_.pop_front();
      }
      absl::Status s = Commit(*job);
      job.reset();  // drops the temp file after a failure
      absl::MutexLock lock(&mu_);
      if (!s.ok() && error_.ok()) error_ = s;
      --pending_;
    }
  }

  absl::Status Commit(Job& job) {
    auto info = job.writer->Finish();
    if (!info.ok()) {
      if (absl::IsDataLoss(info.status())) {
        return absl::DataLossError(absl::StrCat("context file bytes do not match ",
                                                job.digest.ToString(), ": ",
                                                info.status().message()));
      }
      return info.status();
    }
    return job.writer->Publish();
  }

  absl::Mutex mu_;
  std::deque<Job> queue_ ABSL_GUARDED_BY(mu_);
  int64_t pending_ ABSL_GUARDED_BY(mu_) = 0;  // submitted and not yet committed
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  absl::Status error_ ABSL_GUARDED_BY(mu_);
  std::vector<std::thread> threads_;  // started by the first Submit (under mu_)
};

}  // namespace

struct ContextReceiver::State {
  BlobStore& store;
  ImageIndex& index;
  std::string lease_id;
  ContextLimits limits;

  std::map<std::string, ContextTree::Node> nodes;
  absl::flat_hash_map<Digest, int64_t> file_sizes;  // every listed file digest → size
  std::map<Digest, Upload> uploads;                 // what MissingBlobs asked for
  bool listing_closed = false;
  bool finished = false;
  // Declared last: destroyed first, so its threads stop before anything they use goes away.
  BackgroundCommitter committer;

  State(BlobStore& s, ImageIndex& i, std::string lease, ContextLimits l)
      : store(s), index(i), lease_id(std::move(lease)), limits(l) {}
};

ContextReceiver::ContextReceiver(BlobStore& store, ImageIndex& index, std::string lease_id,
                                 ContextLimits limits)
    : state_(std::make_unique<State>(store, index, std::move(lease_id), limits)) {}

// Open writers are destroyed with the state, which removes their temp files.
ContextReceiver::~ContextReceiver() = default;

absl::Status ContextReceiver::AddEntries(const v1::ContextEntries& entries) {
  State& s = *state_;
  if (s.listing_closed) {
    return absl::FailedPreconditionError("context entries after the listing was closed");
  }
  if (static_cast<int64_t>(s.nodes.size()) + entries.entries_size() > s.limits.max_entries) {
    return absl::ResourceExhaustedError(
        absl::StrCat("the context has more than ", s.limits.max_entries, " entries"));
  }
  for (const v1::ContextEntry& in : entries.entries()) {
    const std::string& path = in.path();
    SLIPWAY_RETURN_IF_ERROR(ValidatePath(path, s.limits));
    if (s.nodes.count(path)) return BadEntry(path, "listed twice");
    // The parent chain must consist of directories (listed or implicit).
    for (size_t pos = path.find('/'); pos != std::string::npos; pos = path.find('/', pos + 1)) {
      auto parent = s.nodes.find(path.substr(0, pos));
      if (parent != s.nodes.end() && parent->second.entry.type != EntryType::kDirectory) {
        return BadEntry(path, absl::StrCat("its parent ", parent->first, " is not a directory"));
      }
    }
    ContextTree::Node node;
    LayerEntry& e = node.entry;
    e.path = path;
    e.mode = in.mode() & 07777;
    e.uid = in.uid();
    e.gid = in.gid();
    e.mtime_unix_nanos = in.mtime_unix_nanos();
    switch (in.type()) {
      case v1::ContextEntry::FILE: {
        auto digest = Digest::Parse(in.digest());
        if (!digest.ok()) return BadEntry(path, absl::StrCat("bad digest \"", in.digest(), "\""));
        if (in.size() < 0) return BadEntry(path, "negative size");
        auto [it, inserted] = s.file_sizes.emplace(*digest, in.size());
        if (!inserted && it->second != in.size()) {
          return BadEntry(path, absl::StrCat("digest ", digest->ToString(), " listed with sizes ",
                                             it->second, " and ", in.size()));
        }
        e.type = EntryType::kFile;
        e.size = in.size();
        e.content_digest = digest->ToString();
        e.source_path = s.store.PathOf(*digest);
        break;
      }
      case v1::ContextEntry::DIRECTORY:
        e.type = EntryType::kDirectory;
        break;
      case v1::ContextEntry::SYMLINK:
        if (in.link_target().empty()) return BadEntry(path, "symlink without a target");
        e.type = EntryType::kSymlink;
        e.link_target = in.link_target();
        break;
      case v1::ContextEntry::HARDLINK: {
        auto target = s.nodes.find(in.link_target());
        if (target == s.nodes.end() || target->second.entry.type != EntryType::kFile) {
          return BadEntry(path, absl::StrCat("hard link to \"", in.link_target(),
                                             "\", which is not a file listed before it"));
        }
        // The link shares the target's content; Walk turns group members into kHardlink.
        std::string group = target->second.link_group.empty() ? target->first
                                                              : target->second.link_group;
        target->second.link_group = group;
        LayerEntry copy = target->second.entry;
        copy.path = path;
        e = std::move(copy);
        node.link_group = std::move(group);
        break;
      }
      default:
        return BadEntry(path, absl::StrCat("unknown entry type ", static_cast<int>(in.type())));
    }
    // A non-directory may not have listed children.
    if (e.type != EntryType::kDirectory) {
      auto child = s.nodes.lower_bound(path + "/");
      if (child != s.nodes.end() && absl::StartsWith(child->first, path + "/")) {
        return BadEntry(path, absl::StrCat("not a directory but ", child->first, " is below it"));
      }
    }
    s.nodes.emplace(path, std::move(node));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<Digest>> ContextReceiver::MissingBlobs() {
  State& s = *state_;
  if (s.listing_closed) return absl::FailedPreconditionError("MissingBlobs called twice");
  s.listing_closed = true;
  std::vector<Digest> all;
  all.reserve(s.file_sizes.size());
  for (const auto& [d, size] : s.file_sizes) all.push_back(d);
  std::sort(all.begin(), all.end());
  // Lease first, then look: a blob found present cannot be collected before the build ends.
  if (!all.empty()) SLIPWAY_RETURN_IF_ERROR(s.index.AddToLease(s.lease_id, all));
  std::vector<Digest> missing = s.store.FindMissing(all);
  std::vector<Digest> wanted;
  for (const Digest& d : missing) {
    int64_t size = s.file_sizes.at(d);
    if (size == 0) {
      // No chunk can carry an empty file; store it here (DATA_LOSS if the digest is not the
      // empty digest).
      BlobWriterOptions opts;
      opts.expected_digest = d;
      opts.expected_size = 0;
      SLIPWAY_ASSIGN_OR_RETURN(auto writer, s.store.NewWriter(opts));
      auto info = writer->Commit();
      if (!info.ok()) {
        return absl::DataLossError(absl::StrCat("context file with digest ", d.ToString(),
                                                " is listed as empty: ", info.status().message()));
      }
      continue;
    }
    Upload u;
    u.size = size;
    s.uploads.emplace(d, std::move(u));
    wanted.push_back(d);
  }
  return wanted;
}

absl::Status ContextReceiver::AddChunk(const v1::ContextChunk& chunk) {
  State& s = *state_;
  if (!s.listing_closed || s.finished) {
    return absl::FailedPreconditionError("context chunk outside the upload phase");
  }
  // A blob that failed in the background fails the upload as early as possible.
  SLIPWAY_RETURN_IF_ERROR(s.committer.error());
  auto digest = Digest::Parse(chunk.digest());
  if (!digest.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("context chunk has a bad digest \"", chunk.digest(), "\""));
  }
  auto it = s.uploads.find(*digest);
  if (it == s.uploads.end()) {
    return absl::InvalidArgumentError(
        absl::StrCat("context chunk for ", chunk.digest(), ", which was not asked for"));
  }
  Upload& u = it->second;
  if (u.complete) {
    return absl::InvalidArgumentError(
        absl::StrCat("context chunk for ", chunk.digest(), " after it was complete"));
  }
  if (chunk.offset() != u.received) {
    return absl::InvalidArgumentError(absl::StrCat("context chunk for ", chunk.digest(),
                                                   " at offset ", chunk.offset(), ", expected ",
                                                   u.received));
  }
  bytes_received_ += static_cast<int64_t>(chunk.data().size());
  if (u.received + static_cast<int64_t>(chunk.data().size()) > u.size) {
    u.writer.reset();
    return absl::DataLossError(absl::StrCat("context file ", chunk.digest(),
                                            " has more bytes than its listed size ", u.size));
  }
  if (!u.writer) {
    BlobWriterOptions opts;
    opts.expected_digest = *digest;
    opts.expected_size = u.size;
    SLIPWAY_ASSIGN_OR_RETURN(u.writer, s.store.NewWriter(opts));
  }
  SLIPWAY_RETURN_IF_ERROR(u.writer->Append(chunk.data()));
  u.received += static_cast<int64_t>(chunk.data().size());
  if (u.received < u.size) return absl::OkStatus();
  // Whole blob: verified (digest and size) and published in the background; a mismatch is
  // DATA_LOSS from a later AddChunk or from Finish, and nothing of it becomes visible.
  u.complete = true;
  s.committer.Submit(*digest, std::move(u.writer));
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<SourceTree>> ContextReceiver::Finish() {
  State& s = *state_;
  if (!s.listing_closed) return absl::FailedPreconditionError("Finish before MissingBlobs");
  if (s.finished) return absl::FailedPreconditionError("Finish called twice");
  SLIPWAY_RETURN_IF_ERROR(s.committer.Drain());
  for (const auto& [d, u] : s.uploads) {
    if (!u.complete) {
      return absl::FailedPreconditionError(
          absl::StrCat("context blob ", d.ToString(), " was not uploaded (", u.received, " of ",
                       u.size, " bytes received)"));
    }
  }
  s.finished = true;
  return std::unique_ptr<SourceTree>(std::make_unique<ContextTree>(std::move(s.nodes)));
}

}  // namespace slipway::build
