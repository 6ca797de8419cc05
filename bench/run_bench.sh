#!/usr/bin/env bash
# RUN benchmark: 10 RUN steps, each changing a few files, on a base image holding 50,000 files,
# built by `slipway build` and by `buildah build --layers --isolation chroot` (overlay storage)
# in the same run. Both builders start from the very same base image (built once by slipway,
# copied into buildah's store with skopeo) and build with --no-cache, so every RUN executes.
# Prints the medians of 3 builds, the ratio, and the per-RUN overhead of each builder:
# (time of the 10-RUN build - time of a 1-RUN build) / 9. Asserts nothing.
# Usage: bench/run_bench.sh [BUILD_DIR] [FILES]
set -euo pipefail
build=${1:-build}
files=${2:-50000}
here=$(cd "$(dirname "$0")" && pwd)
slipwayd="$build/server/slipwayd"; slipway="$build/client/slipway"
for b in "$slipwayd" "$slipway" "$build/server/slipway-sandbox"; do
  [ -x "$b" ] || { echo "build $b first" >&2; exit 1; }
done
for t in buildah skopeo jq bc timeout python3; do
  command -v "$t" > /dev/null || { echo "needs $t" >&2; exit 1; }
done
[ "$(id -u)" = 0 ] || { echo "needs root (namespaces, overlayfs, buildah)" >&2; exit 1; }
limit=900
work=$(mktemp -d /var/tmp/slipway-run-bench-XXXXXX)
daemon_pid=""
cleanup() {
  [ -n "$daemon_pid" ] && kill "$daemon_pid" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
source "$(dirname "$0")/lib.sh"

# ---- slipwayd, the busybox base, and a base with $files files on top ----
start_slipwayd
bash "$here/../tests/builddiff/make_base_image.sh" "$work/testbase" 1 > /dev/null
timeout "$limit" "$slipway" import "$work/testbase" -t localhost/testbase:1 > /dev/null
mkdir -p "$work/basectx/many"
python3 - "$work/basectx/many" "$files" <<'PY'
import os, sys
root, n = sys.argv[1], int(sys.argv[2])
per = 100
for i in range(n):
    d = os.path.join(root, "d%03d" % (i // per))
    if i % per == 0:
        os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "f%03d" % (i % per)), "w") as f:
        f.write("file %d\n" % i)
PY
printf 'FROM localhost/testbase:1\nCOPY many /data/\n' > "$work/Dockerfile.base"
timeout "$limit" "$slipway" build -q -f "$work/Dockerfile.base" -t localhost/base-many:1 \
  "$work/basectx" > /dev/null
timeout "$limit" "$slipway" export localhost/base-many:1 --format oci -o "$work/base-many.tar" \
  > /dev/null
echo "base image: busybox + $(find "$work/basectx/many" -type f | wc -l) files"

# ---- the Dockerfiles: 10 RUNs and 1 RUN, each changing a few files ----
{
  echo "FROM localhost/base-many:1"
  for i in $(seq 0 9); do
    echo "RUN echo run-$i > /data/d00$i/f001 && rm /data/d00$i/f002 && mkdir -p /new/$i && echo x > /new/$i/file"
  done
} > "$work/Dockerfile.run10"
head -2 "$work/Dockerfile.run10" > "$work/Dockerfile.run1"
mkdir -p "$work/empty-ctx"

# ---- buildah ----
bh=(buildah --root "$work/bh-root" --runroot "$work/bh-runroot" --storage-driver overlay)
skopeo --insecure-policy copy -q "oci-archive:$work/base-many.tar" \
  "containers-storage:[overlay@$work/bh-root+$work/bh-runroot]localhost/base-many:1"
bh_build() {  # DOCKERFILE
  timeout "$limit" "${bh[@]}" build -q --no-cache --isolation chroot --layers -t bench/run:1 \
    -f "$1" "$work/empty-ctx" > /dev/null
}
sw_build() {  # DOCKERFILE
  timeout "$limit" "$slipway" build -q --no-cache -f "$1" -t bench/run:1 "$work/empty-ctx" \
    > "$work/sw.out" 2>&1 || { echo "slipway build failed:" >&2; cat "$work/sw.out" >&2; exit 1; }
}
time_of() {  # FUNCTION DOCKERFILE → seconds
  local t0 t1; t0=$(now); "$1" "$2"; t1=$(now); echo "$t1 - $t0" | bc -l
}
bh_build "$work/Dockerfile.run1"  # warm-up: page cache, storage setup
sw_build "$work/Dockerfile.run1"
declare -a bh10 bh1 sw10 sw1
for _ in 1 2 3; do
  bh10+=("$(time_of bh_build "$work/Dockerfile.run10")")
  sw10+=("$(time_of sw_build "$work/Dockerfile.run10")")
  bh1+=("$(time_of bh_build "$work/Dockerfile.run1")")
  sw1+=("$(time_of sw_build "$work/Dockerfile.run1")")
done
m() { printf '%s\n' "$@" | median; }
bh10m=$(m "${bh10[@]}"); bh1m=$(m "${bh1[@]}"); sw10m=$(m "${sw10[@]}"); sw1m=$(m "${sw1[@]}")
echo
printf '10 RUN steps on a %d-file base (median of 3, --no-cache):\n' "$files"
printf '  slipway %.2f s | buildah %.2f s | buildah/slipway %.2fx (goal >= 2)\n' \
  "$sw10m" "$bh10m" "$(echo "$bh10m / $sw10m" | bc -l)"
printf '  1 RUN step: slipway %.2f s | buildah %.2f s\n' "$sw1m" "$bh1m"
printf '  per-RUN overhead ((10-RUN - 1-RUN) / 9): slipway %.0f ms | buildah %.0f ms\n' \
  "$(echo "($sw10m - $sw1m) / 9 * 1000" | bc -l)" "$(echo "($bh10m - $bh1m) / 9 * 1000" | bc -l)"
