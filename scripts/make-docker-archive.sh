#!/usr/bin/env bash
# Writes a legacy docker-archive (docker save layout: <id>/layer.tar uncompressed, <config>.json,
# manifest.json, repositories) from generated content, for benchmarks and soak tests.
# Usage: scripts/make-docker-archive.sh OUT.tar SIZE_MIB [REPO_TAG]
# The layers are: random bytes, base64 text, `seq` text and copies of system binaries, in equal
# parts, so compression sees realistic data.
set -euo pipefail
out=${1:?usage: make-docker-archive.sh OUT.tar SIZE_MIB [REPO_TAG]}
size_mib=${2:?size in MiB}
repo_tag=${3:-bench/import:latest}
work=$(mktemp -d "${TMPDIR:-/tmp}/slipway-archive-XXXXXX")
trap 'rm -rf "$work"' EXIT
per=$(( size_mib / 4 > 0 ? size_mib / 4 : 1 ))
mkdir -p "$work"/src/{random,text,seq,bin} "$work/archive"
head -c $((per << 20)) /dev/urandom > "$work/src/random/data.bin"
{ head -c $((per * 3 << 18)) /dev/urandom | base64 -w 76 | head -c $((per << 20)) > "$work/src/text/data.txt"; } || true
{ seq 1 100000000 | head -c $((per << 20)) > "$work/src/seq/numbers.txt"; } || true
# binaries: concatenate system binaries until the share is filled
{ ( for _ in $(seq 1 200); do cat /usr/bin/* 2>/dev/null || break; done ) | head -c $((per << 20)) > "$work/src/bin/blob"; } || true

diffids=(); layers=(); i=0
for part in random text seq bin; do
  i=$((i + 1))
  tar --sort=name --owner=0 --group=0 --numeric-owner --mtime=@0 -C "$work/src/$part" -cf "$work/l.tar" .
  d=$(sha256sum "$work/l.tar" | cut -d' ' -f1)
  mkdir -p "$work/archive/$d"
  mv "$work/l.tar" "$work/archive/$d/layer.tar"
  diffids+=("sha256:$d"); layers+=("$d/layer.tar")
done
jq -cn --args '{architecture:"amd64", os:"linux", created:"1970-01-01T00:00:00Z",
  config:{Cmd:["/bin/true"]}, rootfs:{type:"layers", diff_ids:$ARGS.positional}}' "${diffids[@]}" \
  > "$work/config.json"
c=$(sha256sum "$work/config.json" | cut -d' ' -f1)
mv "$work/config.json" "$work/archive/$c.json"
jq -cn --arg cfg "$c.json" --arg tag "$repo_tag" --args \
  '[{Config:$cfg, RepoTags:[$tag], Layers:$ARGS.positional}]' "${layers[@]}" > "$work/archive/manifest.json"
tar --sort=name --owner=0 --group=0 --numeric-owner --mtime=@0 -C "$work/archive" -cf "$out" .
echo "$out: $(stat -c %s "$out") bytes, config sha256:$c"
