#!/usr/bin/env bash
# Step-client benchmark (issue 6), against the tools CI runs today, in the same run:
#   1. the client: start-up to first RPC (`slipway images` against an empty store, median of 20)
#      and start-up alone (`slipway version`), binary size and shared libraries loaded;
#   2. end to end "build-only with TAR_PATH, then push-only from that tar" as two CI steps
#      (slipway with PLUGIN_* variables) vs the same flow done by buildah (build, push to
#      oci-archive:) + skopeo (copy the oci-archive to the registry), each into an empty
#      docker-registry on 127.0.0.1. The context: SIZE_MIB of incompressible data in 400 files
#      with a Dockerfile of two COPY steps and one RUN on the busybox base of the differential
#      tests. Prints figures and ratios; asserts nothing.
# Usage: bench/step_bench.sh [BUILD_DIR] [SIZE_MIB]
set -euo pipefail
build=${1:-build}
size_mib=${2:-256}
here=$(cd "$(dirname "$0")" && pwd)
slipwayd="$build/server/slipwayd"; slipway="$build/client/slipway"
for b in "$slipwayd" "$slipway"; do [ -x "$b" ] || { echo "build $b first" >&2; exit 1; }; done
for t in buildah skopeo docker-registry openssl jq bc curl python3; do
  command -v "$t" > /dev/null || { echo "needs $t" >&2; exit 1; }
done
[ "$(id -u)" = 0 ] || { echo "needs root (RUN sandbox, buildah)" >&2; exit 1; }
limit=900
work=$(mktemp -d /var/tmp/slipway-step-bench-XXXXXX)
daemon_pid=""; registry_pids=()
cleanup() {
  [ -n "$daemon_pid" ] && kill "$daemon_pid" 2>/dev/null || true
  for p in "${registry_pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
source "$(dirname "$0")/lib.sh"
start_slipwayd

# ---- 1. the client ----
startup=(); first_rpc=()
for _ in $(seq 1 20); do
  t0=$(now); "$slipway" version > /dev/null; t1=$(now); "$slipway" images > /dev/null; t2=$(now)
  startup+=("$(echo "($t1 - $t0) * 1000" | bc -l)"); first_rpc+=("$(echo "($t2 - $t1) * 1000" | bc -l)")
done
size=$(stat -c %s "$slipway")
strip -o "$work/slipway.stripped" "$slipway"; stripped=$(stat -c %s "$work/slipway.stripped")
libs=$(ldd "$slipway" | wc -l)

# ---- 2. the flow ----
ctx="$work/ctx"; mkdir -p "$ctx/a" "$ctx/b"
for d in a b; do
  { openssl enc -aes-128-ctr -nosalt -pass "pass:step-bench-$d" -in /dev/zero 2>/dev/null || true; } |
    head -c $(( size_mib * 1024 * 1024 / 2 )) > "$work/stream"
  (cd "$ctx/$d" && split -n 200 -a 3 -d "$work/stream" f)
done
rm -f "$work/stream"
printf 'FROM localhost/testbase:1\nCOPY a /data/a/\nCOPY b /data/b/\nRUN echo built > /data/stamp && rm /data/a/f000\n' \
  > "$ctx/Dockerfile"
bash "$here/../tests/builddiff/make_base_image.sh" "$work/base" 1 > /dev/null
"$slipway" import "$work/base" -t localhost/testbase:1 > /dev/null

start_registry sw; sw_reg=$REG_HOST
start_registry bh; bh_reg=$REG_HOST
sync
t0=$(now)
env PLUGIN_NO_PUSH=true PLUGIN_REPO="$sw_reg/bench/app" PLUGIN_TAGS=1 PLUGIN_CONTEXT="$ctx" \
  PLUGIN_TAR_PATH="$work/out/app.tar" timeout "$limit" "$slipway" > "$work/sw-build.out" 2>&1 ||
  { cat "$work/sw-build.out" >&2; exit 1; }
t1=$(now)
env PLUGIN_PUSH_ONLY=true PLUGIN_REPO="$sw_reg/bench/app" PLUGIN_TAGS=1 PLUGIN_INSECURE=true \
  PLUGIN_SOURCE_TAR_PATH="$work/out/app.tar" timeout "$limit" "$slipway" > "$work/sw-push.out" 2>&1 ||
  { cat "$work/sw-push.out" >&2; exit 1; }
t2=$(now)
sw_build=$(echo "$t1 - $t0" | bc -l); sw_push=$(echo "$t2 - $t1" | bc -l)
skopeo inspect --tls-verify=false "docker://$sw_reg/bench/app:1" > /dev/null

bh=(buildah --root "$work/bh-root" --runroot "$work/bh-runroot" --storage-driver overlay)
skopeo --insecure-policy copy -q "oci:$work/base:1" \
  "containers-storage:[overlay@$work/bh-root+$work/bh-runroot]localhost/testbase:1"
rm -f /var/lib/containers/cache/blob-info-cache-v1.boltdb
sync
t0=$(now)
timeout "$limit" "${bh[@]}" build -q --isolation chroot --layers -t bench/app:1 -f "$ctx/Dockerfile" "$ctx" > /dev/null
timeout "$limit" "${bh[@]}" push -q bench/app:1 "oci-archive:$work/bh.tar:app" > /dev/null
t1=$(now)
timeout "$limit" skopeo --insecure-policy copy -q --dest-tls-verify=false "oci-archive:$work/bh.tar:app" \
  "docker://$bh_reg/bench/app:1"
t2=$(now)
bh_build=$(echo "$t1 - $t0" | bc -l); bh_push=$(echo "$t2 - $t1" | bc -l)

echo
printf 'client: start-up %.1f ms (median of 20, `slipway version`), start-up to first RPC answered %.1f ms (`slipway images`, empty store)\n' \
  "$(printf '%s\n' "${startup[@]}" | median)" "$(printf '%s\n' "${first_rpc[@]}" | median)"
printf 'client binary: %.1f MiB (%.1f MiB stripped), %d shared libraries\n' \
  "$(echo "$size / 1048576" | bc -l)" "$(echo "$stripped / 1048576" | bc -l)" "$libs"
printf 'build-only + TAR_PATH, then push-only from the tar (%d MiB context, 2 COPY + 1 RUN):\n' "$size_mib"
printf '  slipway steps %.2f s (build+tar %.2f + push %.2f) | buildah build+oci-archive %.2f + skopeo copy %.2f = %.2f s | ratio %.2fx\n' \
  "$(echo "$sw_build + $sw_push" | bc -l)" "$sw_build" "$sw_push" "$bh_build" "$bh_push" \
  "$(echo "$bh_build + $bh_push" | bc -l)" "$(echo "($bh_build + $bh_push) / ($sw_build + $sw_push)" | bc -l)"
grep -h "sent\|not sent" "$work/sw-push.out" | head -3 | sed 's/^/  push-only: /' || true
