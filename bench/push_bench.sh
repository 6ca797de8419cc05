#!/usr/bin/env bash
# Push benchmark: a 512 MiB image (base + 4 layers: binaries, random bytes, base64 text, seq
# text) from slipwayd's store to empty local docker-registry processes, against skopeo in the
# same run. Prints figures and ratios; asserts nothing (benchmarks are not tests).
#   1. one empty registry: slipway push vs skopeo copy oci:DIR docker:// (cold blob-info cache)
#      — wall time and CPU seconds (slipwayd's from /proc/PID/stat, skopeo's from /usr/bin/time)
#   2. four empty registries: slipway push-many vs 4 parallel skopeo copies; the registries'
#      own CPU (they share the cores); slipwayd's peak RSS (VmHWM, slipwayd restarted before)
#   3. warm push (every blob and the manifest present): end-to-end time of `slipway push`
# Usage: bench/push_bench.sh [BUILD_DIR] [SIZE_MIB]
set -euo pipefail
build=${1:-build}
size_mib=${2:-512}
slipwayd="$build/server/slipwayd"; slipway="$build/client/slipway"
for b in "$slipwayd" "$slipway"; do [ -x "$b" ] || { echo "build $b first" >&2; exit 1; }; done
for t in docker-registry skopeo jq /usr/bin/time curl; do
  command -v "$t" > /dev/null || { echo "needs $t" >&2; exit 1; }
