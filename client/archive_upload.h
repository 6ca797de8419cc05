#ifndef SLIPWAY_CLIENT_ARCHIVE_UPLOAD_H_
#define SLIPWAY_CLIENT_ARCHIVE_UPLOAD_H_

#include <cstdint>
#include <functional>
#include <string>

#include "absl/status/statusor.h"
#include "client/connection.h"
#include "slipway/v1/slipway.pb.h"

namespace slipway::client {

// Where an upload is, for progress output. Byte counts are of the local tarball.
struct UploadProgress {
  enum class Phase {
    kHashing,  // the local pass that digests every entry
    kSending,  // the ImportImage stream (again after a retry)
  };
  Phase phase = Phase::kHashing;
  int64_t bytes_done = 0;
  int64_t bytes_total = 0;     // the tarball's size
  int entries_omitted = 0;     // kSending: entries the store already holds, not sent
};
using UploadProgressFn = std::function<void(const UploadProgress&)>;

// Imports the image tarball at `path` (a regular file: any format ImportImage accepts) into the
// store, sending only what the store lacks:
//  1. one local pass reads the tar (libarchive, streamed, never held whole) and hashes each
//     regular entry: blobs named blobs/sha256/<hex> (OCI archives, Docker 25 combined) are
//     checked against their names; uncompressed layer tars (legacy docker-archive layer.tar)
//     hash to their diff_id;
//  2. FindMissingBlobs asks which digests / diff_ids the store lacks;
//  3. ImportImage streams a tar of the remaining entries (re-hashed while sent, so a file that
//     changed since step 1 fails instead of importing unchecked bytes) and lists the omitted
//     ones in ImportOptions.present; the server takes those from the store and checks them
//     like streamed entries.
// A blob whose bytes do not match its name is never omitted, so the server rejects it
// (DATA_LOSS). When the server answers FAILED_PRECONDITION (an omitted blob left the store in
// the meantime) the whole tar is sent once more without omissions. A server without
// FindMissingBlobs gets the whole tar. A file that libarchive cannot read as a plain tar is
// streamed unchanged, so the server's error names what is wrong with it.
//
// `options.present` is filled here (anything the caller put there is replaced). `progress` may
// be null; it is called on this thread.
//
// Returns the server's ImportImageResponse (bytes_received = tar stream bytes actually sent;
// entries_from_store / bytes_from_store = what dedup saved). Errors keep the gRPC code; the
// message starts with the RPC name ("ImportImage: ...", "FindMissingBlobs: ...") for server
// errors and with `path` for local ones (NOT_FOUND / PERMISSION_DENIED / UNAVAILABLE for I/O,
// DATA_LOSS when the file changed while it was read).
// Thread-safe as far as `conn` is (each RPC uses its own ClientContext).
absl::StatusOr<v1::ImportImageResponse> UploadArchive(Connection& conn, const std::string& path,
                                                      const v1::ImportOptions& options,
                                                      const UploadProgressFn& progress = nullptr);

}  // namespace slipway::client

#endif  // SLIPWAY_CLIENT_ARCHIVE_UPLOAD_H_
