#!/usr/bin/env bash
# Build benchmark: `slipway build` against `buildah build --layers` (overlay storage) in the same
# run, on a 512 MiB, 5,000-file context in 4 directories (AES-CTR keystream: deterministic and
# incompressible) with a Dockerfile of 4 COPY layers on the busybox base of the differential
# tests. Prints figures and ratios; asserts nothing (benchmarks are not tests).
#   1. cold: slipway build into a fresh store (slipwayd started fresh, only the client's build
#      command timed) vs buildah build --layers + buildah push oci-archive: (summed: buildah's
#      store is not an image you can ship); slipwayd's peak RSS (VmHWM) over the cold build
#   2. warm rebuild, nothing changed: client start to exit (median of 5) vs buildah fully cached
#   3. rebuild after one 1 KiB file changed: bytes the client sent (its `context:` line) and time,
#      vs buildah's cached rebuild + push
# The page cache is not dropped (a shared machine): both sides read a warm context.
# Usage: bench/build_bench.sh [BUILD_DIR] [SIZE_MIB]
set -euo pipefail
build=${1:-build}
size_mib=${2:-512}
files=5000
here=$(cd "$(dirname "$0")" && pwd)
slipwayd="$build/server/slipwayd"; slipway="$build/client/slipway"
for b in "$slipwayd" "$slipway"; do [ -x "$b" ] || { echo "build $b first" >&2; exit 1; }; done
for t in buildah skopeo openssl split jq bc timeout; do
  command -v "$t" > /dev/null || { echo "needs $t" >&2; exit 1; }
