// Push and PushMany: proto ⇄ push engine. Credentials stay in memory for the request and are
// never logged; only registry and repository appear in log lines and messages.

#include <chrono>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "server/common/status_mapping.h"
#include "server/push/fan_out.h"
#include "server/registry/reference.h"
#include "server/service/rpc_scope.h"
#include "server/service/slipway_service.h"

namespace slipway {
namespace {

// A push with no client deadline still ends: a stuck registry cannot hold a handler forever.
constexpr absl::Duration kDefaultPushDeadline = absl::Hours(6);

absl::StatusOr<push::PushTarget> FromProto(const v1::PushTarget& in, const std::string& field) {
  push::PushTarget t;
  if (in.registry().empty()) {
    return absl::InvalidArgumentError(absl::StrCat(field, ".registry: must not be empty"));
  }
  if (absl::StrContains(in.registry(), "/") || absl::StrContains(in.registry(), "@")) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ".registry: \"", in.registry(), "\" is not a host[:port]"));
  }
  t.registry = in.registry();
  absl::Status s = registry::ValidateRepository(in.repository());
  if (!s.ok()) return WithField(s, field + ".repository");
  t.repository = in.repository();
  for (int i = 0; i < in.tags_size(); ++i) {
    const std::string& tag = in.tags(i);
    s = tag.empty() ? absl::InvalidArgumentError("must not be empty")
                    : registry::ValidateManifestReference(tag);
    if (!s.ok()) return WithField(s, absl::StrCat(field, ".tags[", i, "]"));
    t.tags.push_back(tag);
  }
  if (in.has_credential()) {
    const v1::RegistryCredential& c = in.credential();
    if (!c.registry().empty() && c.registry() != in.registry()) {
      return absl::InvalidArgumentError(absl::StrCat(
          field, ".credential.registry: \"", c.registry(), "\" is not the target's registry \"",
          in.registry(), "\""));
    }
    switch (c.kind_case()) {
      case v1::RegistryCredential::kBasic:
        t.credentials.username = c.basic().username();
        t.credentials.password = c.basic().password();
        break;
      case v1::RegistryCredential::kToken:
        t.credentials.registry_token = c.token();
        break;
      case v1::RegistryCredential::KIND_NOT_SET:
        break;
      default:
        return absl::UnimplementedError(absl::StrCat(
            field, ".credential: cloud credential kinds (ECR, GAR, ACR) are not supported yet;"
                   " pass basic credentials or a token"));
    }
  }
  if (in.has_tls()) {
    t.plain_http = in.tls().insecure_http();
    t.tls.insecure_skip_verify = in.tls().skip_verify();
    t.tls.ca_pem = in.tls().ca_pem();
    t.tls.client_cert_pem = in.tls().client_cert_pem();
    t.tls.client_key_pem = in.tls().client_key_pem();
    if (t.tls.client_cert_pem.empty() != t.tls.client_key_pem.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat(field, ".tls: client_cert_pem and client_key_pem go together"));
    }
  }
  return t;
}

v1::BlobProgress::State ToProto(push::BlobState s) {
  switch (s) {
    case push::BlobState::kExists: return v1::BlobProgress::EXISTS;
    case push::BlobState::kMounted: return v1::BlobProgress::MOUNTED;
    case push::BlobState::kUploading: return v1::BlobProgress::UPLOADING;
    case push::BlobState::kUploaded: return v1::BlobProgress::UPLOADED;
  }
  return v1::BlobProgress::STATE_UNSPECIFIED;
}

void ToProto(int index, const push::PushTarget& target, const push::PushOutcome& o,
             v1::TargetResult* out) {
  out->set_target_index(index);
  out->set_registry(target.registry);
  out->set_repository(target.repository);
  out->set_code(static_cast<int>(o.status.code()));
  out->set_message(std::string(o.status.message()));
  if (o.manifest_digest) out->set_manifest_digest(o.manifest_digest->ToString());
  out->set_bytes_sent(o.bytes_sent);
  out->set_blobs_skipped(o.blobs_skipped);
  out->set_blobs_mounted(o.blobs_mounted);
  out->set_blobs_uploaded(o.blobs_uploaded);
  out->set_retries(o.retries);
  out->set_duration_ms(absl::ToInt64Milliseconds(o.duration));
}

// Serialises writes to the stream: progress comes from many worker threads.
class ProgressStream {
 public:
  explicit ProgressStream(grpc::ServerWriter<v1::PushProgress>* writer) : writer_(writer) {}
  void Blob(const push::BlobEvent& e) {
    v1::PushProgress msg;
    v1::BlobProgress* b = msg.mutable_blob();
    b->set_target_index(e.target_index);
    b->set_digest(e.blob.digest.ToString());
    b->set_size(e.blob.size);
    b->set_state(ToProto(e.state));
    b->set_bytes_sent(e.bytes_sent);
    Write(msg);
  }
  void Done(int index, const push::PushTarget& target, const push::PushOutcome& o) {
    v1::PushProgress msg;
    ToProto(index, target, o, msg.mutable_target_done());
    Write(msg);
  }

 private:
  void Write(const v1::PushProgress& msg) {
    absl::MutexLock lock(&mu_);
    // A failed write means the client went away; the cancel check notices it.
    (void)writer_->Write(msg);
  }
  absl::Mutex mu_;
  grpc::ServerWriter<v1::PushProgress>* writer_ ABSL_GUARDED_BY(mu_);
};

