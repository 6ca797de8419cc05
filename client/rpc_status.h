#ifndef SLIPWAY_CLIENT_RPC_STATUS_H_
#define SLIPWAY_CLIENT_RPC_STATUS_H_

#include <grpcpp/support/status.h>

#include <string>

#include "absl/status/status.h"

namespace slipway::client {

// "INVALID_ARGUMENT", "NOT_FOUND", ... for a google.rpc.Code value; "UNKNOWN" out of range.
const char* RpcCodeName(int code);

// "<CODE NAME>: <message>", the form `slipway build` prints for a failed RPC.
std::string RpcCause(const grpc::Status& status);

// The same code (absl and gRPC both follow google.rpc.Code) with `prefix` + the message
// ("failed" when the server sent none). OK stays OK.
absl::Status FromRpc(const grpc::Status& status, const std::string& prefix = "");

}  // namespace slipway::client

#endif  // SLIPWAY_CLIENT_RPC_STATUS_H_