done
[ "$(id -u)" = 0 ] || { echo "needs root (buildah with a private store, base image owners)" >&2; exit 1; }
limit=900  # seconds, for every single command
work=$(mktemp -d /var/tmp/slipway-build-bench-XXXXXX)
daemon_pid=""
cleanup() {
  [ -n "$daemon_pid" ] && kill "$daemon_pid" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
source "$(dirname "$0")/lib.sh"

# Is `slipway build` there at all? (Asked before the long part, reported after buildah's half.)
slipway_build_missing=""
probe=$("$slipway" build 2>&1 || true)
if grep -q 'unknown command' <<< "$probe"; then slipway_build_missing=$(head -1 <<< "$probe"); fi

# ---- the context: 4 directories, $files files, $size_mib MiB, one 1 KiB file to change ----
echo "making a ${size_mib} MiB, ${files}-file context in 4 directories..."
ctx="$work/ctx"
per_dir=$(( files / 4 ))
dir_bytes=$(( size_mib * 1024 * 1024 / 4 ))
for i in 0 1 2 3; do
  mkdir -p "$ctx/d$i"
  n=$per_dir; [ "$i" = 3 ] && n=$(( per_dir - 1 ))  # d3 also holds small.txt
  # openssl dies of SIGPIPE once head has enough: not an error.
  { openssl enc -aes-128-ctr -nosalt -pass "pass:slipway-build-bench-$i" -in /dev/zero \
      2>/dev/null || true; } | head -c "$dir_bytes" > "$work/stream"
  (cd "$ctx/d$i" && split -n "$n" -a 4 -d "$work/stream" f)
done
rm -f "$work/stream"
head -c 1024 /dev/zero | tr '\0' 'a' > "$ctx/d3/small.txt"
printf 'FROM localhost/testbase:1\nCOPY d0 /data/d0/\nCOPY d1 /data/d1/\nCOPY d2 /data/d2/\nCOPY d3 /data/d3/\n' \
  > "$work/Dockerfile"
echo "context: $(find "$ctx" -type f | wc -l) files, $(( $(du -sb "$ctx" | cut -f1) >> 20 )) MiB"
bash "$here/../tests/builddiff/make_base_image.sh" "$work/base" 1 > /dev/null

# ---- buildah (overlay storage, private store) ----
bh=(buildah --root "$work/bh-root" --runroot "$work/bh-runroot" --storage-driver overlay)
skopeo --insecure-policy copy -q "oci:$work/base:1" \
  "containers-storage:[overlay@$work/bh-root+$work/bh-runroot]localhost/testbase:1"
bh_build() {
  timeout "$limit" "${bh[@]}" build -q --isolation chroot --layers -t bench/build:1 \
    -f "$work/Dockerfile" "$ctx" > /dev/null
}
bh_push() {
  rm -f "$work/bh.tar"
  timeout "$limit" "${bh[@]}" push -q bench/build:1 "oci-archive:$work/bh.tar:bench" > /dev/null
}
sync
t0=$(now); bh_build; t1=$(now); bh_push; t2=$(now)
bh_cold_build=$(echo "$t1 - $t0" | bc -l); bh_cold_push=$(echo "$t2 - $t1" | bc -l)
bh_cold=$(echo "$bh_cold_build + $bh_cold_push" | bc -l)
bh_warm=()
for _ in 1 2 3; do t0=$(now); bh_build; t1=$(now); bh_warm+=("$(echo "$t1 - $t0" | bc -l)"); done
bh_warm_med=$(printf '%s\n' "${bh_warm[@]}" | median)
head -c 1024 /dev/zero | tr '\0' 'b' > "$ctx/d3/small.txt"
t0=$(now); bh_build; t1=$(now); bh_push; t2=$(now)
bh_change_build=$(echo "$t1 - $t0" | bc -l); bh_change_push=$(echo "$t2 - $t1" | bc -l)
head -c 1024 /dev/zero | tr '\0' 'a' > "$ctx/d3/small.txt"  # back to the cold content
rm -rf "$work/bh-root" "$work/bh-runroot" "$work/bh.tar" 2>/dev/null || true

printf 'buildah (overlay): cold build %.2f s + push oci-archive %.2f s = %.2f s; fully cached rebuild median %.2f s; after a 1 KiB change %.2f s + push %.2f s\n' \
  "$bh_cold_build" "$bh_cold_push" "$bh_cold" "$bh_warm_med" "$bh_change_build" "$bh_change_push"
if [ -n "$slipway_build_missing" ]; then
  echo "slipway build is not available in $slipway ($slipway_build_missing): only buildah's half ran" >&2
  exit 2
fi

# ---- slipway ----
export SLIPWAY_ADDR="unix://$work/s.sock"
"$slipwayd" --data-dir "$work/data" --listen "$SLIPWAY_ADDR" --metrics-listen "" \
  --log-level warn > "$work/slipwayd.log" 2>&1 &
daemon_pid=$!
for _ in $(seq 1 100); do "$slipway" images > /dev/null 2>&1 && break; sleep 0.1; done
"$slipway" images > /dev/null 2>&1 || { echo "slipwayd did not start" >&2; cat "$work/slipwayd.log" >&2; exit 1; }
timeout "$limit" "$slipway" import "$work/base" -t localhost/testbase:1 > /dev/null
sw_build() {  # OUT_FILE
  timeout "$limit" "$slipway" build -f "$work/Dockerfile" -t bench/build:1 "$ctx" > "$1" 2>&1 || {
    echo "slipway build failed:" >&2; cat "$1" >&2; exit 1; }
}
sent_bytes() { sed -n 's/.*context: .* \([0-9][0-9]*\) bytes sent.*/\1/p' "$1" | tail -1; }
sync
t0=$(now); sw_build "$work/cold.out"; t1=$(now)
sw_cold=$(echo "$t1 - $t0" | bc -l)
rss_kib=$(awk '/VmHWM/ {print $2}' "/proc/$daemon_pid/status")
sw_warm=()
for _ in 1 2 3 4 5; do
  t0=$(now); sw_build "$work/warm.out"; t1=$(now); sw_warm+=("$(echo "$t1 - $t0" | bc -l)")
done
sw_warm_med=$(printf '%s\n' "${sw_warm[@]}" | median)
head -c 1024 /dev/zero | tr '\0' 'b' > "$ctx/d3/small.txt"
t0=$(now); sw_build "$work/change.out"; t1=$(now)
sw_change=$(echo "$t1 - $t0" | bc -l)
change_sent=$(sent_bytes "$work/change.out")

echo
grep -h 'context:\|built' "$work/cold.out" | sed 's/^/  cold:   /'
grep -h 'context:' "$work/change.out" | sed 's/^/  change: /'
printf 'cold build of a %d MiB, %d-file context (4 COPY layers):\n' "$size_mib" "$files"
printf '  slipway %.2f s | buildah %.2f s (build %.2f + push %.2f) | buildah/slipway %.2fx (goal >= 3)\n' \
  "$sw_cold" "$bh_cold" "$bh_cold_build" "$bh_cold_push" "$(echo "$bh_cold / $sw_cold" | bc -l)"
printf '  slipwayd peak RSS (VmHWM, fresh daemon): %.1f MiB\n' "$(echo "$rss_kib / 1024" | bc -l)"
printf 'warm rebuild, nothing changed, client start to exit: slipway median %.3f s (goal <= 0.1) | buildah cached %.2f s | ratio %.1fx\n' \
  "$sw_warm_med" "$bh_warm_med" "$(echo "$bh_warm_med / $sw_warm_med" | bc -l)"
printf 'rebuild after one 1 KiB file changed: slipway sent %s bytes (goal <= 1048576) in %.2f s | buildah %.2f s (+ push %.2f s)\n' \
  "${change_sent:-?}" "$sw_change" "$bh_change_build" "$bh_change_push"
