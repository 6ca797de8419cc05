#ifndef SLIPWAY_SERVER_BUILD_BUILDER_H_
#define SLIPWAY_SERVER_BUILD_BUILDER_H_

#include <atomic>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "server/build/layer/source_tree.h"
#include "slipway/v1/slipway.pb.h"

namespace slipway::build {

// Receives a build's progress as it happens. Called from the builder's threads (several stages
// may run at once): implementations serialize internally.
class BuildObserver {
 public:
  virtual ~BuildObserver() = default;
  virtual void OnEvent(const v1::BuildEvent& event) = 0;
  virtual void OnLog(const v1::BuildLog& log) = 0;
};

struct BuildRequest {
  v1::BuildSpec spec;                   // Dockerfile, args, target, tags, credentials, ...
  const SourceTree* context = nullptr;  // the received build context (owned by the caller)
  std::string lease_id;                 // keeps the build's blobs alive through GC
  std::string request_id;               // for logs
  const std::atomic<bool>* cancelled = nullptr;  // set when the client goes away
};

// Turns a Dockerfile and its context into an image in the store.
class Builder {
 public:
  virtual ~Builder() = default;
  // Builds, records the image and points the requested tags at it. Errors as the Build RPC
  // documents them (INVALID_ARGUMENT "<file>:<line>: ..." for Dockerfile faults, NOT_FOUND for
  // a missing base image or COPY source, CANCELLED); a failed build tags nothing.
  virtual absl::StatusOr<v1::Image> Build(const BuildRequest& request,
                                          BuildObserver& observer) = 0;

  // Checks what can be checked before the context is received (the Dockerfile parses, the
  // stages plan, the target exists), so a broken Dockerfile costs no upload. Same errors as
  // Build. The default accepts everything.
  virtual absl::Status Check(const v1::BuildSpec& spec) { return absl::OkStatus(); }
};

}  // namespace slipway::build

#endif  // SLIPWAY_SERVER_BUILD_BUILDER_H_
