#ifndef SLIPWAY_CLIENT_IMAGE_TRANSFER_H_
#define SLIPWAY_CLIENT_IMAGE_TRANSFER_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "client/connection.h"
#include "slipway/v1/slipway.pb.h"

namespace slipway::client {

// Streams an image tarball (any format ImportImage reads), an OCI layout directory (tarred on
// the fly) or "-" (stdin) to ImportImage with `options`, in 1 MiB messages; never holds the
// archive whole. Errors: a local cause as "import: <path>: <reason>"; a failed RPC with its
// code and the message "ImportImage: <server message>". Nothing of a failed import is stored.
absl::StatusOr<v1::ImportImageResponse> ImportImageFrom(Connection& conn, const std::string& path,
                                                        const v1::ImportOptions& options);

// Streams ExportImage(`request`) into `output` ("-" = stdout) atomically: a temp file in the
// same directory (parents created), fsync, rename. On any failure nothing appears at `output`.
// Returns the bytes written. Errors: "export: <cause>" locally, "ExportImage: <message>" for
// the RPC (with its code).
absl::StatusOr<int64_t> ExportImageTo(Connection& conn, const v1::ExportImageRequest& request,
                                      const std::string& output);

// Exports `ref` as OCI_ARCHIVE (ref names `repo_tags`, default: the image's tags) and unpacks the stream (libarchive, refusing absolute paths,
// ".." and escaping symlinks) into the directory `dir`: an OCI image layout. Built in
// "<dir>.tmp-XXXXXX" and renamed into place; an existing `dir` is replaced. Returns the bytes
// received. Errors as ExportImageTo.
absl::StatusOr<int64_t> ExportOciLayoutTo(Connection& conn, const std::string& ref,
                                          const std::vector<std::string>& repo_tags,
                                          const std::string& dir);

}  // namespace slipway::client

#endif  // SLIPWAY_CLIENT_IMAGE_TRANSFER_H_
