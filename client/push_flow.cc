#include "client/push_flow.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "client/commands.h"
#include "client/rpc_status.h"

namespace slipway::client {
namespace {

template <typename Reader>
PushOutcome Follow(Reader& reader, PushObserver* observer, const char* rpc) {
  PushObserver ignore;
  if (observer == nullptr) observer = &ignore;
  PushOutcome outcome;
  v1::PushProgress msg;
  while (reader.Read(&msg)) {
    if (msg.has_blob()) {
      observer->OnBlob(msg.blob());
    } else if (msg.has_target_done()) {
      outcome.results.push_back(msg.target_done());
      observer->OnTargetDone(msg.target_done());
    }
  }
  outcome.rpc = FromRpc(reader.Finish(), absl::StrCat(rpc, ": "));
  return outcome;
}

}  // namespace

int PushOutcome::failed_targets() const {
  int failed = 0;
  for (const auto& r : results) failed += r.code() != 0 ? 1 : 0;
  return failed;
}

PushOutcome PushImage(Connection& conn, const v1::PushRequest& request, PushObserver* observer) {
  auto ctx = conn.NewContext();
  auto reader = conn.stub().Push(ctx.get(), request);
  return Follow(*reader, observer, "Push");
}

PushOutcome PushImageMany(Connection& conn, const v1::PushManyRequest& request,
                          PushObserver* observer) {
  auto ctx = conn.NewContext();
  auto reader = conn.stub().PushMany(ctx.get(), request);
  return Follow(*reader, observer, "PushMany");
}

std::string TargetName(const std::string& registry, const std::string& repository) {
  return absl::StrCat(registry, "/", repository);
}

const char* BlobStateName(v1::BlobProgress::State s) {
  switch (s) {
    case v1::BlobProgress::EXISTS: return "exists";
    case v1::BlobProgress::MOUNTED: return "mounted";
    case v1::BlobProgress::UPLOADING: return "uploading";
    case v1::BlobProgress::UPLOADED: return "uploaded";
    default: return "?";
  }
}

void PrintPushTable(std::ostream& out, const std::vector<v1::TargetResult>& results) {
  out << absl::StrFormat("%-40s %-18s %-14s %8s %7s %7s %10s %7s %8s\n", "TARGET", "RESULT",
                         "DIGEST", "UPLOADED", "MOUNTED", "SKIPPED", "SENT", "RETRIES", "TIME");
  for (const auto& r : results) {
    out << absl::StrFormat("%-40s %-18s %-14s %8d %7d %7d %10s %7d %7.2fs\n",
                           TargetName(r.registry(), r.repository()), RpcCodeName(r.code()),
                           ShortDigest(r.manifest_digest()), r.blobs_uploaded(),
                           r.blobs_mounted(), r.blobs_skipped(), HumanSize(r.bytes_sent()),
                           r.retries(), r.duration_ms() / 1000.0);
  }
}

}  // namespace slipway::client
