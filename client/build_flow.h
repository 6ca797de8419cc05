#ifndef SLIPWAY_CLIENT_BUILD_FLOW_H_
#define SLIPWAY_CLIENT_BUILD_FLOW_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "client/connection.h"
#include "slipway/v1/slipway.pb.h"

namespace slipway::client {

// One build as the Build RPC wants it: the context directory, the Dockerfile on disk, and the
// spec (tags, args, labels, platform, ...; dockerfile/dockerfile_name are filled from
// `dockerfile` by BuildImage).
struct BuildInput {
  std::string context;
  std::string dockerfile;
  v1::BuildSpec spec;
};

// What the context transfer cost, reported once the upload is done.
struct ContextStats {
  int64_t entries = 0;
  int64_t files_uploaded = 0;
  int64_t bytes_sent = 0;
  int64_t files_hashed = 0;
  int64_t files_cached = 0;
};

// Receives a build's progress as it happens (on the calling thread). Every method defaults to
// doing nothing.
class BuildObserver {
 public:
  virtual ~BuildObserver() = default;
  virtual void OnWarning(absl::string_view /*message*/) {}
  virtual void OnContextSent(const ContextStats& /*stats*/) {}
  virtual void OnEvent(const v1::BuildEvent& /*event*/) {}
  // `total_steps` is the latest total the events announced (0 before the first).
  virtual void OnLog(const v1::BuildLog& /*log*/, int /*total_steps*/) {}
};

// Walks and hashes the context locally (with the hash cache), sends the listing, uploads only
// the files the server asks for, and follows the build to its result: the stored, tagged image.
// Errors: a local cause (unreadable Dockerfile or context file, a file changed during the
// upload) as INVALID_ARGUMENT/UNAVAILABLE with that cause as message; a failed Build RPC with
// its code and the message "<CODE NAME>: <server message>". `observer` may be null.
absl::StatusOr<v1::Image> BuildImage(Connection& conn, const BuildInput& input,
                                     BuildObserver* observer);

// "started", "cached", "done", "failed" (or "?"): how progress lines and JSON events name a
// step's state.
const char* BuildEventStateName(v1::BuildEvent::State state);

}  // namespace slipway::client

#endif  // SLIPWAY_CLIENT_BUILD_FLOW_H_
