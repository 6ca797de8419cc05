#include "tests/builddiff/buildah_store.h"

#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"
#include "storage/status_macros.h"
#include "tests/support/subprocess.h"

namespace slipway::testing {
namespace {

constexpr absl::Duration kBuildahTimeout = absl::Seconds(240);

absl::StatusOr<std::string> Run(const std::vector<std::string>& argv) {
  ProcessResult r = RunProcess(argv, {}, kBuildahTimeout);
  if (r.exit_code != 0) {
    std::string cmd;
    for (const auto& a : argv) absl::StrAppend(&cmd, cmd.empty() ? "" : " ", a);
    return absl::InternalError(absl::StrCat(cmd, " failed (exit ", r.exit_code,
                                            r.timed_out ? ", timed out" : "", "):\n", r.err,
                                            r.out));
  }
  return r.out;
}

}  // namespace

std::vector<std::string> BuildahStore::Command(std::vector<std::string> args) const {
  std::vector<std::string> argv = {"buildah",        "--root", dir_.Sub("root"), "--runroot",
                                   dir_.Sub("runroot"), "--storage-driver", "vfs"};
  argv.insert(argv.end(), args.begin(), args.end());
  return argv;
}

absl::StatusOr<std::unique_ptr<BuildahStore>> BuildahStore::Create(const std::string& base_layout,
                                                                   const std::string& base_tag,
                                                                   const std::string& base_name) {
  std::unique_ptr<BuildahStore> store(new BuildahStore());
  // skopeo names the image directly in the store (`buildah pull oci:DIR` would derive a name
  // from the directory path, which may not be a valid reference).
  std::string dest = absl::StrCat("containers-storage:[vfs@", store->dir_.Sub("root"), "+",
                                  store->dir_.Sub("runroot"), "]", base_name);
  SLIPWAY_RETURN_IF_ERROR(Run({"skopeo", "--insecure-policy", "copy", "-q",
                               "oci:" + base_layout + ":" + base_tag, dest})
                              .status());
  return store;
}

absl::StatusOr<ImageSnapshot> BuildahStore::Build(const BuildRequest& request,
                                                  const std::string& name,
                                                  const std::string& scratch_dir) {
  std::vector<std::string> args = {"build",  "--isolation", "chroot", "--layers",
                                   "--format", "docker",     "-t",     name,
                                   "-f",     request.dockerfile};
  for (const auto& [k, v] : request.build_args) {
    args.push_back("--build-arg");
    args.push_back(k + "=" + v);
  }
  if (!request.target.empty()) {
    args.push_back("--target");
    args.push_back(request.target);
  }
  args.push_back(request.context_dir);
  SLIPWAY_RETURN_IF_ERROR(Run(Command(args)).status());

  std::string layout = scratch_dir + "/buildah-oci";
  SLIPWAY_RETURN_IF_ERROR(Run(Command({"push", "-q", name, "oci:" + layout + ":img"})).status());
  SLIPWAY_ASSIGN_OR_RETURN(ImageSnapshot snap, LoadOciImage(layout, "img", scratch_dir));

  SLIPWAY_ASSIGN_OR_RETURN(std::string inspect, Run(Command({"inspect", "--type", "image", name})));
  nlohmann::json j = nlohmann::json::parse(inspect, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object() || !j.contains("Docker")) {
    return absl::InternalError("buildah inspect printed no Docker config:\n" + inspect);
  }
  SLIPWAY_RETURN_IF_ERROR(ReadImageConfig(j["Docker"].dump(), &snap));
  return snap;
}

}  // namespace slipway::testing
