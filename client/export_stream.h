#ifndef SLIPWAY_CLIENT_EXPORT_STREAM_H_
#define SLIPWAY_CLIENT_EXPORT_STREAM_H_

#include <grpcpp/client_context.h>
#include <grpcpp/support/sync_stream.h>

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "client/connection.h"
#include "slipway/v1/slipway.grpc.pb.h"
#include "storage/archive/byte_stream.h"

namespace slipway::client {

// slipwayd's ExportImage stream as a pull-based ByteSource, so an archive can be written to a
// file or piped into another upload (a Docker Engine load) one chunk at a time, never whole.
//
// Next() returns the next non-empty chunk, an empty view at the end of a successful stream, or
// the RPC's error as an absl::Status (same code, message "ExportImage: <server message>").
// After an error or the end, Next() keeps returning that same result. Cancel() abandons the
// call (a local consumer failed); the destructor cancels a call still in flight.
// Not thread-safe: one consumer at a time.
class ExportStream : public ByteSource {
 public:
  ExportStream(Connection& conn, const v1::ExportImageRequest& request);
  ~ExportStream() override;
  ExportStream(const ExportStream&) = delete;
  ExportStream& operator=(const ExportStream&) = delete;

  absl::StatusOr<absl::string_view> Next() override;
  void Cancel();

  // Copies up to `cap` bytes into `buf`: the number copied, 0 at the end, or the RPC's error.
  // For consumers that pull into their own buffer (libcurl's read callback).
  absl::StatusOr<size_t> Read(char* buf, size_t cap);

 private:
  // Makes chunk_ hold unread bytes; false at the end of the stream (final_status_ set).
  bool Fill();

  std::unique_ptr<grpc::ClientContext> ctx_;
  std::unique_ptr<grpc::ClientReader<v1::ExportImageChunk>> reader_;
  v1::ExportImageChunk chunk_;
  size_t offset_ = 0;  // bytes of chunk_ already handed out by Read()
  bool done_ = false;
  absl::Status final_status_;
};

}  // namespace slipway::client

#endif  // SLIPWAY_CLIENT_EXPORT_STREAM_H_
