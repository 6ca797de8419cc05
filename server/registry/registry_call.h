#ifndef SLIPWAY_SERVER_REGISTRY_REGISTRY_CALL_H_
#define SLIPWAY_SERVER_REGISTRY_REGISTRY_CALL_H_

// Internal to registry_client*.cc: one registry request as the client executes it.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "server/registry/registry_client.h"

namespace slipway::registry {

struct RegistryClient::Call {
  std::string method = "GET";
  std::string path;  // below the base URL ("/v2/..."), or
  std::string url;   // absolute (upload locations); wins when set
  HeaderMap headers;
  std::string body;
  // A streamed body: `open(offset)` re-opens the blob for every attempt, then `body_length`
  // bytes are sent (counted into *bytes_sent when set).
  BlobOpener open;
  int64_t offset = 0;
  int64_t body_length = 0;
  int64_t* bytes_sent = nullptr;
  BodySink sink;
  std::function<absl::Status(int, const HeaderMap&)> on_body_start;
  int64_t max_body_bytes = kMaxErrorBodyBytes;
  std::vector<std::string> scopes;  // token scopes; empty for /v2/
  bool follow_redirects = false;
  bool retry = true;  // false: the caller retries (uploads and downloads that hold state)
};

// A BodyReader over the next `length` bytes of `reader`; DATA_LOSS when the blob ends first.
BodyReader LimitedReader(BlobReader* reader, int64_t length, int64_t* counter);
// Parses an upload's Range header ("0-<end>", optionally "bytes=0-<end>") into the next offset.
// Distribution answers "0-0" both for an empty upload and for one byte: `confirmed` (what the
// registry last acknowledged) decides. nullopt when malformed.
std::optional<int64_t> NextOffsetFromRange(absl::string_view range, int64_t confirmed);

}  // namespace slipway::registry

#endif  // SLIPWAY_SERVER_REGISTRY_REGISTRY_CALL_H_
