#ifndef SLIPWAY_SERVER_SCAN_REFERRER_H_
#define SLIPWAY_SERVER_SCAN_REFERRER_H_

#include <string>

#include "absl/status/statusor.h"
#include "server/registry/registry_client.h"
#include "storage/blob_store.h"
#include "storage/descriptor.h"
#include "storage/image_index.h"

namespace slipway::scan {

// The artifactType of scan-report referrers.
inline constexpr char kScanReportArtifactType[] = "application/vnd.slipway.scan.report.v1+json";

// The artifact manifest for `result`'s report: an OCI image manifest with artifactType, the
// empty config descriptor, layers = [the report], subject = `subject`, and annotations naming
// scanner, version, verdict and time. Deterministic for the same inputs. `result.report` must
// be set.
std::string ReportArtifactManifest(const Descriptor& subject, const ScanResultRecord& result);

// Attaches `result.report` (a blob in `blobs`) to the pushed manifest `subject` in
// `repository` as an OCI referrer: uploads the empty config ("{}", stored in `blobs` too) and
// the report when the registry lacks them, puts the artifact manifest by digest, then — when
// the registry has no referrers API (GET /v2/<repo>/referrers/<digest> → 404) — adds it to the
// referrers tag schema: the image index tagged "sha256-<hex of subject>", created or extended
// (an artifact already listed is not added twice). Returns the artifact manifest's digest.
// Errors: the registry client's (naming registry, repository and digest); NOT_FOUND when the
// report blob is missing from the store.
absl::StatusOr<Digest> AttachReportAsReferrer(registry::RegistryClient& client,
                                              BlobStore& blobs, const std::string& repository,
                                              const Descriptor& subject,
                                              const ScanResultRecord& result,
                                              const registry::CallOptions& call = {});

}  // namespace slipway::scan

#endif  // SLIPWAY_SERVER_SCAN_REFERRER_H_
