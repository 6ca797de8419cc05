#!/usr/bin/env bash
# RUN diff benchmark: the cost of turning one RUN's changes into a layer must follow what the
# RUN changed, not the size of the image. Two lower directories of small files in nested
# directories (BIG files, default 300,000, and SMALL, default 1,000) share the same 10 files;
# on each, bench/upper_diff_bench mounts an overlay with a fresh upper dir, appends a line to
# those 10 files through the mount, unmounts, and times EntriesFromUpperDir + WriteLayer (plus
# the mount and unmount), median of REPEATS runs. Prints both and the ratio big/small
# (goal: <= 1.2). Asserts nothing (benchmarks are not tests). Needs root (overlay mounts).
# The page cache is not dropped (a shared machine): both trees are warm.
# Usage: bench/run_diff_bench.sh [BUILD_DIR] [BIG] [SMALL] [REPEATS]
set -euo pipefail
build=${1:-build}
big=${2:-300000}
small=${3:-1000}
repeats=${4:-7}
bench="$build/bench/upper_diff_bench"
[ -x "$bench" ] || { echo "build $bench first (ninja -C $build upper_diff_bench)" >&2; exit 1; }
for t in split timeout awk findmnt bc sync; do
  command -v "$t" > /dev/null || { echo "needs $t" >&2; exit 1; }
done
[ "$(id -u)" = 0 ] || { echo "needs root (overlay mounts)" >&2; exit 1; }
per_dir=1000  # files per leaf directory; leaves sit two levels deep (a<i/20>/b<i>/f<nnn>)
(( big % per_dir == 0 && small % per_dir == 0 && small >= per_dir )) ||
  { echo "BIG and SMALL must be multiples of $per_dir" >&2; exit 1; }
limit=600  # seconds, for every single command
work=$(mktemp -d /var/tmp/slipway-run-diff-bench-XXXXXX)
cleanup() {
  set +e  # a failed step here must not skip the rest
  # Mounts first (innermost listed first), so rm -rf never reaches through one.
  findmnt -rn -o TARGET | grep -F "$work/" | sort -r | while read -r m; do
    umount "$m" 2>/dev/null || umount -l "$m"
  done
  rm -rf "$work"
}
trap cleanup EXIT
source "$(dirname "$0")/lib.sh"
trap 'exit 130' INT TERM

# ---- the two lower trees: 100-byte files, 1,000 per leaf directory ----
make_tree() {  # DIR FILES
  local dir=$1 files=$2 leaves=$(( $2 / per_dir )) i
  head -c $(( per_dir * 100 )) /dev/urandom > "$work/chunk"
  for (( i = 0; i < leaves; i++ )); do
    local leaf="$dir/a$(( i / 20 ))/b$i"
    mkdir -p "$leaf"
    timeout "$limit" split -b 100 -a 3 -d "$work/chunk" "$leaf/f"
  done
  rm -f "$work/chunk"
}
changed=()
for i in 0 1 2 3 4 5 6 7 8 9; do changed+=("a0/b0/f00$i"); done

for n in "$small" "$big"; do
  start=$(now)
  make_tree "$work/lower-$n" "$n"
  count=$(find "$work/lower-$n" -type f | wc -l)
  printf 'lower tree of %d files made in %.1f s\n' "$count" "$(echo "$(now) - $start" | bc)"
done

# Written back before timing: an overlay unmount syncs the upper filesystem, and the lower
# layers of a real RUN were written (and synced by UnpackedLayers) long before it.
sync -f "$work"

declare -A result
for n in "$small" "$big"; do
  mkdir -p "$work/scratch-$n"
  result[$n]=$(timeout "$limit" "$bench" "$work/lower-$n" "$work/scratch-$n" "$repeats" \
    "${changed[@]}")
  echo "$n files: ${result[$n]}"
done

field() { sed -n "s/.*\b$2=\([0-9.]*\).*/\1/p" <<< "${result[$1]}"; }
echo
printf '%-28s %12s %12s %8s\n' "median of $repeats (ms)" "$small files" "$big files" "ratio"
for f in diff_ms write_ms diff_write_ms mount_ms umount_ms total_ms; do
  s=$(field "$small" "$f"); b=$(field "$big" "$f")
  printf '%-28s %12.3f %12.3f %8.2f\n' "$f" "$s" "$b" "$(echo "scale=4; $b / $s" | bc)"
done
printf 'entries: %s vs %s (same 10 changed files and their parents)\n' \
  "$(field "$small" entries)" "$(field "$big" entries)"
echo "goal: diff_write_ms ratio <= 1.2"
