// RegistryClient::PutBlob: monolithic and chunked uploads with resumption.

#include <algorithm>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "server/registry/reference.h"
#include "server/registry/registry_call.h"
#include "server/registry/registry_client.h"
#include "spdlog/spdlog.h"
#include "storage/status_macros.h"

namespace slipway::registry {

BodyReader LimitedReader(BlobReader* reader, int64_t length, int64_t* counter) {
  auto left = std::make_shared<int64_t>(length);
  return [reader, left, counter](char* buf, size_t n) -> absl::StatusOr<size_t> {
    if (*left <= 0) return size_t{0};
    SLIPWAY_ASSIGN_OR_RETURN(size_t got, reader->Read(buf, std::min<size_t>(n, *left)));
    if (got == 0) {
      return absl::DataLossError(
          absl::StrCat("blob ended ", *left, " bytes before its declared size"));
    }
    *left -= static_cast<int64_t>(got);
    if (counter != nullptr) *counter += static_cast<int64_t>(got);
    return got;
  };
}

std::optional<int64_t> NextOffsetFromRange(absl::string_view range, int64_t confirmed) {
  absl::ConsumePrefix(&range, "bytes=");
  size_t dash = range.find('-');
  int64_t start = 0, end = 0;
  if (dash == absl::string_view::npos || !absl::SimpleAtoi(range.substr(0, dash), &start) ||
      !absl::SimpleAtoi(range.substr(dash + 1), &end) || start != 0 || end < 0) {
    return std::nullopt;
  }
  if (end == 0) return confirmed >= 1 ? 1 : 0;
  return end + 1;
}

absl::StatusOr<RegistryClient::UploadSession> RegistryClient::StartUpload(
    absl::string_view repository, const CallOptions& co) {
  Call call;
  call.method = "POST";
  call.path = absl::StrCat("/v2/", repository, "/blobs/uploads/");
  call.scopes = {RepositoryScope(repository, true)};
  SLIPWAY_ASSIGN_OR_RETURN(HttpResponse resp, Execute(call, co));
  if (resp.status != 202) return HttpError(resp, absl::StrCat("start of an upload to ", repository));
  auto location = resp.headers.Get("Location");
  if (!location.has_value()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "registry ", api_host_, " opened an upload to ", repository, " without a Location"));
  }
  UploadSession session;
  SLIPWAY_ASSIGN_OR_RETURN(session.location, ResolveUrl(Url(call.path), *location));
  if (auto min = resp.headers.Get("OCI-Chunk-Min-Length"); min.has_value()) {
    if (!absl::SimpleAtoi(*min, &session.min_chunk) || session.min_chunk < 0) {
      session.min_chunk = 0;
    }
  }
  return session;
}

absl::StatusOr<HttpResponse> RegistryClient::MonolithicOnce(absl::string_view repository,
                                                            const Descriptor& blob,
                                                            const BlobOpener& open,
                                                            const std::string& location,
                                                            absl::Time deadline,
                                                            PutBlobResult* result) {
  Call call;
  call.method = "PUT";
  SLIPWAY_ASSIGN_OR_RETURN(call.url, AppendQueryParam(location, "digest", blob.digest.ToString()));
  call.headers.Add("Content-Type", "application/octet-stream");
  call.open = open;
  call.body_length = blob.size;
  call.bytes_sent = &result->bytes_sent;
  call.scopes = {RepositoryScope(repository, true)};
  call.retry = false;
  return Execute(call, CallOptions{deadline, nullptr});
}

absl::StatusOr<PutBlobResult> RegistryClient::PutBlob(absl::string_view repository,
                                                      const Descriptor& blob,
                                                      const BlobOpener& open,
                                                      const PutBlobOptions& options,
                                                      const CallOptions& co) {
  SLIPWAY_RETURN_IF_ERROR(ValidateRepository(repository));
  if (blob.size < 0) return absl::InvalidArgumentError("blob size must not be negative");
  const absl::Time deadline = DeadlineOf(co);
  const CallOptions call{deadline, co.stats};
  const std::string what = absl::StrCat("upload of blob ", blob.digest.ToString(), " to ",
                                        repository);
  UploadSession session;
  session.location = options.upload_location;
  const bool chunked = !options_.single_request_uploads && blob.size > options_.monolithic_max_bytes;
  if (chunked) {
    if (session.location.empty()) {
      SLIPWAY_ASSIGN_OR_RETURN(session, StartUpload(repository, call));
    }
    return PutChunked(repository, blob, open, std::move(session), call);
  }
  PutBlobResult result;
  // A monolithic PUT that broke cannot continue its session: every retry opens a new one.
  for (int attempt = 1;; ++attempt) {
    if (session.location.empty()) {
      SLIPWAY_ASSIGN_OR_RETURN(session, StartUpload(repository, call));
    }
    absl::StatusOr<HttpResponse> r =
        MonolithicOnce(repository, blob, open, session.location, deadline, &result);
    session.location.clear();
    if (r.ok() && r->status == 201) return result;
    RetryDecision d = retry_->Decide(attempt, r);
    if (!d.retry || clock_.Now() + d.delay >= deadline) {
      if (!r.ok()) return absl::Status(r.status().code(), absl::StrCat(what, ": ", r.status().message()));
      return HttpError(*r, what);
    }
    if (co.stats != nullptr) co.stats->reasons.push_back(d.reason);
    log_->info("registry {}: {} failed ({}), retrying in {}", api_host_, what, d.reason,
               absl::FormatDuration(d.delay));
    clock_.SleepFor(d.delay);
  }
}

