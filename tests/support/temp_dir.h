#ifndef SLIPWAY_TESTS_SUPPORT_TEMP_DIR_H_
#define SLIPWAY_TESTS_SUPPORT_TEMP_DIR_H_

#include <string>

namespace slipway::testing {

// A fresh directory under $TMPDIR (or /tmp), removed recursively when destroyed.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  // path() + "/" + name
  std::string Sub(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// Writes `content` to `path`, creating parent directories; aborts the test on failure.
void WriteFile(const std::string& path, const std::string& content);
std::string ReadFile(const std::string& path);

}  // namespace slipway::testing

#endif  // SLIPWAY_TESTS_SUPPORT_TEMP_DIR_H_
