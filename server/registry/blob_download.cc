// RegistryClient::GetBlob: streamed, hashed, resumed with Range after a broken transfer.

#include "absl/strings/str_cat.h"
#include "server/registry/reference.h"
#include "server/registry/registry_call.h"
#include "server/registry/registry_client.h"
#include "storage/status_macros.h"

namespace slipway::registry {

absl::StatusOr<int64_t> RegistryClient::GetBlob(absl::string_view repository,
                                                const Digest& digest, int64_t expected_size,
                                                BlobWriter& writer, const CallOptions& co) {
  SLIPWAY_RETURN_IF_ERROR(ValidateRepository(repository));
  const absl::Time deadline = DeadlineOf(co);
  const std::string what =
      absl::StrCat("GET blob ", digest.ToString(), " from ", repository);
  Sha256Hasher hasher;
  int64_t written = 0;
  for (int attempt = 1;; ++attempt) {
    Call call;
    call.path = absl::StrCat("/v2/", repository, "/blobs/", digest.ToString());
    call.scopes = {RepositoryScope(repository, false)};
    call.follow_redirects = true;
    call.retry = false;
    const int64_t resume_at = written;
    if (resume_at > 0) call.headers.Add("Range", absl::StrCat("bytes=", resume_at, "-"));
    call.on_body_start = [&](int status, const HeaderMap&) -> absl::Status {
      if (resume_at > 0 && status != 206) {
        return absl::DataLossError(absl::StrCat(
            what, ": the transfer broke at byte ", resume_at,
            " and the server cannot resume it (answered ", status, " to a Range request)"));
      }
      return absl::OkStatus();
    };
    call.sink = [&](absl::string_view piece) -> absl::Status {
      if (expected_size >= 0 && written + static_cast<int64_t>(piece.size()) > expected_size) {
        return absl::DataLossError(
            absl::StrCat(what, ": more bytes than the expected ", expected_size));
      }
      hasher.Update(piece);
      written += static_cast<int64_t>(piece.size());
      return writer.Append(piece);
    };
    absl::StatusOr<HttpResponse> r = Execute(call, CallOptions{deadline, nullptr});
    if (r.ok() && (r->status == 200 || r->status == 206)) break;
    RetryDecision d = retry_->Decide(attempt, r);
    if (!d.retry || clock_.Now() + d.delay >= deadline) {
      if (!r.ok()) return r.status();
      return HttpError(*r, what);
    }
    if (co.stats != nullptr) co.stats->reasons.push_back(d.reason);
    clock_.SleepFor(d.delay);
  }
  if (expected_size >= 0 && written != expected_size) {
    return absl::DataLossError(absl::StrCat(what, ": got ", written, " bytes, expected ",
                                            expected_size));
  }
  Digest got = hasher.Finish();
  if (got != digest) {
    return absl::DataLossError(absl::StrCat(what, ": the bytes hash to ", got.ToString()));
  }
  return written;
}

}  // namespace slipway::registry