absl::StatusOr<PutBlobResult> RegistryClient::PutChunked(absl::string_view repository,
                                                         const Descriptor& blob,
                                                         const BlobOpener& open,
                                                         UploadSession session,
                                                         const CallOptions& co) {
  const absl::Time deadline = *co.deadline;
  const std::string what = absl::StrCat("chunked upload of blob ", blob.digest.ToString(),
                                        " to ", repository);
  PutBlobResult result;
  result.chunked = true;
  const int64_t chunk = std::max(options_.chunk_bytes, session.min_chunk);
  int64_t offset = 0;
  while (offset < blob.size) {
    const int64_t len = std::min(chunk, blob.size - offset);
    Call call;
    call.method = "PATCH";
    call.url = session.location;
    call.headers.Add("Content-Type", "application/octet-stream");
    call.headers.Add("Content-Range", absl::StrCat(offset, "-", offset + len - 1));
    call.open = open;
    call.offset = offset;
    call.body_length = len;
    call.bytes_sent = &result.bytes_sent;
    call.scopes = {RepositoryScope(repository, true)};
    call.retry = false;
    absl::StatusOr<HttpResponse> r = Execute(call, co);
    if (r.ok() && r->status == 202) {
      if (auto loc = r->headers.Get("Location"); loc.has_value()) {
        SLIPWAY_ASSIGN_OR_RETURN(session.location, ResolveUrl(session.location, *loc));
      }
      std::optional<int64_t> next;
      if (auto range = r->headers.Get("Range"); range.has_value()) {
        next = NextOffsetFromRange(*range, offset + len);
      }
      offset = next.value_or(offset + len);
      continue;
    }
    // A reset, EOF, stall, 5xx or 429 mid-upload, or a 416 (our offset and the registry's
    // disagree): ask the registry where the upload stands and continue from there.
    const bool is_416 = r.ok() && r->status == 416;
    RetryDecision d = retry_->Decide(result.resumes + 1, r);
    if ((!is_416 && !d.retry) || result.resumes >= options_.max_resumes) {
      if (!r.ok()) return absl::Status(r.status().code(), absl::StrCat(what, ": ", r.status().message()));
      return HttpError(*r, what);
    }
    ++result.resumes;
    absl::Duration delay = is_416 ? absl::ZeroDuration() : d.delay;
    if (clock_.Now() + delay >= deadline) {
      return absl::DeadlineExceededError(absl::StrCat(what, ": deadline reached after ",
                                                      result.resumes, " resumption(s)"));
    }
    if (co.stats != nullptr) co.stats->reasons.push_back(is_416 ? "416" : d.reason);
    log_->info("registry {}: {} interrupted at offset {} ({}), resuming", api_host_, what,
               offset, is_416 ? "416" : d.reason);
    clock_.SleepFor(delay);
    Call status;
    status.url = session.location;
    status.scopes = {RepositoryScope(repository, true)};
    SLIPWAY_ASSIGN_OR_RETURN(HttpResponse s, Execute(status, co));
    if (s.status == 404) {
      // The session is gone (docker-registry cancels a session whose PATCH broke): start over.
      log_->info("registry {}: {}: upload session lost, restarting from offset 0", api_host_,
                 what);
      SLIPWAY_ASSIGN_OR_RETURN(session, StartUpload(repository, co));
      offset = 0;
      continue;
    }
    if (s.status != 204) return HttpError(s, absl::StrCat(what, ": upload status"));
    if (auto loc = s.headers.Get("Location"); loc.has_value()) {
      SLIPWAY_ASSIGN_OR_RETURN(session.location, ResolveUrl(session.location, *loc));
    }
    auto range = s.headers.Get("Range");
    std::optional<int64_t> next =
        range.has_value() ? NextOffsetFromRange(*range, offset) : std::optional<int64_t>(0);
    if (!next.has_value() || *next > blob.size) {
      return absl::FailedPreconditionError(absl::StrCat(
          what, ": registry reports an unusable upload range \"", range.value_or("").substr(0, 40), "\""));
    }
    log_->info("registry {}: {} continues at offset {}", api_host_, what, *next);
    offset = *next;
  }
  Call finish;
  finish.method = "PUT";
  SLIPWAY_ASSIGN_OR_RETURN(finish.url,
                           AppendQueryParam(session.location, "digest", blob.digest.ToString()));
  finish.scopes = {RepositoryScope(repository, true)};
  absl::StatusOr<HttpResponse> done = Execute(finish, co);
  if (done.ok() && done->status == 201) return result;
  // The PUT may have taken effect with its answer lost (a reset after the registry committed
  // the blob; the retry then finds the session closed: 404). What counts is the blob in the
  // repository, which the registry only commits after checking our digest.
  if (!done.ok() || done->status == 404) {
    auto has = HasBlob(repository, blob.digest, /*for_push=*/true, co);
    if (has.ok() && has->has_value() && **has == blob.size) {
      log_->info("registry {}: {}: final answer lost, but the blob is in place", api_host_,
                 what);
      return result;
    }
  }
  if (!done.ok()) {
    return absl::Status(done.status().code(), absl::StrCat(what, ": ", done.status().message()));
  }
  return HttpError(*done, what);
}

}  // namespace slipway::registry
