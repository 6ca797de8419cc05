#ifndef SLIPWAY_SERVER_BUILD_DOCKERFILE_STAGES_H_
#define SLIPWAY_SERVER_BUILD_DOCKERFILE_STAGES_H_

#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "server/build/dockerfile/instruction.h"
#include "server/build/dockerfile/parser.h"
#include "server/build/dockerfile/variable_expander.h"

namespace slipway::build {

// One `FROM ... [AS name]` and the instructions that follow it.
struct StageDefinition {
  int index = 0;
  std::string name;      // `AS name`, lower-cased; empty when unnamed
  std::string base;      // the FROM image after expansion with the global ARGs: "scratch", an
                         // earlier stage's name, or an image reference
  std::string platform;  // --platform after expansion ("" = the build's platform)
  int line = 0;
  std::vector<Instruction> instructions;  // everything after FROM, unexpanded
};

// Values of the automatic platform ARGs (BUILDPLATFORM, TARGETPLATFORM, TARGETOS, TARGETARCH,
// TARGETVARIANT, BUILDOS, BUILDARCH, BUILDVARIANT).
struct PlatformArgs {
  std::string build_os = "linux", build_arch = "amd64", build_variant;
  std::string target_os = "linux", target_arch = "amd64", target_variant;
};

struct StagePlan {
  std::vector<StageDefinition> stages;
  // ARGs declared before the first FROM with their values (build arg overrides default).
  std::map<std::string, std::optional<std::string>> global_args;
  std::map<std::string, std::string> build_args;  // as requested
  PlatformArgs platform;
};

// Splits a parsed Dockerfile into stages and expands each FROM with the global ARGs (Docker's
// scoping: only ARGs declared before the first FROM, plus the automatic platform ARGs).
// INVALID_ARGUMENT "<file>:<line>: ..." for a duplicate stage name, a FROM without an image, a
// stage name that is not [a-z][a-z0-9-_\.]*.
absl::StatusOr<StagePlan> PlanStages(const ParsedDockerfile& dockerfile,
                                     const std::map<std::string, std::string>& build_args,
                                     const PlatformArgs& platform = {});

// The variables inside one stage: ARGs declared in the stage (a global ARG only once
// re-declared, with its global value unless a build arg overrides it), the automatic platform
// ARGs once declared, and the environment (the base image's Env, then ENV instructions). ENV
// wins over an ARG of the same name. Not thread-safe.
class StageScope {
 public:
  StageScope(const StagePlan& plan, std::vector<std::string> base_env /* "K=V" */);

  // `ARG name[=default]`: the value is the build arg if given, else `default_value`, else the
  // global ARG's value, else unset.
  void DeclareArg(const std::string& name, const std::optional<std::string>& default_value);
  void SetEnv(const std::string& name, const std::string& value);

  std::optional<std::string> Lookup(absl::string_view name) const;
  VariableLookup Lookup() const;  // a callable over this scope (valid while *this lives)

  // ARGs declared so far with a value, sorted by name (cache keys; RUN's environment). Docker's
  // predefined proxy ARGs (HTTP_PROXY, ...) are only here once declared.
  std::vector<std::pair<std::string, std::string>> ArgsInScope() const;
  // The image config's Env, "K=V", in first-set order.
  std::vector<std::string> Env() const;
  // Build args nobody declared anywhere (for the "unused build args" warning): not a global ARG
  // and not declared in this scope or any of `all`; the predefined proxy ARGs never count.
  std::vector<std::string> UnusedBuildArgs(const std::vector<const StageScope*>& all) const;

 private:
  const StagePlan* plan_;
  std::vector<std::pair<std::string, std::string>> env_;
  std::map<std::string, std::optional<std::string>> args_;
};

}  // namespace slipway::build

#endif  // SLIPWAY_SERVER_BUILD_DOCKERFILE_STAGES_H_
