#include "server/build/dockerfile/command_values.h"

#include <cctype>
#include <limits>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace slipway::build::dockerfile_internal {
namespace {

absl::Status Invalid(absl::string_view what, absl::string_view text) {
  return absl::InvalidArgumentError(absl::StrCat(what, " \"", text, "\""));
}

bool ParsePortNumber(absl::string_view text, int& port) {
  if (text.empty() || text.size() > 5) return false;
  for (char c : text) {
    if (!std::isdigit(static_cast<unsigned char>(c))) return false;
  }
  return absl::SimpleAtoi(text, &port) && port >= 1 && port <= 65535;
}

}  // namespace

absl::StatusOr<int64_t> ParseGoDuration(absl::string_view text) {
  // Integer arithmetic like Go's time.ParseDuration, so "0.3s" is exactly 300ms.
  absl::string_view s = text;
  bool negative = false;
  if (!s.empty() && (s.front() == '-' || s.front() == '+')) {
    negative = s.front() == '-';
    s.remove_prefix(1);
  }
  if (s == "0") return 0;
  if (s.empty()) return Invalid("invalid duration", text);
  constexpr uint64_t kMax = static_cast<uint64_t>(std::numeric_limits<int64_t>::max());
  auto is_digit = [](char c) { return c >= '0' && c <= '9'; };
  uint64_t total = 0;
  while (!s.empty()) {
    uint64_t whole = 0, fraction = 0, scale = 1;
    size_t i = 0;
    bool digits = false;
    for (; i < s.size() && is_digit(s[i]); ++i, digits = true) {
      if (whole > (kMax - 9) / 10) return Invalid("duration out of range", text);
      whole = whole * 10 + static_cast<uint64_t>(s[i] - '0');
    }
    if (i < s.size() && s[i] == '.') {
      for (++i; i < s.size() && is_digit(s[i]); ++i, digits = true) {
        if (scale > kMax / 100) continue;  // beyond nanosecond precision: ignored, as Go does
        fraction = fraction * 10 + static_cast<uint64_t>(s[i] - '0');
        scale *= 10;
      }
    }
    if (!digits) return Invalid("invalid duration", text);
    s.remove_prefix(i);
    size_t u = 0;
    while (u < s.size() && !is_digit(s[u]) && s[u] != '.') ++u;
    absl::string_view unit = s.substr(0, u);
    s.remove_prefix(u);
    uint64_t ns_per_unit;
    if (unit == "ns")
      ns_per_unit = 1;
    else if (unit == "us" || unit == "\xC2\xB5s" || unit == "\xCE\xBCs")
      ns_per_unit = 1000;
    else if (unit == "ms")
      ns_per_unit = 1000000;
    else if (unit == "s")
      ns_per_unit = 1000000000;
    else if (unit == "m")
      ns_per_unit = 60ULL * 1000000000;
    else if (unit == "h")
      ns_per_unit = 3600ULL * 1000000000;
    else if (unit.empty())
      return Invalid("missing unit in duration", text);
    else
      return Invalid(absl::StrCat("unknown unit \"", unit, "\" in duration"), text);
    if (whole > kMax / ns_per_unit) return Invalid("duration out of range", text);
    uint64_t value = whole * ns_per_unit;
    if (fraction > 0) {
      value +=
          static_cast<uint64_t>(static_cast<double>(fraction) *
                                (static_cast<double>(ns_per_unit) / static_cast<double>(scale)));
    }
    if (value > kMax - total) return Invalid("duration out of range", text);
    total += value;
  }
  return negative ? -static_cast<int64_t>(total) : static_cast<int64_t>(total);
}

absl::StatusOr<std::vector<std::string>> NormalizeExposePort(absl::string_view text) {
  absl::string_view port = text;
  std::string proto = "tcp";
  if (size_t slash = text.find('/'); slash != absl::string_view::npos) {
    port = text.substr(0, slash);
    proto = absl::AsciiStrToLower(text.substr(slash + 1));
    if (proto != "tcp" && proto != "udp" && proto != "sctp") {
      return Invalid("invalid protocol in EXPOSE", text);
    }
  }
  int first = 0, last = 0;
  if (size_t dash = port.find('-'); dash != absl::string_view::npos) {
    if (!ParsePortNumber(port.substr(0, dash), first) ||
        !ParsePortNumber(port.substr(dash + 1), last) || last < first) {
      return Invalid("invalid port range in EXPOSE", text);
    }
  } else if (ParsePortNumber(port, first)) {
    last = first;
  } else {
    return Invalid("invalid port in EXPOSE", text);
  }
  std::vector<std::string> out;
  for (int p = first; p <= last; ++p) out.push_back(absl::StrCat(p, "/", proto));
  return out;
}

absl::StatusOr<uint32_t> ParseOctalMode(absl::string_view text) {
  if (text.empty() || text.size() > 5) return Invalid("invalid --chmod, want an octal mode:", text);
  uint32_t mode = 0;
  for (char c : text) {
    if (c < '0' || c > '7') return Invalid("invalid --chmod, want an octal mode:", text);
    mode = mode * 8 + static_cast<uint32_t>(c - '0');
  }
  if (mode > 07777) return Invalid("invalid --chmod, mode above 07777:", text);
  return mode;
}

absl::StatusOr<bool> ParseBoolFlag(absl::string_view name, bool has_value,
                                   absl::string_view value) {
  if (!has_value) return true;
  std::string lower = absl::AsciiStrToLower(value);
  if (lower == "true" || lower == "1") return true;
  if (lower == "false" || lower == "0") return false;
  return Invalid(absl::StrCat("expecting boolean value for flag --", name, ", not"), value);
}

}  // namespace slipway::build::dockerfile_internal
