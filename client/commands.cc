#include "client/commands.h"

#include <fcntl.h>
#include <google/protobuf/util/json_util.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <iostream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/time.h"
#include "client/dir_tar.h"
#include "client/export_stream.h"
#include "storage/image_name.h"

namespace slipway::client {
namespace {

constexpr size_t kChunkBytes = 1 << 20;
constexpr int kShortCallSeconds = 120;

}  // namespace

int Fail(const std::string& what, const std::string& message) {
  std::cerr << "slipway: " << what << ": " << message << "\n";
  return kExitFailed;
}

int FailRpc(const std::string& rpc, const grpc::Status& status) {
  return Fail(rpc, status.error_message().empty() ? "failed" : status.error_message());
}

Args SplitArgs(const std::vector<std::string>& args, const std::vector<std::string>& value_flags,
               const std::vector<std::string>& bool_flags) {
  Args out;
  auto in = [](const std::vector<std::string>& v, const std::string& s) {
    for (const auto& x : v) {
      if (x == s) return true;
    }
    return false;
  };
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a.size() > 1 && a[0] == '-' && a != "-") {
      std::string name = a;
      std::string value;
      bool has_value = false;
      if (auto eq = name.find('='); eq != std::string::npos) {
        value = name.substr(eq + 1);
        name = name.substr(0, eq);
        has_value = true;
      }
      if (in(bool_flags, name)) {
        out.flags.emplace_back(name, "true");
      } else if (in(value_flags, name)) {
        if (!has_value) {
          if (i + 1 >= args.size()) {
            out.error = "flag " + name + " needs a value";
            return out;
          }
          value = args[++i];
        }
        out.flags.emplace_back(name, value);
      } else {
        out.error = "unknown flag " + name;
        return out;
      }
    } else {
      out.positional.push_back(a);
    }
  }
  return out;
}

std::string HumanSize(int64_t bytes) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double v = static_cast<double>(bytes);
  int u = 0;
  while (v >= 1024 && u < 4) {
    v /= 1024;
    ++u;
  }
  return u == 0 ? absl::StrCat(bytes, " B") : absl::StrFormat("%.1f %s", v, units[u]);
}

std::string ShortDigest(const std::string& digest) {
  auto colon = digest.find(':');
  return colon == std::string::npos ? digest : digest.substr(colon + 1, 12);
}

int Usage(const std::string& message) {
  std::cerr << "slipway: " << message << "\n";
  return kExitUsage;
}

int RunImport(Connection& conn, const std::vector<std::string>& raw) {
  Args args = SplitArgs(raw, {"--tag", "-t", "--select"}, {"--ignore-archive-tags"});
  if (!args.error.empty()) return Usage("import: " + args.error);
  if (args.positional.size() != 1) return Usage("import: want exactly one FILE or DIR");
  const std::string& path = args.positional[0];
  v1::ImportImageRequest first;
  for (const auto& [name, value] : args.flags) {
    if (name == "--tag" || name == "-t") first.mutable_options()->add_tags(value);
    if (name == "--select") first.mutable_options()->set_select_tag(value);
    if (name == "--ignore-archive-tags") first.mutable_options()->set_ignore_archive_tags(true);
  }
  first.mutable_options();  // present even without tags

  std::error_code ec;
  bool is_dir = path != "-" && std::filesystem::is_directory(path, ec);
  int fd = -1;
  if (!is_dir) {
    fd = path == "-" ? 0 : ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return Fail("import", absl::StrCat(path, ": ", std::strerror(errno)));
  }

  auto ctx = conn.NewContext();
  v1::ImportImageResponse response;
  auto writer = conn.stub().ImportImage(ctx.get(), &response);
  bool stream_ok = writer->Write(first);
  absl::Status local;
  v1::ImportImageRequest msg;
  if (stream_ok && is_dir) {
    std::string pending;
    auto send = [&](absl::string_view data) -> absl::Status {
      pending.append(data.data(), data.size());
      if (pending.size() >= kChunkBytes) {
        msg.set_data(pending);
        pending.clear();
        if (!writer->Write(msg)) return absl::UnavailableError("the server closed the stream");
      }
      return absl::OkStatus();
    };
    local = TarDirectory(path, send);
    if (local.ok() && !pending.empty()) {
      msg.set_data(pending);
      if (!writer->Write(msg)) local = absl::UnavailableError("the server closed the stream");
    }
  } else if (stream_ok) {
    std::string buffer(kChunkBytes, '\0');
    for (;;) {
      ssize_t n = ::read(fd, buffer.data(), buffer.size());
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        local = absl::UnavailableError(absl::StrCat(path, ": ", std::strerror(errno)));
        break;
      }
      if (n == 0) break;
      msg.set_data(buffer.data(), static_cast<size_t>(n));
      if (!writer->Write(msg)) break;  // the server answered early; Finish tells why
    }
  }
  if (fd > 0) ::close(fd);
  if (!local.ok() && local.code() != absl::StatusCode::kUnavailable) {
    ctx->TryCancel();
    writer->Finish();
    return Fail("import", std::string(local.message()));
  }
  writer->WritesDone();
  grpc::Status status = writer->Finish();
  if (!status.ok()) return FailRpc("ImportImage", status);
  if (!local.ok()) return Fail("import", std::string(local.message()));
  const auto& image = response.image();
  std::cout << "imported " << image.manifest().digest() << " ("
            << HumanSize(response.bytes_received()) << " received, " << response.blobs_stored()
            << " new blobs, " << response.blobs_present() << " already stored)\n";
  for (const auto& tag : image.tags()) std::cout << "tagged " << tag << "\n";
  return kExitOk;
}

