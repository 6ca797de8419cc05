#ifndef SLIPWAY_STORAGE_DESCRIPTOR_H_
#define SLIPWAY_STORAGE_DESCRIPTOR_H_

#include <cstdint>
#include <map>
#include <string>

#include "storage/digest.h"

namespace slipway {

// What a manifest says of a piece of content: its type, digest and size travel together.
struct Descriptor {
  std::string media_type;
  Digest digest;
  int64_t size = 0;
  std::map<std::string, std::string> annotations;
};

}  // namespace slipway

#endif  // SLIPWAY_STORAGE_DESCRIPTOR_H_
