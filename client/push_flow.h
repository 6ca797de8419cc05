#ifndef SLIPWAY_CLIENT_PUSH_FLOW_H_
#define SLIPWAY_CLIENT_PUSH_FLOW_H_

#include <ostream>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "client/connection.h"
#include "slipway/v1/slipway.pb.h"

namespace slipway::client {

// Receives push progress as it streams (on the calling thread); defaults do nothing.
class PushObserver {
 public:
  virtual ~PushObserver() = default;
  virtual void OnBlob(const v1::BlobProgress& /*blob*/) {}
  virtual void OnTargetDone(const v1::TargetResult& /*result*/) {}
};

// What a Push / PushMany call came to: one TargetResult per target that finished (code 0 =
// pushed), and the RPC's own status (FromRpc form, "<Rpc>: <message>"), which fails for a
// request-wide problem (NOT_FOUND ref, INVALID_ARGUMENT target, FAILED_PRECONDITION gate) and,
// for Push, also when its single target failed.
struct PushOutcome {
  std::vector<v1::TargetResult> results;
  absl::Status rpc;
  int failed_targets() const;
  // OK only when the RPC succeeded and every result has code 0.
  bool ok() const { return rpc.ok() && failed_targets() == 0; }
};

PushOutcome PushImage(Connection& conn, const v1::PushRequest& request, PushObserver* observer);
PushOutcome PushImageMany(Connection& conn, const v1::PushManyRequest& request,
                          PushObserver* observer);

// "registry/repository" of a target or result.
std::string TargetName(const std::string& registry, const std::string& repository);

// "exists", "mounted", "uploading", "uploaded".
const char* BlobStateName(v1::BlobProgress::State state);

// The per-target table (TARGET RESULT DIGEST UPLOADED MOUNTED SKIPPED SENT RETRIES TIME).
void PrintPushTable(std::ostream& out, const std::vector<v1::TargetResult>& results);

}  // namespace slipway::client

#endif  // SLIPWAY_CLIENT_PUSH_FLOW_H_