int RunExport(Connection& conn, const std::vector<std::string>& raw) {
  Args args = SplitArgs(raw, {"-o", "--output", "--format"}, {});
  if (!args.error.empty()) return Usage("export: " + args.error);
  if (args.positional.size() != 1) return Usage("export: want exactly one REF");
  std::string output;
  v1::ExportImageRequest request;
  request.set_ref(args.positional[0]);
  for (const auto& [name, value] : args.flags) {
    if (name == "-o" || name == "--output") output = value;
    if (name == "--format") {
      if (value == "docker") {
        request.set_format(v1::DOCKER_COMBINED);
      } else if (value == "docker-legacy") {
        request.set_format(v1::DOCKER_LEGACY);
      } else if (value == "oci") {
        request.set_format(v1::OCI_ARCHIVE);
      } else {
        return Usage("export: --format must be docker, docker-legacy or oci, not \"" + value +
                     "\"");
      }
    }
  }
  if (output.empty()) return Usage("export: -o FILE is required (-o - for stdout)");

  int fd = 1;
  std::string temp;
  if (output != "-") {
    std::filesystem::path out_path(output);
    std::error_code ec;
    if (out_path.has_parent_path()) std::filesystem::create_directories(out_path.parent_path(), ec);
    if (ec)
      return Fail("export", absl::StrCat(out_path.parent_path().string(), ": ", ec.message()));
    temp = output + ".tmp-XXXXXX";
    fd = ::mkstemp(temp.data());
    if (fd < 0) return Fail("export", absl::StrCat(temp, ": ", std::strerror(errno)));
    ::fchmod(fd, 0644);
  }
  auto cleanup = [&] {
    if (!temp.empty()) {
      ::close(fd);
      ::unlink(temp.c_str());
    }
  };

  ExportStream stream(conn, request);
  std::string local_error;
  absl::Status rpc_status;
  while (local_error.empty()) {
    absl::StatusOr<absl::string_view> data = stream.Next();
    if (!data.ok()) {
      rpc_status = data.status();
      break;
    }
    if (data->empty()) break;
    size_t off = 0;
    while (off < data->size()) {
      ssize_t n = ::write(fd, data->data() + off, data->size() - off);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        local_error = absl::StrCat(temp.empty() ? "stdout" : output, ": ", std::strerror(errno));
        break;
      }
      off += static_cast<size_t>(n);
    }
  }
  if (!local_error.empty()) {
    stream.Cancel();
    cleanup();
    return Fail("export", local_error);
  }
  if (!rpc_status.ok()) {
    cleanup();
    // ExportStream's message already reads "ExportImage: <server message>".
    std::cerr << "slipway: " << rpc_status.message() << "\n";
    return kExitFailed;
  }
  if (!temp.empty()) {
    if (::fsync(fd) != 0 || ::close(fd) != 0) {
      ::unlink(temp.c_str());
      return Fail("export", absl::StrCat(output, ": ", std::strerror(errno)));
    }
    if (::rename(temp.c_str(), output.c_str()) != 0) {
      int err = errno;
      ::unlink(temp.c_str());
      return Fail("export", absl::StrCat(output, ": ", std::strerror(err)));
    }
  }
  return kExitOk;
}

