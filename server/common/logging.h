#ifndef SLIPWAY_SERVER_COMMON_LOGGING_H_
#define SLIPWAY_SERVER_COMMON_LOGGING_H_

#include <memory>
#include <string>

#include "absl/random/random.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "spdlog/spdlog.h"

namespace slipway {

// Sets the level ("info", ...) and the pattern (time, level, logger name) for every logger made
// by GetLogger, before or after this call. Call once at startup; thread-safe.
void InitLogging(const std::string& level);

// The named component logger ("service", "storage", "app", ...), created on first use. All
// loggers write to stderr. Thread-safe.
std::shared_ptr<spdlog::logger> GetLogger(const std::string& name);

// Makes per-RPC request ids: 16 lowercase hex characters. Thread-safe.
class RequestIdGenerator {
 public:
  std::string Next();

 private:
  absl::Mutex mu_;
  absl::BitGen gen_ ABSL_GUARDED_BY(mu_);
};

// A client-supplied x-request-id made safe to log: only [A-Za-z0-9._-] kept, at most 64
// characters. Empty when nothing usable remains (the caller then generates one).
std::string SanitizeRequestId(absl::string_view raw);

}  // namespace slipway

#endif  // SLIPWAY_SERVER_COMMON_LOGGING_H_
