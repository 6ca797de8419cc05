#ifndef SLIPWAY_SERVER_PUSH_HOST_LIMITER_H_
#define SLIPWAY_SERVER_PUSH_HOST_LIMITER_H_

#include <functional>
#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"

namespace slipway::push {

// Returns true when the caller should stop waiting (the request was cancelled).
using CancelCheck = std::function<bool()>;

// Counting semaphores per registry host, shared by every push of the process: `upload_slots`
// for blob work (HEAD, mount, upload) and, separately, `manifest_slots` so that a manifest PUT
// never queues behind large uploads. Thread-safe.
class HostLimiter {
 public:
  enum class Kind { kBlob, kManifest };

  // A held slot; released when destroyed.
  class Slot {
   public:
    Slot() = default;
    Slot(Slot&& other) noexcept { *this = std::move(other); }
    Slot& operator=(Slot&& other) noexcept;
    ~Slot() { Release(); }
    void Release();

   private:
    friend class HostLimiter;
    HostLimiter* limiter_ = nullptr;
    std::string host_;
    Kind kind_ = Kind::kBlob;
  };

  HostLimiter(int upload_slots, int manifest_slots);

  // Blocks until a slot of `kind` on `host` is free. CANCELLED when `cancelled` turns true
  // while waiting (checked at least every 100 ms).
  absl::Status Acquire(absl::string_view host, Kind kind, const CancelCheck& cancelled,
                       Slot* slot);

  // Slots of `kind` in use on `host` (tests).
  int InUse(absl::string_view host, Kind kind) const;

 private:
  struct Counts {
    int blob = 0;
    int manifest = 0;
  };
  void Return(const std::string& host, Kind kind);

  const int upload_slots_;
  const int manifest_slots_;
  mutable absl::Mutex mu_;
  absl::flat_hash_map<std::string, Counts> in_use_ ABSL_GUARDED_BY(mu_);
};

// De-duplicates identical blob work: while one caller works on (host, repository, digest),
// others asking for the same key wait and reuse its outcome. Thread-safe.
class UploadSharing {
 public:
  struct Entry {
    absl::Notification done;
    absl::Status status;  // written once before `done` is notified
  };
  // Either the caller owns the key (`*owner` true: it must call Finish) or it gets the entry
  // of the caller working on it, to wait on.
  std::shared_ptr<Entry> Join(const std::string& key, bool* owner);
  void Finish(const std::string& key, const std::shared_ptr<Entry>& entry, absl::Status status);

 private:
  absl::Mutex mu_;
  absl::flat_hash_map<std::string, std::shared_ptr<Entry>> in_flight_ ABSL_GUARDED_BY(mu_);
};

}  // namespace slipway::push

#endif  // SLIPWAY_SERVER_PUSH_HOST_LIMITER_H_