int RunImages(Connection& conn, const std::vector<std::string>& raw) {
  Args args = SplitArgs(raw, {}, {"--json"});
  if (!args.error.empty()) return Usage("images: " + args.error);
  if (!args.positional.empty()) return Usage("images: takes no arguments");
  bool json = !args.flags.empty();
  auto ctx = conn.NewContext(kShortCallSeconds);
  v1::ListImagesResponse response;
  grpc::Status status = conn.stub().ListImages(ctx.get(), v1::ListImagesRequest(), &response);
  if (!status.ok()) return FailRpc("ListImages", status);
  if (json) {
    std::string out;
    google::protobuf::util::JsonPrintOptions options;
    options.add_whitespace = true;
    options.preserve_proto_field_names = true;
    auto s = google::protobuf::util::MessageToJsonString(response, &out, options);
    if (!s.ok()) return Fail("images", "cannot render JSON");
    std::cout << out;
    if (out.empty() || out.back() != '\n') std::cout << "\n";
    return kExitOk;
  }
  std::cout << absl::StrFormat("%-50s %-14s %-12s %s\n", "TAG", "DIGEST", "SIZE", "CREATED");
  for (const auto& image : response.images()) {
    std::string created = absl::FormatTime(
        "%Y-%m-%d %H:%M:%S", absl::FromUnixSeconds(image.created_unix()), absl::UTCTimeZone());
    std::string digest = ShortDigest(image.manifest().digest());
    if (image.tags().empty()) {
      std::cout << absl::StrFormat("%-50s %-14s %-12s %s\n", "<none>", digest,
                                   HumanSize(image.total_size()), created);
    }
    for (const auto& tag : image.tags()) {
      // The short form Docker users know ("alpine:latest"); --json keeps the stored form.
      std::cout << absl::StrFormat("%-50s %-14s %-12s %s\n", FamiliarTag(tag), digest,
                                   HumanSize(image.total_size()), created);
    }
  }
  return kExitOk;
}

int RunTag(Connection& conn, const std::vector<std::string>& raw) {
  Args args = SplitArgs(raw, {}, {});
  if (!args.error.empty()) return Usage("tag: " + args.error);
  if (args.positional.size() != 2) return Usage("tag: want REF TAG");
  v1::TagImageRequest request;
  request.set_ref(args.positional[0]);
  request.set_tag(args.positional[1]);
  auto ctx = conn.NewContext(kShortCallSeconds);
  v1::Image image;
  grpc::Status status = conn.stub().TagImage(ctx.get(), request, &image);
  if (!status.ok()) return FailRpc("TagImage", status);
  std::cout << "tagged " << image.manifest().digest() << " as " << args.positional[1] << "\n";
  return kExitOk;
}

int RunRm(Connection& conn, const std::vector<std::string>& raw) {
  Args args = SplitArgs(raw, {}, {});
  if (!args.error.empty()) return Usage("rm: " + args.error);
  if (args.positional.empty()) return Usage("rm: want at least one REF");
  int rc = kExitOk;
  for (const auto& ref : args.positional) {
    v1::DeleteImageRequest request;
    request.set_ref(ref);
    auto ctx = conn.NewContext(kShortCallSeconds);
    v1::DeleteImageResponse response;
    grpc::Status status = conn.stub().DeleteImage(ctx.get(), request, &response);
    if (!status.ok()) {
      rc = FailRpc("DeleteImage", status);
      continue;
    }
    for (const auto& tag : response.untagged()) std::cout << "untagged " << tag << "\n";
    if (!response.deleted_digest().empty())
      std::cout << "deleted " << response.deleted_digest() << "\n";
  }
  return rc;
}

int RunGc(Connection& conn, const std::vector<std::string>& raw) {
  Args args = SplitArgs(raw, {"--grace"}, {"--dry-run"});
  if (!args.error.empty()) return Usage("gc: " + args.error);
  if (!args.positional.empty()) return Usage("gc: takes no arguments");
  v1::GarbageCollectRequest request;
  request.set_grace_period_seconds(-1);
  for (const auto& [name, value] : args.flags) {
    if (name == "--dry-run") request.set_dry_run(true);
    if (name == "--grace") {
      absl::Duration d;
      if (!absl::ParseDuration(value, &d) || d < absl::ZeroDuration()) {
        return Usage("gc: --grace wants a duration such as 0s, 30m or 2h");
      }
      request.set_grace_period_seconds(absl::ToInt64Seconds(d));
    }
  }
  auto ctx = conn.NewContext();
  v1::GarbageCollectResponse response;
  grpc::Status status = conn.stub().GarbageCollect(ctx.get(), request, &response);
  if (!status.ok()) return FailRpc("GarbageCollect", status);
  std::cout << (request.dry_run() ? "would remove " : "removed ") << response.blobs_removed()
            << " blobs (" << HumanSize(response.bytes_removed()) << "), evicted "
            << response.blobs_evicted_for_quota() << " for quota; "
            << HumanSize(response.bytes_in_use()) << " in use\n";
  return kExitOk;
}

}  // namespace slipway::client
