#ifndef SLIPWAY_SERVER_BUILD_LAYER_LAYER_ENTRY_H_
#define SLIPWAY_SERVER_BUILD_LAYER_LAYER_ENTRY_H_

#include <cstdint>
#include <map>
#include <string>

namespace slipway::build {

enum class EntryType { kFile, kDirectory, kSymlink, kHardlink, kCharDevice, kBlockDevice, kFifo };

// One filesystem entry: what a source tree (build context, an image's filesystem, an extracted
// archive) offers, and what a layer tar is written from.
struct LayerEntry {
  // Relative to the root: no leading "/", no trailing "/", no "." or ".." components,
  // "/"-separated. The root itself is never an entry.
  std::string path;
  EntryType type = EntryType::kFile;
  uint32_t mode = 0644;          // permission bits including setuid/setgid/sticky (07777)
  uint32_t uid = 0, gid = 0;
  int64_t mtime_unix_nanos = 0;
  std::string link_target;       // symlink: target as stored; hard link: path of its target
                                 // entry (relative, same tree/layer)
  int64_t size = 0;              // regular files
  std::string source_path;       // regular files: absolute path the content is read from
                                 // (a store blob, an unpacked layer file, a staged file)
  std::string content_digest;    // "sha256:..." when known (context files): cache keys use it
  std::map<std::string, std::string> xattrs;
  uint32_t dev_major = 0, dev_minor = 0;
};

}  // namespace slipway::build

#endif  // SLIPWAY_SERVER_BUILD_LAYER_LAYER_ENTRY_H_
