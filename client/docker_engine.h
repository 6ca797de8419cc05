#ifndef SLIPWAY_CLIENT_DOCKER_ENGINE_H_
#define SLIPWAY_CLIENT_DOCKER_ENGINE_H_

// Loading an image into a Docker Engine API (dockerd, or podman's compatible service): the
// build-only CI step's BUILDX_LOAD, and `slipway load`. The archive is streamed from its source
// into a chunked POST /images/load; it is never held whole.

#include <cstddef>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "client/connection.h"

namespace slipway::client {

// Docker's own default when DOCKER_HOST is unset.
constexpr char kDefaultDockerSocket[] = "/var/run/docker.sock";

// The engine to talk to: DOCKER_HOST when set and non-empty (returned as given, not probed),
// else "unix://<default_socket>" when that path exists and is a socket, else NOT_FOUND naming
// both. `default_socket` is a parameter only so tests need not touch /var/run.
absl::StatusOr<std::string> ResolveDockerHost(
    const EnvLookup& env, const std::string& default_socket = kDefaultDockerSocket);

// TLS towards a tcp:// engine, as Docker's client reads it from the environment:
//   DOCKER_CERT_PATH   directory holding ca.pem, cert.pem, key.pem; setting it turns TLS on
//   DOCKER_TLS_VERIFY  non-empty: verify the engine's certificate against ca.pem (and turns TLS
//                      on with $HOME/.docker as the cert path when DOCKER_CERT_PATH is unset)
// Files that do not exist are not passed to TLS (a CA-less verify uses the system store).
struct DockerEngineTls {
  bool enabled = false;
  bool verify = false;
  std::string ca_file;    // empty = system store
  std::string cert_file;  // client certificate (PEM), empty = none
  std::string key_file;
};
DockerEngineTls DockerTlsFromEnvironment(const EnvLookup& env);

// Pulls the next bytes of the archive into `buf` (at most `cap`): the count, 0 at the end, or
// an error that aborts the upload and is returned by LoadIntoDockerEngine as is.
using TarReader = std::function<absl::StatusOr<size_t>(char* buf, size_t cap)>;

// POSTs the docker-archive (or OCI archive) produced by `read_tar` to <docker_host>/images/load
// as one chunked upload and reads the engine's answer.
//   docker_host: "unix:///path/to.sock", "tcp://host:port" (port defaults to 2375, or 2376 with
//                TLS) or "http(s)://host:port"; anything else is INVALID_ARGUMENT naming it.
// On success `loaded_message` (if not null) gets the engine's "stream" lines joined, e.g.
// "Loaded image: registry.example.com/app:1" (podman: "Loaded image: <names>").
// Errors, each naming docker_host:
//   UNAVAILABLE  the engine could not be reached or the connection broke / stalled
//   INTERNAL     the engine refused the archive: an HTTP error status or an "error"/"errorDetail"
//                line; the message carries the engine's own message
//   read_tar's own error, unchanged, when the source failed (the upload is aborted).
// Bounded: connecting gives up after 30 s, a transfer with no progress for 10 min is abandoned.
// Thread-compatible: concurrent calls are independent.
absl::Status LoadIntoDockerEngine(const std::string& docker_host, const TarReader& read_tar,
                                  std::string* loaded_message, const DockerEngineTls& tls = {});

// Streams slipwayd's ExportImage of `ref` (docker format, with `repo_tags` in manifest.json;
// empty = the image's own tags) straight into LoadIntoDockerEngine. Errors: the export's
// ("ExportImage: ...", keeping the RPC's code) or the load's, as above.
absl::Status LoadStoredImage(Connection& conn, const std::string& ref,
                             const std::vector<std::string>& repo_tags,
                             const std::string& docker_host, std::string* loaded_message = nullptr,
                             const DockerEngineTls& tls = {});

}  // namespace slipway::client

#endif  // SLIPWAY_CLIENT_DOCKER_ENGINE_H_
