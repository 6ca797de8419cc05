#include "client/dir_tar.h"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <memory>
#include <vector>

#include "absl/strings/str_cat.h"

namespace slipway::client {
namespace {

struct WriteState {
  const std::function<absl::Status(absl::string_view)>* emit;
  absl::Status status;
};

la_ssize_t WriteCallback(struct archive*, void* client_data, const void* buffer, size_t length) {
  auto* state = static_cast<WriteState*>(client_data);
  state->status = (*state->emit)(absl::string_view(static_cast<const char*>(buffer), length));
  return state->status.ok() ? static_cast<la_ssize_t>(length) : -1;
}

struct ArchiveDeleter {
  void operator()(struct archive* a) const { archive_write_free(a); }
};
struct EntryDeleter {
  void operator()(struct archive_entry* e) const { archive_entry_free(e); }
};

absl::Status ArchiveError(struct archive* a, const WriteState& state, const std::string& what) {
  if (!state.status.ok()) return state.status;
  return absl::UnavailableError(
      absl::StrCat(what, ": ", archive_error_string(a) ? archive_error_string(a) : "tar error"));
}

}  // namespace

absl::Status TarDirectory(const std::string& dir,
                          const std::function<absl::Status(absl::string_view)>& emit) {
  namespace fs = std::filesystem;
  std::error_code ec;
  std::vector<fs::path> paths;
  for (fs::recursive_directory_iterator it(dir, fs::directory_options::none, ec), end;
       !ec && it != end; it.increment(ec)) {
    paths.push_back(it->path().lexically_relative(dir));
  }
  if (ec) return absl::InvalidArgumentError(absl::StrCat(dir, ": cannot walk: ", ec.message()));
  std::sort(paths.begin(), paths.end());

  WriteState state{&emit, absl::OkStatus()};
  std::unique_ptr<struct archive, ArchiveDeleter> a(archive_write_new());
  archive_write_set_format_pax_restricted(a.get());
  archive_write_set_bytes_per_block(a.get(), 64 * 1024);
  if (archive_write_open(a.get(), &state, nullptr, WriteCallback, nullptr) != ARCHIVE_OK) {
    return ArchiveError(a.get(), state, "tar");
  }
  std::vector<char> buffer(1 << 20);
  for (const auto& rel : paths) {
    std::string full = (fs::path(dir) / rel).string();
    struct stat st;
    if (::lstat(full.c_str(), &st) != 0) {
      return absl::InvalidArgumentError(absl::StrCat(full, ": ", std::strerror(errno)));
    }
    std::unique_ptr<struct archive_entry, EntryDeleter> entry(archive_entry_new());
    std::string name = rel.generic_string();
    archive_entry_set_pathname(entry.get(), name.c_str());
    archive_entry_set_mtime(entry.get(), st.st_mtime, 0);
    archive_entry_set_perm(entry.get(), st.st_mode & 07777);
    std::string target;
    if (S_ISREG(st.st_mode)) {
      archive_entry_set_filetype(entry.get(), AE_IFREG);
      archive_entry_set_size(entry.get(), st.st_size);
    } else if (S_ISDIR(st.st_mode)) {
      archive_entry_set_filetype(entry.get(), AE_IFDIR);
    } else if (S_ISLNK(st.st_mode)) {
      std::vector<char> link(st.st_size > 0 ? st.st_size + 1 : 4096);
      ssize_t n = ::readlink(full.c_str(), link.data(), link.size());
      if (n < 0) return absl::InvalidArgumentError(absl::StrCat(full, ": ", std::strerror(errno)));
      target.assign(link.data(), static_cast<size_t>(n));
      archive_entry_set_filetype(entry.get(), AE_IFLNK);
      archive_entry_set_symlink(entry.get(), target.c_str());
    } else {
      return absl::InvalidArgumentError(
          absl::StrCat(full, ": not a regular file, directory or symlink"));
    }
    if (archive_write_header(a.get(), entry.get()) != ARCHIVE_OK) {
      return ArchiveError(a.get(), state, name);
    }
    if (!S_ISREG(st.st_mode)) continue;
    int fd = ::open(full.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return absl::InvalidArgumentError(absl::StrCat(full, ": ", std::strerror(errno)));
    int64_t left = st.st_size;
    while (left > 0) {
      ssize_t n = ::read(fd, buffer.data(), std::min<int64_t>(left, buffer.size()));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        ::close(fd);
        return absl::InvalidArgumentError(absl::StrCat(
            full, ": ", n == 0 ? "file shrank while being read" : std::strerror(errno)));
      }
      if (archive_write_data(a.get(), buffer.data(), static_cast<size_t>(n)) < 0) {
        ::close(fd);
        return ArchiveError(a.get(), state, name);
      }
      left -= n;
    }
    ::close(fd);
  }
  if (archive_write_close(a.get()) != ARCHIVE_OK) return ArchiveError(a.get(), state, "tar");
  return state.status;
}

}  // namespace slipway::client
