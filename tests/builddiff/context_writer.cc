#include "tests/builddiff/context_writer.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <random>

#include "gtest/gtest.h"
#include "tests/support/run_command.h"

namespace slipway::testing {

void ContextWriter::Parents(const std::string& rel) {
  std::error_code ec;
  std::filesystem::create_directories(std::filesystem::path(Path(rel)).parent_path(), ec);
  if (ec) ADD_FAILURE() << "mkdir -p parent of " << Path(rel) << ": " << ec.message();
}

void ContextWriter::File(const std::string& rel, const std::string& content, mode_t mode,
                         uid_t uid, gid_t gid) {
  Parents(rel);
  std::string p = Path(rel);
  int fd = ::open(p.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) {
    ADD_FAILURE() << "create " << p << ": " << std::strerror(errno);
    return;
  }
  size_t done = 0;
  while (done < content.size()) {
    ssize_t n = ::write(fd, content.data() + done, content.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      ADD_FAILURE() << "write " << p << ": " << std::strerror(errno);
      break;
    }
    done += static_cast<size_t>(n);
  }
  ::close(fd);
  if (::lchown(p.c_str(), uid, gid) != 0) ADD_FAILURE() << "chown " << p << ": " << std::strerror(errno);
  if (::chmod(p.c_str(), mode) != 0) ADD_FAILURE() << "chmod " << p << ": " << std::strerror(errno);
}

void ContextWriter::Dir(const std::string& rel, mode_t mode, uid_t uid, gid_t gid) {
  Parents(rel);
  std::string p = Path(rel);
  if (::mkdir(p.c_str(), 0755) != 0 && errno != EEXIST) {
    ADD_FAILURE() << "mkdir " << p << ": " << std::strerror(errno);
    return;
  }
  if (::lchown(p.c_str(), uid, gid) != 0) ADD_FAILURE() << "chown " << p << ": " << std::strerror(errno);
  if (::chmod(p.c_str(), mode) != 0) ADD_FAILURE() << "chmod " << p << ": " << std::strerror(errno);
}

void ContextWriter::Symlink(const std::string& rel, const std::string& target) {
  Parents(rel);
  if (::symlink(target.c_str(), Path(rel).c_str()) != 0) {
    ADD_FAILURE() << "symlink " << Path(rel) << ": " << std::strerror(errno);
  }
}

void ContextWriter::Hardlink(const std::string& rel, const std::string& existing_rel) {
  Parents(rel);
  if (::link(Path(existing_rel).c_str(), Path(rel).c_str()) != 0) {
    ADD_FAILURE() << "link " << Path(rel) << ": " << std::strerror(errno);
  }
}

void ContextWriter::Tar(const std::string& archive_rel, const std::string& from_rel,
                        const std::string& compress) {
  Parents(archive_rel);
  CommandResult r = RunCommand("tar --numeric-owner --sort=name -c" + compress + "f " +
                               ShellQuote(Path(archive_rel)) + " -C " + ShellQuote(Path(from_rel)) +
                               " .");
  if (r.exit_code != 0) ADD_FAILURE() << "tar " << archive_rel << ": " << r.output;
}

void ContextWriter::Remove(const std::string& rel) {
  std::error_code ec;
  std::filesystem::remove_all(Path(rel), ec);
  if (ec) ADD_FAILURE() << "rm -r " << Path(rel) << ": " << ec.message();
}

std::string PseudoRandomBytes(size_t n, uint32_t seed) {
  std::mt19937 gen(seed);
  std::string out(n, '\0');
  for (size_t i = 0; i < n; ++i) out[i] = static_cast<char>(gen() & 0xff);
  return out;
}

}  // namespace slipway::testing
