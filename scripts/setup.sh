#!/usr/bin/env bash
# Installs exactly the Debian 12 packages Slipway needs to build, test and run its demo.
# Idempotent: packages already present are skipped without touching apt's lists.
set -euo pipefail

BUILD_PACKAGES=(
  build-essential cmake ninja-build pkg-config
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  libabsl-dev libspdlog-dev prometheus-cpp-dev libsqlite3-dev
  libgtest-dev libgmock-dev libcurl4-openssl-dev libssl-dev
  nlohmann-json3-dev zlib1g-dev libzstd-dev libisal-dev libdeflate-dev libarchive-dev
)
# Independent verifiers and peers used by tests and benchmarks (podman serves the Docker Engine
# API that `slipway load` is tested against).
TEST_PACKAGES=(skopeo umoci buildah docker-registry apache2-utils pigz jq openssl busybox-static time curl bzip2 xz-utils zstd runc
  podman)

missing=()
for p in "${BUILD_PACKAGES[@]}" "${TEST_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
  # docker-registry's package starts a system instance; tests run their own on ephemeral ports.
  if command -v systemctl >/dev/null 2>&1; then systemctl disable --now docker-registry >/dev/null 2>&1 || true; fi
fi
