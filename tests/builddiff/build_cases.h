#ifndef SLIPWAY_TESTS_BUILDDIFF_BUILD_CASES_H_
#define SLIPWAY_TESTS_BUILDDIFF_BUILD_CASES_H_

#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "tests/builddiff/context_writer.h"
#include "tests/builddiff/image_snapshot.h"

namespace slipway::testing {

// The base image every case starts FROM, by the same name for both builders.
inline constexpr char kBaseImageName[] = "localhost/testbase:1";

// One differential case: a build context made programmatically, a Dockerfile (kept outside
// the context and passed with -f), build flags, and the allowances for known buildah
// differences (each one explained where the case is defined).
struct BuildCase {
  std::string name;  // a gtest-safe identifier
  std::function<void(ContextWriter&)> make_context;
  std::string dockerfile;
  std::vector<std::pair<std::string, std::string>> build_args;
  std::string target;
  DiffOptions diff;
  // When set, buildah builds this Dockerfile instead: the same result written without a
  // feature buildah 1.28 lacks (heredocs). The images must still be equal.
  std::string buildah_dockerfile;
};

// The table: the COPY/ADD/metadata cases of build_cases.cc, then the RUN cases of
// run_cases.cc.
const std::vector<BuildCase>& BuildCases();
std::vector<BuildCase> MakeRunCases();

}  // namespace slipway::testing

#endif  // SLIPWAY_TESTS_BUILDDIFF_BUILD_CASES_H_
