#include "client/rpc_status.h"

#include "absl/strings/str_cat.h"

namespace slipway::client {

const char* RpcCodeName(int code) {
  static const char* const kNames[] = {
      "OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED", "NOT_FOUND",
      "ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION",
      "ABORTED", "OUT_OF_RANGE", "UNIMPLEMENTED", "INTERNAL", "UNAVAILABLE", "DATA_LOSS",
      "UNAUTHENTICATED"};
  return code >= 0 && code <= 16 ? kNames[code] : "UNKNOWN";
}

std::string RpcCause(const grpc::Status& status) {
  return absl::StrCat(RpcCodeName(static_cast<int>(status.error_code())), ": ",
                      status.error_message());
}

absl::Status FromRpc(const grpc::Status& status, const std::string& prefix) {
  if (status.ok()) return absl::OkStatus();
  return absl::Status(static_cast<absl::StatusCode>(status.error_code()),
                      absl::StrCat(prefix, status.error_message().empty()
                                               ? "failed"
                                               : status.error_message()));
}

}  // namespace slipway::client
