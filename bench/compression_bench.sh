#!/usr/bin/env bash
# Layer compression: our ISA-L level-1 compressor and libdeflate (compression_bench) against
# gzip -6 and pigz -p2 -6 on the same input, in the same run. Prints MiB/s, size and the ratio of
# each peer's throughput to ours.
# Usage: bench/compression_bench.sh FILE [BUILD_DIR]
set -euo pipefail
file=${1:?usage: compression_bench.sh FILE [BUILD_DIR]}
build=${2:-build}
bin="$build/bench/compression_bench"
[ -x "$bin" ] || { echo "build it first: ninja -C $build compression_bench" >&2; exit 1; }
bytes=$(stat -c %s "$file")
ours=$("$bin" "$file" 3)
echo "$ours"
isal=$(echo "$ours" | sed -n 's/^name=isal-1 mib_per_s=\([0-9.]*\).*/\1/p')
peer() {  # NAME CMD...
  local name=$1; shift
  local start end size
  cat "$file" > /dev/null  # warm the page cache
  start=$(date +%s.%N)
  size=$("$@" < "$file" | wc -c)
  end=$(date +%s.%N)
  awk -v n="$name" -v b="$bytes" -v s="$size" -v t0="$start" -v t1="$end" -v ref="$isal" 'BEGIN {
    mibs = b / 1048576 / (t1 - t0);
    printf "name=%s mib_per_s=%.1f compressed_bytes=%d ratio=%.4f isal1_speedup=%.1fx\n",
           n, mibs, s, s / b, ref / mibs }'
}
peer gzip-6 gzip -6 -n -c
peer pigz-p2-6 pigz -p2 -6 -n -c
