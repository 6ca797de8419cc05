#include "server/push/host_limiter.h"

#include <algorithm>
#include <utility>

#include "absl/time/time.h"

namespace slipway::push {

HostLimiter::Slot& HostLimiter::Slot::operator=(Slot&& other) noexcept {
  if (this != &other) {
    Release();
    limiter_ = std::exchange(other.limiter_, nullptr);
    host_ = std::move(other.host_);
    kind_ = other.kind_;
  }
  return *this;
}

void HostLimiter::Slot::Release() {
  if (limiter_ != nullptr) limiter_->Return(host_, kind_);
  limiter_ = nullptr;
}

HostLimiter::HostLimiter(int upload_slots, int manifest_slots)
    : upload_slots_(std::max(1, upload_slots)), manifest_slots_(std::max(1, manifest_slots)) {}

absl::Status HostLimiter::Acquire(absl::string_view host, Kind kind,
                                  const CancelCheck& cancelled, Slot* slot) {
  const std::string key(host);
  const int limit = kind == Kind::kBlob ? upload_slots_ : manifest_slots_;
  absl::MutexLock lock(&mu_);
  auto free = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    const Counts& c = in_use_[key];
    return (kind == Kind::kBlob ? c.blob : c.manifest) < limit;
  };
  // Wake up now and then to notice a cancellation nobody signals through the mutex.
  while (!mu_.AwaitWithTimeout(absl::Condition(&free), absl::Milliseconds(100))) {
    if (cancelled && cancelled()) {
      return absl::CancelledError("cancelled while waiting for a connection slot to " + key);
    }
  }
  Counts& c = in_use_[key];
  (kind == Kind::kBlob ? c.blob : c.manifest)++;
  slot->Release();
  slot->limiter_ = this;
  slot->host_ = key;
  slot->kind_ = kind;
  return absl::OkStatus();
}

void HostLimiter::Return(const std::string& host, Kind kind) {
  absl::MutexLock lock(&mu_);
  Counts& c = in_use_[host];
  (kind == Kind::kBlob ? c.blob : c.manifest)--;
}

int HostLimiter::InUse(absl::string_view host, Kind kind) const {
  absl::MutexLock lock(&mu_);
  auto it = in_use_.find(std::string(host));
  if (it == in_use_.end()) return 0;
  return kind == Kind::kBlob ? it->second.blob : it->second.manifest;
}

std::shared_ptr<UploadSharing::Entry> UploadSharing::Join(const std::string& key, bool* owner) {
  absl::MutexLock lock(&mu_);
  auto [it, inserted] = in_flight_.try_emplace(key, nullptr);
  if (inserted) it->second = std::make_shared<Entry>();
  *owner = inserted;
  return it->second;
}

void UploadSharing::Finish(const std::string& key, const std::shared_ptr<Entry>& entry,
                           absl::Status status) {
  {
    absl::MutexLock lock(&mu_);
    auto it = in_flight_.find(key);
    if (it != in_flight_.end() && it->second == entry) in_flight_.erase(it);
  }
  entry->status = std::move(status);
  entry->done.Notify();
}

}  // namespace slipway::push