done
work=$(mktemp -d /var/tmp/slipway-push-bench-XXXXXX)
daemon_pid=""
registry_pids=()
cleanup() {
  [ -n "$daemon_pid" ] && kill "$daemon_pid" 2>/dev/null || true
  for p in "${registry_pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
source "$(dirname "$0")/lib.sh"
tck=$(getconf CLK_TCK)

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
start_daemon() {
  "$slipwayd" --data-dir "$work/data" --listen "unix://$work/s.sock" --metrics-listen "" \
    --log-level warn > "$work/slipwayd.log" 2>&1 &
  daemon_pid=$!
  for _ in $(seq 1 100); do "$slipway" images > /dev/null 2>&1 && return; sleep 0.1; done
  echo "slipwayd did not start" >&2; cat "$work/slipwayd.log" >&2; exit 1
}
stop_daemon() { kill "$daemon_pid"; wait "$daemon_pid" || true; daemon_pid=""; }
skopeo_push() {  # OCI_DIR DEST TIMEFILE
  rm -f /var/lib/containers/cache/blob-info-cache-v1.boltdb
  /usr/bin/time -f '%e %U %S' -o "$3" skopeo --insecure-policy copy -q \
    --dest-tls-verify=false "oci:$1:bench" "docker://$2/bench/app:1"
}

echo "making a ${size_mib} MiB docker-archive (base + random, base64, seq text, binaries)..."
TMPDIR="$work" bash "$(dirname "$0")/../scripts/make-docker-archive.sh" "$work/image.tar" \
  "$size_mib" bench/push:1 > /dev/null
export SLIPWAY_ADDR="unix://$work/s.sock"
start_daemon
"$slipway" import "$work/image.tar" > /dev/null
skopeo --insecure-policy copy -q "docker-archive:$work/image.tar" "oci:$work/oci:bench"
stored=$(du -sb "$work/data/blobs" | cut -f1)
echo "stored image: $(( stored >> 20 )) MiB compressed"

# ---- 1. one empty registry ----
start_registry one; r_one=$REG_HOST
start_registry sk1; r_sk1=$REG_HOST
sync
c0=$(cpu_ticks "$daemon_pid"); t0=$(now)
"$slipway" push bench/push:1 "$r_one/bench/app:1" --insecure > "$work/push1.out"
t1=$(now); c1=$(cpu_ticks "$daemon_pid")
sw_wall=$(echo "$t1 - $t0" | bc -l); sw_cpu=$(echo "($c1 - $c0) / $tck" | bc -l)
skopeo_push "$work/oci" "$r_sk1" "$work/sk1.time"
read -r sk_wall sk_u sk_s < "$work/sk1.time"; sk_cpu=$(echo "$sk_u + $sk_s" | bc -l)

# ---- 3. warm push (same registry, everything present) ----
warm=()
for _ in 1 2 3 4 5; do
  t0=$(now); "$slipway" push bench/push:1 "$r_one/bench/app:1" --insecure > /dev/null; t1=$(now)
  warm+=("$(echo "($t1 - $t0) * 1000" | bc -l)")
done
warm_med=$(printf '%s\n' "${warm[@]}" | sort -n | sed -n 3p)
warm_min=$(printf '%s\n' "${warm[@]}" | sort -n | head -1)
rm -f /var/lib/containers/cache/blob-info-cache-v1.boltdb
skopeo --insecure-policy copy -q --dest-tls-verify=false "oci:$work/oci:bench" "docker://$r_sk1/bench/app:1"
t0=$(now)
skopeo --insecure-policy copy -q --dest-tls-verify=false "oci:$work/oci:bench" "docker://$r_sk1/bench/app:1"
t1=$(now); sk_warm=$(echo "($t1 - $t0) * 1000" | bc -l)

# ---- 2. four empty registries ----
stop_daemon; start_daemon  # VmHWM from here on covers only the fan-out
dests=(); reg4=()
for i in 1 2 3 4; do start_registry "m$i"; dests+=("$REG_HOST/bench/app:1"); reg4+=("$REG_PID"); done
sk_hosts=(); skreg4=()
for i in 1 2 3 4; do start_registry "s$i"; sk_hosts+=("$REG_HOST"); skreg4+=("$REG_PID"); done
reg_cpu() { local s=0; for p in "$@"; do s=$(( s + $(cpu_ticks "$p") )); done; echo "$s"; }
sync
rc0=$(reg_cpu "${reg4[@]}"); c0=$(cpu_ticks "$daemon_pid"); t0=$(now)
"$slipway" push-many bench/push:1 "${dests[@]}" --insecure > "$work/pushmany.out"
t1=$(now); c1=$(cpu_ticks "$daemon_pid"); rc1=$(reg_cpu "${reg4[@]}")
pm_wall=$(echo "$t1 - $t0" | bc -l); pm_cpu=$(echo "($c1 - $c0) / $tck" | bc -l)
pm_reg_cpu=$(echo "($rc1 - $rc0) / $tck" | bc -l)
rss_kib=$(awk '/VmHWM/ {print $2}' "/proc/$daemon_pid/status")

rm -f /var/lib/containers/cache/blob-info-cache-v1.boltdb
rc0=$(reg_cpu "${skreg4[@]}"); t0=$(now)
sk_pids=()
for i in 0 1 2 3; do
  /usr/bin/time -f '%e %U %S' -o "$work/sk4-$i.time" skopeo --insecure-policy copy -q \
    --dest-tls-verify=false "oci:$work/oci:bench" "docker://${sk_hosts[$i]}/bench/app:1" &
  sk_pids+=("$!")
done
for p in "${sk_pids[@]}"; do wait "$p" || echo "a skopeo copy failed" >&2; done
t1=$(now); rc1=$(reg_cpu "${skreg4[@]}")
sk4_wall=$(echo "$t1 - $t0" | bc -l)
sk4_cpu=0
for i in 0 1 2 3; do read -r _ u s < "$work/sk4-$i.time"; sk4_cpu=$(echo "$sk4_cpu + $u + $s" | bc -l); done
sk4_reg_cpu=$(echo "($rc1 - $rc0) / $tck" | bc -l)

cat "$work/pushmany.out" | tail -5
echo
printf 'push of a %d MiB image (%d MiB stored) to one empty registry:\n' "$size_mib" $(( stored >> 20 ))
printf '  slipway %.2f s wall, %.2f s CPU (slipwayd) | skopeo %.2f s wall, %.2f s CPU\n' "$sw_wall" "$sw_cpu" "$sk_wall" "$sk_cpu"
printf '  ratios slipway/skopeo: wall %.2fx (goal <= 1.0), CPU %.2fx (goal <= 0.5)\n' \
  "$(echo "$sw_wall / $sk_wall" | bc -l)" "$(echo "$sw_cpu / $sk_cpu" | bc -l)"
printf 'same image to 4 empty registries:\n'
printf '  slipway push-many %.2f s wall, %.2f s CPU; registries used %.2f s CPU\n' "$pm_wall" "$pm_cpu" "$pm_reg_cpu"
printf '  4 parallel skopeo  %.2f s wall, %.2f s CPU; registries used %.2f s CPU\n' "$sk4_wall" "$sk4_cpu" "$sk4_reg_cpu"
printf '  ratio push-many/4 skopeo wall %.2fx (goal <= 0.8); push-many / one push of ours %.2fx\n' \
  "$(echo "$pm_wall / $sk4_wall" | bc -l)" "$(echo "$pm_wall / $sw_wall" | bc -l)"
printf '  slipwayd peak RSS during push-many: %.1f MiB (goal <= 64)\n' "$(echo "$rss_kib / 1024" | bc -l)"
printf 'warm push (everything present), end to end through the client: median %.0f ms, min %.0f ms (goal <= 50) | skopeo warm %.0f ms\n' \
  "$warm_med" "$warm_min" "$sk_warm"