push::PushContext MakeContext(grpc::ServerContext* context, ProgressStream& stream) {
  push::PushContext ctx;
  const absl::Time now = absl::Now();
  absl::Time deadline = absl::FromChrono(context->deadline());
  if (deadline > now + kDefaultPushDeadline) deadline = now + kDefaultPushDeadline;
  ctx.deadline = deadline;
  ctx.cancelled = [context] { return context->IsCancelled(); };
  ctx.on_blob = [&stream](const push::BlobEvent& e) { stream.Blob(e); };
  return ctx;
}

}  // namespace

absl::Status SlipwayService::FillCredentialsFromAuthFile(push::PushTarget& target,
                                                         const std::string& field) const {
  if (options_.registry_auth == nullptr || !target.credentials.empty()) return absl::OkStatus();
  auto found = options_.registry_auth->Lookup(target.registry);
  if (!found.ok()) {
    return absl::Status(found.status().code(),
                        absl::StrCat(field, ": credentials for ", target.registry,
                                     " from the registry auth file: ", found.status().message()));
  }
  if (found->has_value()) target.credentials = **found;
  return absl::OkStatus();
}

absl::StatusOr<ImageRecord> SlipwayService::ResolveGated(const std::string& ref,
                                                         const v1::ScanGate& gate) const {
  auto image = ResolveRef(ref);
  if (!image.ok()) return image.status();
  absl::Status passed = CheckPushGate(*image, gate);
  if (!passed.ok()) return passed;
  return image;
}

grpc::Status SlipwayService::Push(grpc::ServerContext* context, const v1::PushRequest* request,
                                  grpc::ServerWriter<v1::PushProgress>* writer) {
  RpcScope scope("Push", context, metrics_, request_ids_, *log_);
  if (push_engine_ == nullptr) {
    return scope.Finish(absl::UnimplementedError("Push: this server has no push engine"));
  }
  if (!request->has_target()) {
    return scope.Finish(absl::InvalidArgumentError("target: must be set"));
  }
  auto target = FromProto(request->target(), "target");
  if (!target.ok()) return scope.Finish(target.status());
  absl::Status auth = FillCredentialsFromAuthFile(*target, "target");
  if (!auth.ok()) return scope.Finish(auth);
  auto image = ResolveGated(request->ref(), request->gate());
  if (!image.ok()) return scope.Finish(image.status());
  ProgressStream stream(writer);
  push::PushContext ctx = MakeContext(context, stream);
  push::PushOutcome outcome = push_engine_->Push(*image, *target, ctx);
  if (outcome.status.ok() && (request->attach_scan_reports() || options_.attach_reports_on_push)) {
    outcome.status = AttachScanReports(*image, *target, ctx.deadline);
  }
  stream.Done(0, *target, outcome);
  scope.log().info("[req={}] push {} to {}/{}: {} ({} uploaded, {} mounted, {} present, {} bytes)",
                   scope.id(), image->manifest.digest.ToString(), target->registry,
                   target->repository, outcome.status.ok() ? "OK" : outcome.status.ToString(),
                   outcome.blobs_uploaded, outcome.blobs_mounted, outcome.blobs_skipped,
                   outcome.bytes_sent);
  return scope.Finish(outcome.status);
}

grpc::Status SlipwayService::PushMany(grpc::ServerContext* context,
                                      const v1::PushManyRequest* request,
                                      grpc::ServerWriter<v1::PushProgress>* writer) {
  RpcScope scope("PushMany", context, metrics_, request_ids_, *log_);
  if (push_engine_ == nullptr) {
    return scope.Finish(absl::UnimplementedError("PushMany: this server has no push engine"));
  }
  if (request->targets_size() == 0) {
    return scope.Finish(absl::InvalidArgumentError("targets: at least one target is needed"));
  }
  std::vector<push::PushTarget> targets;
  for (int i = 0; i < request->targets_size(); ++i) {
    auto t = FromProto(request->targets(i), absl::StrCat("targets[", i, "]"));
    if (!t.ok()) return scope.Finish(t.status());
    absl::Status auth = FillCredentialsFromAuthFile(*t, absl::StrCat("targets[", i, "]"));
    if (!auth.ok()) return scope.Finish(auth);
    targets.push_back(*std::move(t));
  }
  auto image = ResolveGated(request->ref(), request->gate());
  if (!image.ok()) return scope.Finish(image.status());
  ProgressStream stream(writer);
  push::PushContext ctx = MakeContext(context, stream);
  auto outcomes = push_engine_->PushMany(
      *image, targets, ctx,
      [&](int i, const push::PushOutcome& o) {
        if (o.status.ok() &&
            (request->attach_scan_reports() || options_.attach_reports_on_push)) {
          push::PushOutcome with_reports = o;
          with_reports.status = AttachScanReports(*image, targets[i], ctx.deadline);
          stream.Done(i, targets[i], with_reports);
          return;
        }
        stream.Done(i, targets[i], o);
      });
  int failed = 0;
  for (size_t i = 0; i < outcomes.size(); ++i) {
    if (!outcomes[i].status.ok()) ++failed;
    scope.log().info("[req={}] push {} to {}/{}: {}", scope.id(),
                     image->manifest.digest.ToString(), targets[i].registry,
                     targets[i].repository,
                     outcomes[i].status.ok() ? "OK" : outcomes[i].status.ToString());
  }
  if (context->IsCancelled()) {
    return scope.Finish(absl::CancelledError("PushMany: cancelled by the client"));
  }
  scope.log().info("[req={}] push-many: {} of {} targets OK", scope.id(),
                   outcomes.size() - failed, outcomes.size());
  return scope.Finish(absl::OkStatus());
}

}  // namespace slipway
