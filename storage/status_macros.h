#ifndef SLIPWAY_STORAGE_STATUS_MACROS_H_
#define SLIPWAY_STORAGE_STATUS_MACROS_H_

// Debian 12's abseil has no RETURN_IF_ERROR / ASSIGN_OR_RETURN; these are the project's own.

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define SLIPWAY_RETURN_IF_ERROR(expr)                 \
  do {                                                \
    ::absl::Status slipway_status_ = (expr);          \
    if (!slipway_status_.ok()) return slipway_status_; \
  } while (0)

#define SLIPWAY_CONCAT_INNER_(a, b) a##b
#define SLIPWAY_CONCAT_(a, b) SLIPWAY_CONCAT_INNER_(a, b)

// SLIPWAY_ASSIGN_OR_RETURN(auto x, MakeX()); or SLIPWAY_ASSIGN_OR_RETURN(existing, MakeX());
#define SLIPWAY_ASSIGN_OR_RETURN(lhs, expr) \
  SLIPWAY_ASSIGN_OR_RETURN_IMPL_(SLIPWAY_CONCAT_(slipway_statusor_, __LINE__), lhs, expr)
#define SLIPWAY_ASSIGN_OR_RETURN_IMPL_(statusor, lhs, expr) \
  auto statusor = (expr);                                   \
  if (!statusor.ok()) return std::move(statusor).status();  \
  lhs = std::move(statusor).value()

#endif  // SLIPWAY_STORAGE_STATUS_MACROS_H_
