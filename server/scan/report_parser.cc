#include "server/scan/report_parser.h"

#include <fstream>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "nlohmann/json.hpp"

namespace slipway::scan {
namespace {

using json = nlohmann::json;

void Count(SeverityCounts& c, const std::string& severity) {
  std::string s = absl::AsciiStrToLower(severity);
  if (s == "critical") {
    ++c.critical;
  } else if (s == "high" || s == "error") {
    ++c.high;
  } else if (s == "medium" || s == "moderate" || s == "warning") {
    ++c.medium;
  } else if (s == "low" || s == "note" || s == "negligible") {
    ++c.low;
  } else {
    ++c.unknown;
  }
}

std::string StringField(const json& obj, const char* key) {
  if (!obj.is_object()) return "";
  auto it = obj.find(key);
  if (it == obj.end() || !it->is_string()) return "";
  return it->get<std::string>();
}

SeverityCounts Trivy(const json& doc) {
  SeverityCounts c;
  auto results = doc.find("Results");
  if (results == doc.end() || !results->is_array()) return c;
  for (const json& r : *results) {
    if (!r.is_object()) continue;
    for (const char* list : {"Vulnerabilities", "Misconfigurations", "Secrets"}) {
      auto it = r.find(list);
      if (it == r.end() || !it->is_array()) continue;
      for (const json& v : *it) Count(c, StringField(v, "Severity"));
    }
  }
  return c;
}

SeverityCounts Sarif(const json& runs) {
  SeverityCounts c;
  for (const json& run : runs) {
    if (!run.is_object()) continue;
    auto results = run.find("results");
    if (results == run.end() || !results->is_array()) continue;
    for (const json& r : *results) {
      if (!r.is_object()) {
        ++c.unknown;
        continue;
      }
      auto props = r.find("properties");
      if (props != r.end() && props->is_object()) {
        std::string sev = StringField(*props, "severity");
        if (!sev.empty()) {
          Count(c, sev);
          continue;
        }
        auto score = props->find("security-severity");
        double value = -1;
        if (score != props->end() && score->is_number()) value = score->get<double>();
        if (score != props->end() && score->is_string()) {
          if (!absl::SimpleAtod(score->get<std::string>(), &value)) value = -1;
        }
        if (value >= 9) {
          ++c.critical;
          continue;
        } else if (value >= 7) {
          ++c.high;
          continue;
        } else if (value >= 4) {
          ++c.medium;
          continue;
        } else if (value > 0) {
          ++c.low;
          continue;
        }
      }
      std::string level = StringField(r, "level");
      if (level.empty() || level == "none") {
        ++c.unknown;
      } else {
        Count(c, level);
      }
    }
  }
  return c;
}

}  // namespace

std::optional<SeverityCounts> SummarizeReport(absl::string_view text) {
  json doc = json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded() || !doc.is_object()) return std::nullopt;
  if (auto runs = doc.find("runs"); runs != doc.end() && runs->is_array()) return Sarif(*runs);
  if (doc.contains("Results") || doc.contains("SchemaVersion")) return Trivy(doc);
  return std::nullopt;
}

std::optional<SeverityCounts> SummarizeReportFile(const std::string& path, int64_t max_bytes) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::string text;
  text.resize(static_cast<size_t>(max_bytes) + 1);
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  if (in.gcount() > max_bytes) return std::nullopt;
  text.resize(static_cast<size_t>(in.gcount()));
  return SummarizeReport(text);
}

void SetSummary(const SeverityCounts& counts, ScanResultRecord* result) {
  result->summary_known = true;
  result->critical = counts.critical;
  result->high = counts.high;
  result->medium = counts.medium;
  result->low = counts.low;
  result->unknown = counts.unknown;
}

}  // namespace slipway::scan
