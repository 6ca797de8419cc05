#include "server/build/history_times.h"

#include <algorithm>

namespace slipway::build {

HistoryTimes::HistoryTimes(int64_t now_unix, std::optional<int64_t> source_date_epoch,
                           std::optional<int64_t> base_unix)
    : now_unix_(now_unix), epoch_(source_date_epoch), base_unix_(base_unix) {}

void HistoryTimes::Layer(size_t index, int64_t built_unix) {
  entries_.push_back({index, built_unix > 0 ? built_unix : now_unix_});
}

void HistoryTimes::Metadata(size_t index) { entries_.push_back({index, std::nullopt}); }

int64_t HistoryTimes::Settle(ImageConfig& config) const {
  if (epoch_.has_value()) {
    for (const Entry& e : entries_) config.SetHistoryCreated(e.index, Rfc3339(*epoch_));
    return *epoch_;
  }
  // Before any layer of this stage: the base's time, else the stage's first layer's, else now.
  std::optional<int64_t> first_layer;
  for (const Entry& e : entries_) {
    if (e.layer_unix.has_value()) {
      first_layer = e.layer_unix;
      break;
    }
  }
  int64_t latest_layer = base_unix_.value_or(first_layer.value_or(now_unix_));
  int64_t image = base_unix_.value_or(0);
  for (const Entry& e : entries_) {
    if (e.layer_unix.has_value()) latest_layer = *e.layer_unix;
    config.SetHistoryCreated(e.index, Rfc3339(latest_layer));
    image = std::max(image, latest_layer);
  }
  return image > 0 ? image : now_unix_;
}

}  // namespace slipway::build
