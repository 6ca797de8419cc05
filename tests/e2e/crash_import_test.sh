#!/usr/bin/env bash
# Crash safety: kill -9 the real slipwayd at random moments during imports, then check that
# `slipwayd fsck` finds the store clean (no partial blob visible, index consistent) and that the
# import succeeds when retried. Usage:
#   crash_import_test.sh SLIPWAYD SLIPWAY [ITERATIONS] [MAX_SECONDS]
# ctest runs 50 iterations; scripts/crash-soak.sh runs a longer campaign.
set -euo pipefail
slipwayd=${1:?slipwayd binary}
slipway=${2:?slipway binary}
iterations=${3:-50}
max_seconds=${4:-240}

work=$(mktemp -d "${TMPDIR:-/tmp}/slipway-crash-XXXXXX")
daemon_pid=""
cleanup() {
  if [ -n "$daemon_pid" ]; then kill -9 "$daemon_pid" 2>/dev/null || true; wait "$daemon_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

here=$(cd "$(dirname "$0")/../.." && pwd)
TMPDIR="$work" bash "$here/scripts/make-docker-archive.sh" "$work/image.tar" 16 crash/test:1 > /dev/null
data="$work/data"
sock="$work/slipway.sock"
export SLIPWAY_ADDR="unix://$sock"

start_daemon() {
  "$slipwayd" --data-dir "$data" --listen "unix://$sock" --metrics-listen "" \
    --log-level warn >> "$work/slipwayd.log" 2>&1 &
  daemon_pid=$!
  for _ in $(seq 1 200); do  # up to 10 s
    if "$slipway" images > /dev/null 2>&1; then return 0; fi
    if ! kill -0 "$daemon_pid" 2>/dev/null; then break; fi
    sleep 0.05
  done
  echo "FAIL: slipwayd did not come up"; tail -20 "$work/slipwayd.log"; exit 1
}
stop_daemon_hard() {
  kill -9 "$daemon_pid" 2>/dev/null || true
  wait "$daemon_pid" 2>/dev/null || true
  daemon_pid=""
}
check_fsck() {
  if ! "$slipwayd" fsck --data-dir "$data" > "$work/fsck.out" 2>&1; then
    echo "FAIL: fsck after crash in iteration $1:"; cat "$work/fsck.out"; exit 1
  fi
}

deadline=$(( $(date +%s) + max_seconds ))
done_iterations=0
interrupted=0  # kills that landed while the import was in flight
for i in $(seq 1 "$iterations"); do
  if [ "$(date +%s)" -ge "$deadline" ]; then echo "FAIL: time budget spent after $done_iterations iterations"; exit 1; fi
  rm -rf "$data"  # every crash hits an import that writes new blobs
  start_daemon
  "$slipway" import "$work/image.tar" --tag "crash/test:try$i" > /dev/null 2>&1 &
  client_pid=$!
  # a random moment within the import (which takes a few hundred ms here)
  sleep "0.$(printf '%03d' $(( RANDOM % 250 )))"
  stop_daemon_hard
  if ! wait "$client_pid" 2>/dev/null; then interrupted=$((interrupted + 1)); fi
  check_fsck "$i"
  # the import succeeds when retried
  start_daemon
  if ! "$slipway" import "$work/image.tar" --tag "crash/test:ok$i" > "$work/import.out" 2>&1; then
    echo "FAIL: retried import failed in iteration $i:"; cat "$work/import.out"; exit 1
  fi
  stop_daemon_hard
  done_iterations=$i
done
check_fsck final
echo "crash_import: $done_iterations iterations ($interrupted killed mid-import), fsck clean after every kill -9, every retried import succeeded"
# A run where (almost) no kill hit an import in flight proves nothing: fail it.
if [ "$interrupted" -lt $(( iterations / 5 )) ]; then
  echo "FAIL: only $interrupted of $iterations kills interrupted an import"; exit 1
fi
echo "$done_iterations passed, 0 failed"
