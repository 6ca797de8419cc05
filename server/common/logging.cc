#include "server/common/logging.h"

#include "absl/strings/str_format.h"
#include "spdlog/sinks/stdout_color_sinks.h"

namespace slipway {
namespace {
constexpr char kPattern[] = "%Y-%m-%dT%H:%M:%S.%e%z %^%l%$ [%n] %v";
}  // namespace

void InitLogging(const std::string& level) {
  spdlog::set_pattern(kPattern);
  spdlog::set_level(spdlog::level::from_str(level));
  spdlog::flush_on(spdlog::level::warn);
}

std::shared_ptr<spdlog::logger> GetLogger(const std::string& name) {
  // spdlog's registry is the library's own; loggers created here inherit its global level and
  // pattern, so InitLogging applies to them whenever they are made.
  auto logger = spdlog::get(name);
  if (logger) return logger;
  try {
    return spdlog::stderr_color_mt(name);
  } catch (const spdlog::spdlog_ex&) {
    // Another thread registered it between get and create.
    return spdlog::get(name);
  }
}

std::string RequestIdGenerator::Next() {
  uint64_t v;
  {
    absl::MutexLock lock(&mu_);
    v = absl::Uniform<uint64_t>(gen_);
  }
  return absl::StrFormat("%016x", v);
}

std::string SanitizeRequestId(absl::string_view raw) {
  std::string out;
  for (char c : raw) {
    if (out.size() >= 64) break;
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
        c == '_' || c == '-') {
      out.push_back(c);
    }
  }
  return out;
}

}  // namespace slipway
