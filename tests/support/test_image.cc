#include "tests/support/test_image.h"

#include <archive.h>
#include <archive_entry.h>

#include <random>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "storage/archive/gzip_compressor.h"
#include "tests/support/temp_dir.h"

namespace slipway::testing {
namespace {

la_ssize_t AppendToString(struct archive*, void* opaque, const void* buf, size_t n) {
  static_cast<std::string*>(opaque)->append(static_cast<const char*>(buf), n);
  return static_cast<la_ssize_t>(n);
}

std::string Blob(const std::string& layout, const std::string& bytes) {
  Digest d = Sha256Of(bytes);
  WriteFile(layout + "/blobs/sha256/" + d.hex(), bytes);
  return d.ToString();
}

}  // namespace

std::string MakeTar(const std::vector<TarEntry>& entries) {
  std::string out;
  struct archive* a = archive_write_new();
  archive_write_set_format_pax_restricted(a);
  if (archive_write_open(a, &out, nullptr, AppendToString, nullptr) != ARCHIVE_OK) {
    ADD_FAILURE() << "archive_write_open: " << archive_error_string(a);
    std::abort();
  }
  for (const TarEntry& e : entries) {
    struct archive_entry* entry = archive_entry_new();
    archive_entry_set_pathname(entry, e.name.c_str());
    archive_entry_set_mtime(entry, 0, 0);
    archive_entry_set_perm(entry, e.mode);
    switch (e.type) {
      case TarEntry::kFile:
        archive_entry_set_filetype(entry, AE_IFREG);
        archive_entry_set_size(entry, static_cast<la_int64_t>(e.content.size()));
        break;
      case TarEntry::kDir:
        archive_entry_set_filetype(entry, AE_IFDIR);
        archive_entry_set_perm(entry, 0755);
        break;
      case TarEntry::kSymlink:
        archive_entry_set_filetype(entry, AE_IFLNK);
        archive_entry_set_symlink(entry, e.link.c_str());
        break;
      case TarEntry::kHardlink:
        archive_entry_set_filetype(entry, AE_IFREG);
        archive_entry_set_hardlink(entry, e.link.c_str());
        break;
    }
    if (archive_write_header(a, entry) != ARCHIVE_OK) {
      ADD_FAILURE() << "archive_write_header " << e.name << ": " << archive_error_string(a);
    }
    if (e.type == TarEntry::kFile && !e.content.empty()) {
      archive_write_data(a, e.content.data(), e.content.size());
    }
    archive_entry_free(entry);
  }
  archive_write_close(a);
  archive_write_free(a);
  return out;
}

TestImage BuildTestImage(const std::string& dir, const std::string& tag, uint32_t seed) {
  TestImage image;
  image.layout_dir = dir;
  image.tag = tag;
  std::mt19937 rng(seed);

  std::string busybox = ReadFile("/bin/busybox");
  if (busybox.empty()) {
    ADD_FAILURE() << "/bin/busybox is missing (install busybox-static)";
    std::abort();
  }
  std::vector<TarEntry> l1 = {{"bin", "", TarEntry::kDir},
                              {"bin/busybox", busybox, TarEntry::kFile, "", 0755}};
  for (const char* app : {"sh", "ls", "cat", "echo"}) {
    l1.push_back({absl::StrCat("bin/", app), "", TarEntry::kSymlink, "busybox"});
  }
  std::string random(256 << 10, '\0');
  for (char& c : random) c = static_cast<char>(rng());
  std::string text;
  while (text.size() < (512u << 10)) absl::StrAppend(&text, "line ", rng() % 1000, " of seed ", seed, "\n");
  std::vector<TarEntry> l2 = {{"data", "", TarEntry::kDir},
                              {"data/random.bin", random},
                              {"data/text.txt", text},
                              {"etc", "", TarEntry::kDir},
                              {"etc/greeting", absl::StrCat("hello from slipway, seed ", seed, "\n")}};
  std::vector<TarEntry> l3 = {{"etc", "", TarEntry::kDir},
                              {"etc/motd", absl::StrCat("third layer ", seed, "\n")}};
  image.files = {"bin/busybox", "data/random.bin", "data/text.txt", "etc/greeting", "etc/motd"};

  nlohmann::json layers = nlohmann::json::array();
  nlohmann::json diff_ids = nlohmann::json::array();
  for (const auto* entries : {&l1, &l2, &l3}) {
    std::string tar = MakeTar(*entries);
    absl::StatusOr<std::string> gz = GzipCompress(tar, 1);
    if (!gz.ok()) {
      ADD_FAILURE() << gz.status();
      std::abort();
    }
    image.diff_ids.push_back(Sha256Of(tar));
    image.layer_digests.push_back(Sha256Of(*gz));
    image.layer_tars.push_back(tar);
    diff_ids.push_back(Sha256Of(tar).ToString());
    layers.push_back({{"mediaType", "application/vnd.oci.image.layer.v1.tar+gzip"},
                      {"digest", Blob(dir, *gz)},
                      {"size", gz->size()}});
  }
  nlohmann::json config = {
      {"architecture", "amd64"},
      {"os", "linux"},
      {"created", "1970-01-01T00:00:00Z"},
      {"config", {{"Cmd", {"/bin/cat", "/etc/greeting"}}, {"Env", {"PATH=/bin"}}}},
      {"rootfs", {{"type", "layers"}, {"diff_ids", diff_ids}}},
      {"history",
       {{{"created_by", "busybox"}}, {{"created_by", "data"}}, {{"created_by", "motd"}}}}};
  std::string config_bytes = config.dump();
  image.config_digest = Sha256Of(config_bytes);
  nlohmann::json manifest = {
      {"schemaVersion", 2},
      {"mediaType", "application/vnd.oci.image.manifest.v1+json"},
      {"config",
       {{"mediaType", "application/vnd.oci.image.config.v1+json"},
        {"digest", Blob(dir, config_bytes)},
        {"size", config_bytes.size()}}},
      {"layers", layers}};
  std::string manifest_bytes = manifest.dump();
  image.manifest_digest = Sha256Of(manifest_bytes);
  image.manifest_size = static_cast<int64_t>(manifest_bytes.size());
  nlohmann::json index = {
      {"schemaVersion", 2},
      {"mediaType", "application/vnd.oci.image.index.v1+json"},
      {"manifests",
       {{{"mediaType", "application/vnd.oci.image.manifest.v1+json"},
         {"digest", Blob(dir, manifest_bytes)},
         {"size", manifest_bytes.size()},
         {"annotations", {{"org.opencontainers.image.ref.name", tag}}}}}}};
  WriteFile(dir + "/index.json", index.dump());
  WriteFile(dir + "/oci-layout", R"({"imageLayoutVersion":"1.0.0"})");
  return image;
}

}  // namespace slipway::testing
