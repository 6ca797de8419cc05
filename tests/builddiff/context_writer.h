#ifndef SLIPWAY_TESTS_BUILDDIFF_CONTEXT_WRITER_H_
#define SLIPWAY_TESTS_BUILDDIFF_CONTEXT_WRITER_H_

#include <sys/types.h>

#include <string>

namespace slipway::testing {

// Creates build-context entries that git cannot store (owners, setuid, hard links, dangling
// symlinks) under a root directory. Paths are relative to the root; parents are created 0755.
// Every failure is recorded as a gtest failure naming the path (test code only, must run as
// root for owners). Not thread-safe.
class ContextWriter {
 public:
  explicit ContextWriter(std::string root) : root_(std::move(root)) {}
  const std::string& root() const { return root_; }

  // Owner is set before the mode, so setuid/setgid survive (chown clears them).
  void File(const std::string& rel, const std::string& content, mode_t mode = 0644,
            uid_t uid = 0, gid_t gid = 0);
  void Dir(const std::string& rel, mode_t mode = 0755, uid_t uid = 0, gid_t gid = 0);
  void Symlink(const std::string& rel, const std::string& target);
  void Hardlink(const std::string& rel, const std::string& existing_rel);
  // Tars the directory `from_rel` (contents, owners kept) into `archive_rel` with GNU tar;
  // `compress` is "z" (gzip) or "J" (xz).
  void Tar(const std::string& archive_rel, const std::string& from_rel, const std::string& compress);
  // Removes `rel` recursively (e.g. an archive's staging directory).
  void Remove(const std::string& rel);

 private:
  std::string Path(const std::string& rel) const { return root_ + "/" + rel; }
  void Parents(const std::string& rel);
  std::string root_;
};

// Deterministic pseudo-random bytes (for binary file contents).
std::string PseudoRandomBytes(size_t n, uint32_t seed);

}  // namespace slipway::testing

#endif  // SLIPWAY_TESTS_BUILDDIFF_CONTEXT_WRITER_H_
