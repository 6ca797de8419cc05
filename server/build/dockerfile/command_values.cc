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
  absl::string_view s = text;
  bool negative = false;
  if (!s.empty() && (s.front() == '-' || s.front() == '+')) {
    negative = s.front() == '-';
    s.remove_prefix(1);
  }
  if (s == "0") return 0;
  if (s.empty()) return Invalid("invalid duration", text);
  long double total = 0;
  while (!s.empty()) {
    size_t i = 0;
    while (i < s.size() && (std::isdigit(static_cast<unsigned char>(s[i])) || s[i] == '.')) ++i;
    absl::string_view number = s.substr(0, i);
    if (number.empty() || number == "." || number.find('.') != number.rfind('.')) {
      return Invalid("invalid duration", text);
    }
    double value = 0;
    if (!absl::SimpleAtod(number, &value)) return Invalid("invalid duration", text);
    s.remove_prefix(i);
    size_t u = 0;
    while (u < s.size() && !std::isdigit(static_cast<unsigned char>(s[u])) && s[u] != '.') ++u;
    absl::string_view unit = s.substr(0, u);
    s.remove_prefix(u);
    long double scale;
    if (unit == "ns") scale = 1;
    else if (unit == "us" || unit == "\xC2\xB5s" || unit == "\xCE\xBCs") scale = 1e3;
    else if (unit == "ms") scale = 1e6;
    else if (unit == "s") scale = 1e9;
    else if (unit == "m") scale = 60e9;
    else if (unit == "h") scale = 3600e9;
    else if (unit.empty()) return Invalid("missing unit in duration", text);
    else return Invalid(absl::StrCat("unknown unit \"", unit, "\" in duration"), text);
    total += value * scale;
    if (total > static_cast<long double>(std::numeric_limits<int64_t>::max())) {
      return Invalid("duration out of range", text);
    }
  }
  int64_t ns = static_cast<int64_t>(total);
  return negative ? -ns : ns;
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
