#!/usr/bin/env bash
# Store ingest of a 1 GiB blob vs `openssl dgst -sha256` of the same file (page cache warm for
# both). Goal: ours >= 0.8x openssl's throughput. Prints figures and the ratio; median of 3.
# Usage: bench/store_ingest.sh [BUILD_DIR]
set -euo pipefail
build=${1:-build}
bin="$build/bench/blob_ingest_bench"
[ -x "$bin" ] || { echo "build $bin first (cmake --build $build --target blob_ingest_bench)" >&2; exit 1; }
work=$(mktemp -d /var/tmp/slipway-bench-XXXXXX)
trap 'rm -rf "$work"' EXIT
size_mib=${SIZE_MIB:-1024}
head -c $((size_mib << 20)) /dev/urandom > "$work/blob"
cat "$work/blob" > /dev/null

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
ossl=(); ours=()
for i in 1 2 3; do
  t0=$(date +%s.%N); openssl dgst -sha256 "$work/blob" > /dev/null; t1=$(date +%s.%N)
  ossl+=("$(awk -v a="$t0" -v b="$t1" 'BEGIN{print b-a}')")
  rm -rf "$work/store"
  ours+=("$("$bin" "$work/blob" "$work/store" | sed -n 's/.* seconds=\([0-9.]*\).*/\1/p')")
done
o=$(printf '%s\n' "${ossl[@]}" | median); s=$(printf '%s\n' "${ours[@]}" | median)
awk -v m="$size_mib" -v s="$s" -v o="$o" 'BEGIN {
  printf "store ingest of %d MiB: slipway %.3f s (%.0f MiB/s), openssl dgst %.3f s (%.0f MiB/s)\n", m, s, m/s, o, m/o
  printf "ratio (slipway throughput / openssl throughput): %.2fx  (goal >= 0.80x)\n", o/s }'
