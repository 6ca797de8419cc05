// slipway load: an image from slipwayd's store into a Docker Engine API.
#include <cstdlib>
#include <iostream>
#include <optional>

#include "client/commands.h"
#include "client/docker_engine.h"

namespace slipway::client {

int RunLoad(Connection& conn, const std::vector<std::string>& raw) {
  Args args = SplitArgs(raw, {"--docker-host", "--tag", "-t"}, {});
  if (!args.error.empty()) return Usage("load: " + args.error);
  if (args.positional.size() != 1) return Usage("load: want exactly one REF");
  std::string docker_host;
  std::vector<std::string> tags;
  for (const auto& [name, value] : args.flags) {
    if (name == "--docker-host") docker_host = value;
    if (name == "--tag" || name == "-t") tags.push_back(value);
  }
  EnvLookup env = [](const std::string& name) -> std::optional<std::string> {
    const char* v = std::getenv(name.c_str());
    if (v == nullptr) return std::nullopt;
    return std::string(v);
  };
  if (docker_host.empty()) {
    absl::StatusOr<std::string> resolved = ResolveDockerHost(env);
    if (!resolved.ok()) return Fail("load", std::string(resolved.status().message()));
    docker_host = *resolved;
  }
  std::string message;
  absl::Status status = LoadStoredImage(conn, args.positional[0], tags, docker_host, &message,
                                        DockerTlsFromEnvironment(env));
  if (!status.ok()) return Fail("load", std::string(status.message()));
  std::cout << (message.empty() ? "loaded " + args.positional[0] : message) << "\n";
  return kExitOk;
}

}  // namespace slipway::client
