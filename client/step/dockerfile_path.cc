#include "client/step/dockerfile_path.h"

#include <sys/stat.h>

#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"

namespace slipway::client {
namespace {

// A Dockerfile candidate is anything stat() follows to a non-directory; reading it later
// reports the precise error (permissions, a FIFO, ...).
bool IsFileAt(const std::string& working_dir, const std::string& path) {
  const std::string full = path.front() == '/' ? path : absl::StrCat(working_dir, "/", path);
  struct stat st;
  return ::stat(full.c_str(), &st) == 0 && !S_ISDIR(st.st_mode);
}

}  // namespace

absl::StatusOr<std::string> ResolveStepDockerfile(const std::string& dockerfile,
                                                  const std::string& context,
                                                  const std::string& working_dir) {
  const std::string given = dockerfile.empty() ? "Dockerfile" : dockerfile;
  if (given.front() == '/') {
    if (IsFileAt(working_dir, given)) return given;
    return absl::NotFoundError(absl::StrCat("PLUGIN_DOCKERFILE: ", given, " does not exist"));
  }
  std::vector<std::string> tried = {given};
  std::string in_context = given;
  const std::string context_dir(absl::StripSuffix(context.empty() ? "." : context, "/"));
  if (context_dir != ".") {
    in_context = absl::StrCat(context_dir, "/", given);
    tried.push_back(in_context);
  }
  for (const auto& candidate : tried) {
    if (IsFileAt(working_dir, candidate)) return candidate;
  }
  return absl::NotFoundError(absl::StrCat("PLUGIN_DOCKERFILE: no ", given, " (looked for ",
                                          absl::StrJoin(tried, " and "), " in ", working_dir,
                                          ")"));
}

}  // namespace slipway::client
