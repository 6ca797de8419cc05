#!/usr/bin/env bash
# Long crash-safety campaign (outside the default test run, which does 50 iterations):
# kill -9 slipwayd at random moments during imports, fsck after each, retry the import.
# Usage: scripts/crash-soak.sh [ITERATIONS=500] [MAX_SECONDS=1800]
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build}
cmake --build "$BUILD_DIR" --target slipwayd slipway > /dev/null
exec bash tests/e2e/crash_import_test.sh "$BUILD_DIR/server/slipwayd" "$BUILD_DIR/client/slipway" \
  "${1:-500}" "${2:-1800}"
