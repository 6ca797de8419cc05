#ifndef SLIPWAY_TESTS_E2E_E2E_FIXTURE_H_
#define SLIPWAY_TESTS_E2E_E2E_FIXTURE_H_

// Shared by the end-to-end tests that drive the real slipwayd and slipway binaries.

#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/strip.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "tests/support/slipwayd_process.h"
#include "tests/support/subprocess.h"
#include "tests/support/temp_dir.h"

namespace slipway::testing {

inline std::string RepoRoot() {
#ifdef SLIPWAY_SOURCE_DIR
  return SLIPWAY_SOURCE_DIR;  // set by CMake: __FILE__ is relative under ccache
#else
  // tests/e2e/<this file> → the repository root.
  return std::filesystem::path(__FILE__).parent_path().parent_path().parent_path().string();
#endif
}

// An OCI layout made offline by scripts/make-oci-image.sh (tag "v1"); returns its manifest
// digest.
inline std::string MakeOciLayout(const std::string& dir) {
  ProcessResult r = RunProcess({"/bin/bash", RepoRoot() + "/scripts/make-oci-image.sh", dir, "v1"},
                               {}, absl::Seconds(120));
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return std::string(absl::StripAsciiWhitespace(r.out));
}

// The real slipwayd (SLIPWAYD_BIN) with `options`; records a test failure and returns null
// when it does not come up.
inline std::unique_ptr<SlipwaydProcess> StartSlipwayd(SlipwaydOptions options = {}) {
  options.binary = SLIPWAYD_BIN;
  auto p = SlipwaydProcess::Start(options);
  EXPECT_TRUE(p.ok()) << p.status();
  return p.ok() ? *std::move(p) : nullptr;
}

// Starts slipwayd on a temp data dir and socket; Slipway() runs the client against it.
class ClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = StartSlipwayd();
    ASSERT_NE(server_, nullptr);
    env_ = {{"SLIPWAY_ADDR", server_->address()}};
  }

  ProcessResult Slipway(std::vector<std::string> args,
                        const std::map<std::string, std::string>& extra_env = {}) {
    args.insert(args.begin(), SLIPWAY_BIN);
    auto env = env_;
    env.insert(extra_env.begin(), extra_env.end());
    return RunProcess(args, env, absl::Seconds(180));
  }

  TempDir dir_;
  std::unique_ptr<SlipwaydProcess> server_;
  std::map<std::string, std::string> env_;
};

}  // namespace slipway::testing

#endif  // SLIPWAY_TESTS_E2E_E2E_FIXTURE_H_
