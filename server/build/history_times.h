#ifndef SLIPWAY_SERVER_BUILD_HISTORY_TIMES_H_
#define SLIPWAY_SERVER_BUILD_HISTORY_TIMES_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

#include "server/build/image_config.h"

namespace slipway::build {

// The times a stage's new history entries and its image carry, chosen so that a rebuild whose
// every layer step hits the cache makes the very same image (same config, same digest), as
// BuildKit and buildah do:
//   - a layer step carries the time its layer was first built (kept with the cache entry);
//   - a metadata step (ENV, LABEL, CMD, ...) the time of the latest layer before it: a layer
//     step of this stage, else the base image's time; at the start of a FROM scratch stage,
//     the first layer step after it; a stage with no time at all takes the build's time;
//   - the image the latest of all of them.
// With SOURCE_DATE_EPOCH every time is that epoch. Not thread-safe (one per stage).
class HistoryTimes {
 public:
  // `now_unix`: the build's start; `base_unix`: the base image's `created` (none for scratch
  // or when the base has none).
  HistoryTimes(int64_t now_unix, std::optional<int64_t> source_date_epoch,
               std::optional<int64_t> base_unix);

  // History entry `index` (as returned by ImageConfig::AddHistory) made a layer built at
  // `built_unix` (0: unknown, e.g. a cache entry from before times were kept → now).
  void Layer(size_t index, int64_t built_unix);
  // History entry `index` changed metadata only.
  void Metadata(size_t index);

  // Writes every recorded entry's time into `config`'s history; returns the image's time.
  int64_t Settle(ImageConfig& config) const;

 private:
  struct Entry {
    size_t index;
    std::optional<int64_t> layer_unix;  // none for metadata steps
  };
  const int64_t now_unix_;
  const std::optional<int64_t> epoch_;
  const std::optional<int64_t> base_unix_;
  std::vector<Entry> entries_;
};

}  // namespace slipway::build

#endif  // SLIPWAY_SERVER_BUILD_HISTORY_TIMES_H_
