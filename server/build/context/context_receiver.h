#ifndef SLIPWAY_SERVER_BUILD_CONTEXT_CONTEXT_RECEIVER_H_
#define SLIPWAY_SERVER_BUILD_CONTEXT_CONTEXT_RECEIVER_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "slipway/v1/slipway.pb.h"
#include "server/build/layer/source_tree.h"
#include "storage/blob_store.h"
#include "storage/digest.h"
#include "storage/image_index.h"

namespace slipway::build {

struct ContextLimits {
  int64_t max_entries = 1'000'000;
  int64_t max_path_bytes = 4096;
};

// The server's side of context transfer in the Build stream:
//   AddEntries()* → MissingBlobs() → AddChunk()* → Finish() → a SourceTree.
// Context files are stored as ordinary blobs (so an unchanged file is never sent twice, across
// builds and restarts) and added to `lease_id` so GC keeps them for the build.
// Not thread-safe: one receiver per Build stream.
class ContextReceiver {
 public:
  ContextReceiver(BlobStore& store, ImageIndex& index, std::string lease_id,
                  ContextLimits limits = {});
  ~ContextReceiver();  // abandons partially received blobs

  // Validates and records entries. INVALID_ARGUMENT naming the path for: an absolute path, a
  // "." / ".." / empty component, a duplicate, a file without a valid digest, a hard link to
  // an entry not listed before it, an unknown type; RESOURCE_EXHAUSTED past the limits.
  absl::Status AddEntries(const v1::ContextEntries& entries);

  // After the listing: the distinct file digests the store lacks (what the client must send).
  absl::StatusOr<std::vector<Digest>> MissingBlobs();

  // One chunk of a missing blob; chunks of one blob arrive in order, offsets contiguous.
  // INVALID_ARGUMENT for a digest that was not asked for or a wrong offset; DATA_LOSS for more
  // bytes than listed. Complete blobs are verified and published on background threads
  // (fsync-bound), so bytes that do not hash to the digest are DATA_LOSS from a later AddChunk
  // or at the latest from Finish; such a blob never becomes visible.
  absl::Status AddChunk(const v1::ContextChunk& chunk);

  // After UploadDone: waits for the background commits; DATA_LOSS (see AddChunk);
  // FAILED_PRECONDITION naming a digest that was asked for and not fully received. The returned tree's files read from the store's blobs (LayerEntry::source_path
  // = the blob path, content_digest set).
  absl::StatusOr<std::unique_ptr<SourceTree>> Finish();

  int64_t bytes_received() const { return bytes_received_; }

 private:
  struct State;
  std::unique_ptr<State> state_;
  int64_t bytes_received_ = 0;
};

}  // namespace slipway::build

#endif  // SLIPWAY_SERVER_BUILD_CONTEXT_CONTEXT_RECEIVER_H_
