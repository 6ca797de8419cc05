#include "server/scan/referrer.h"

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "nlohmann/json.hpp"
#include "storage/status_macros.h"

namespace slipway::scan {
namespace {

using json = nlohmann::json;

constexpr char kOciManifest[] = "application/vnd.oci.image.manifest.v1+json";
constexpr char kOciIndex[] = "application/vnd.oci.image.index.v1+json";
constexpr char kEmptyMediaType[] = "application/vnd.oci.empty.v1+json";
constexpr char kEmptyJson[] = "{}";

json DescriptorJson(const Descriptor& d) {
  return json{{"mediaType", d.media_type}, {"digest", d.digest.ToString()}, {"size", d.size}};
}

absl::Status EnsureBlob(registry::RegistryClient& client, const BlobStore& blobs,
                        const std::string& repository, const Descriptor& blob,
                        const registry::CallOptions& call) {
  SLIPWAY_ASSIGN_OR_RETURN(auto present, client.HasBlob(repository, blob.digest, true, call));
  if (present.has_value()) return absl::OkStatus();
  SLIPWAY_RETURN_IF_ERROR(blobs.Stat(blob.digest).status());
  return client.PutBlob(repository, blob, registry::OpenFromStore(blobs, blob.digest), {}, call)
      .status();
}

}  // namespace

std::string ReportArtifactManifest(const Descriptor& subject, const ScanResultRecord& result) {
  json layer = DescriptorJson(*result.report);
  layer["annotations"] = {{"org.opencontainers.image.title", result.scanner + "-report"}};
  json config = {{"mediaType", kEmptyMediaType},
                 {"digest", Sha256Of(kEmptyJson).ToString()},
                 {"size", 2},
                 {"data", "e30="}};
  json m = {{"schemaVersion", 2},
            {"mediaType", kOciManifest},
            {"artifactType", kScanReportArtifactType},
            {"config", config},
            {"layers", json::array({layer})},
            {"subject", DescriptorJson(subject)},
            {"annotations",
             {{"org.opencontainers.image.created",
               absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", absl::FromUnixSeconds(result.recorded_unix),
                                absl::UTCTimeZone())},
              {"dev.slipway.scan.scanner", result.scanner},
              {"dev.slipway.scan.scanner-version", result.scanner_version},
              {"dev.slipway.scan.passed", result.passed ? "true" : "false"}}}};
  return m.dump();
}

absl::StatusOr<Digest> AttachReportAsReferrer(registry::RegistryClient& client, BlobStore& blobs,
                                              const std::string& repository,
                                              const Descriptor& subject,
                                              const ScanResultRecord& result,
                                              const registry::CallOptions& call) {
  if (!result.report) {
    return absl::InvalidArgumentError(absl::StrCat("scan result of \"", result.scanner,
                                                   "\" has no report to attach"));
  }
  SLIPWAY_ASSIGN_OR_RETURN(BlobInfo empty, blobs.PutSmall(kEmptyJson));
  SLIPWAY_RETURN_IF_ERROR(EnsureBlob(client, blobs, repository,
                                     Descriptor{kEmptyMediaType, empty.digest, empty.size, {}},
                                     call));
  SLIPWAY_RETURN_IF_ERROR(EnsureBlob(client, blobs, repository, *result.report, call));
  const std::string manifest = ReportArtifactManifest(subject, result);
  const Digest digest = Sha256Of(manifest);
  SLIPWAY_RETURN_IF_ERROR(
      client.PutManifest(repository, digest.ToString(), kOciManifest, manifest, call).status());

  SLIPWAY_ASSIGN_OR_RETURN(auto referrers, client.GetReferrers(repository, subject.digest, call));
  if (referrers.has_value()) return digest;  // the registry indexes it through `subject`

  // Tag schema fallback: <alg>-<hex> holds an index of every referrer.
  const std::string tag = absl::StrCat("sha256-", subject.digest.hex());
  json index = {{"schemaVersion", 2}, {"mediaType", kOciIndex}, {"manifests", json::array()}};
  auto existing = client.GetManifest(repository, tag, call);
  if (existing.ok()) {
    json parsed = json::parse(existing->bytes, nullptr, /*allow_exceptions=*/false);
    if (parsed.is_object() && parsed.contains("manifests") && parsed["manifests"].is_array()) {
      index = std::move(parsed);
    }
  } else if (!absl::IsNotFound(existing.status())) {
    return existing.status();
  }
  for (const json& d : index["manifests"]) {
    if (!d.is_object()) continue;
    auto it = d.find("digest");
    if (it != d.end() && it->is_string() && it->get<std::string>() == digest.ToString()) {
      return digest;
    }
  }
  json entry = {{"mediaType", kOciManifest},
                {"digest", digest.ToString()},
                {"size", static_cast<int64_t>(manifest.size())},
                {"artifactType", kScanReportArtifactType},
                {"annotations",
                 {{"dev.slipway.scan.scanner", result.scanner},
                  {"dev.slipway.scan.passed", result.passed ? "true" : "false"}}}};
  index["manifests"].push_back(entry);
  SLIPWAY_RETURN_IF_ERROR(
      client.PutManifest(repository, tag, kOciIndex, index.dump(), call).status());
  return digest;
}

}  // namespace slipway::scan
