#include "client/step/step_main.h"

#include <unistd.h>

#include <iostream>

#include "client/commands.h"
#include "client/step/step_runner.h"

namespace slipway::client::step {

int RunStepMain(const EnvLookup& env, const std::vector<std::string>& names,
                const std::vector<std::string>& args) {
  PreparedStep prepared = PrepareStep(env, names, args, std::cout, std::cerr);
  if (!prepared.settings) return prepared.exit_code;
  auto connection = SettingsFromEnvironment(env, geteuid() == 0);
  if (!connection.ok()) {
    std::cerr << "slipway: " << connection.status().message() << "\n";
    return kExitFailed;
  }
  auto conn = Connection::Open(*connection);
  if (!conn.ok()) {
    std::cerr << "slipway: " << conn.status().message() << "\n";
    return kExitFailed;
  }
  return RunStep(**conn, *prepared.settings, std::cout, std::cerr);
}

}  // namespace slipway::client::step
