#!/usr/bin/env bash
# Import of a 2 GiB docker-archive with uncompressed layers through the real slipwayd: wall time,
# throughput and slipwayd's peak RSS (goal <= 64 MiB: streamed, never a whole layer in memory).
# Peer in the same run: `skopeo copy docker-archive:… oci:…`, which also compresses every layer.
# Usage: bench/import_throughput.sh [BUILD_DIR] [SIZE_MIB]
set -euo pipefail
build=${1:-build}
size_mib=${2:-2048}
slipwayd="$build/server/slipwayd"; slipway="$build/client/slipway"
for b in "$slipwayd" "$slipway"; do [ -x "$b" ] || { echo "build $b first" >&2; exit 1; }; done
work=$(mktemp -d /var/tmp/slipway-bench-XXXXXX)
daemon_pid=""
trap '[ -n "$daemon_pid" ] && kill "$daemon_pid" 2>/dev/null; rm -rf "$work"' EXIT

echo "making a ${size_mib} MiB docker-archive (random, base64, seq text, binaries)..."
TMPDIR="$work" bash "$(dirname "$0")/../scripts/make-docker-archive.sh" "$work/image.tar" "$size_mib" bench/import:1 > /dev/null
bytes=$(stat -c %s "$work/image.tar")
cat "$work/image.tar" > /dev/null  # warm the page cache for both tools

"$slipwayd" --data-dir "$work/data" --listen "unix://$work/s.sock" --metrics-listen "" --log-level warn &
daemon_pid=$!
export SLIPWAY_ADDR="unix://$work/s.sock"
for _ in $(seq 1 100); do "$slipway" images > /dev/null 2>&1 && break; sleep 0.1; done
t0=$(date +%s.%N)
"$slipway" import "$work/image.tar" > /dev/null
t1=$(date +%s.%N)
rss_kib=$(awk '/VmHWM/ {print $2}' "/proc/$daemon_pid/status")
kill "$daemon_pid"; wait "$daemon_pid" || true; daemon_pid=""

rm -f /var/lib/containers/cache/blob-info-cache-v1.boltdb
/usr/bin/time -f '%e %M' -o "$work/skopeo.time" \
  skopeo --insecure-policy copy -q "docker-archive:$work/image.tar" "oci:$work/skopeo-oci:bench" 
read -r sk_secs sk_rss_kib < "$work/skopeo.time"

awk -v b="$bytes" -v t0="$t0" -v t1="$t1" -v rss="$rss_kib" -v ss="$sk_secs" -v srss="$sk_rss_kib" 'BEGIN {
  s = t1 - t0; mib = b / 1048576
  printf "import of %.0f MiB docker-archive: slipway %.2f s (%.0f MiB/s), peak RSS of slipwayd %.1f MiB (goal <= 64)\n", mib, s, mib / s, rss / 1024
  printf "peer skopeo copy docker-archive -> oci: %.2f s (%.0f MiB/s), peak RSS %.1f MiB\n", ss, mib / ss, srss / 1024
  printf "ratio slipway/skopeo wall time: %.2fx\n", s / ss }'
