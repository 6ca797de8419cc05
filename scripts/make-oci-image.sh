#!/usr/bin/env bash
# Assembles a small OCI image layout offline (no registry, no daemon): a busybox-static root
# filesystem as one gzip layer plus a second layer with a greeting, config and manifest.
# Usage: scripts/make-oci-image.sh OUT_DIR [TAG]
set -euo pipefail
out=${1:?usage: make-oci-image.sh OUT_DIR [TAG]}
tag=${2:-latest}
busybox=/bin/busybox
[ -x "$busybox" ] || { echo "make-oci-image: $busybox missing (apt-get install busybox-static)" >&2; exit 1; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$out/blobs/sha256" "$work/l1/bin" "$work/l2/etc"
cp "$busybox" "$work/l1/bin/busybox"
for app in sh ls cat echo; do ln -s busybox "$work/l1/bin/$app"; done
echo "hello from slipway" > "$work/l2/etc/greeting"

# Deterministic layer tars: sorted names, fixed owner and mtime.
layer() {  # DIR → prints "diffid digest size"
  local dir=$1 tarf="$work/layer.tar"
  tar --sort=name --owner=0 --group=0 --numeric-owner --mtime=@0 -C "$dir" -cf "$tarf" .
  local diffid; diffid=$(sha256sum "$tarf" | cut -d' ' -f1)
  gzip -n -6 -c "$tarf" > "$work/layer.tgz"
  local dg; dg=$(sha256sum "$work/layer.tgz" | cut -d' ' -f1)
  mv "$work/layer.tgz" "$out/blobs/sha256/$dg"
  echo "$diffid $dg $(stat -c %s "$out/blobs/sha256/$dg")"
}
read -r d1 g1 s1 < <(layer "$work/l1")
read -r d2 g2 s2 < <(layer "$work/l2")

put() {  # FILE → prints "digest size", stored as a blob
  local dg; dg=$(sha256sum "$1" | cut -d' ' -f1)
  cp "$1" "$out/blobs/sha256/$dg"; echo "$dg $(stat -c %s "$1")"
}
jq -cn --arg d1 "sha256:$d1" --arg d2 "sha256:$d2" '{
  architecture: "amd64", os: "linux", created: "1970-01-01T00:00:00Z",
  config: {Cmd: ["/bin/cat", "/etc/greeting"], Env: ["PATH=/bin"]},
  rootfs: {type: "layers", diff_ids: [$d1, $d2]},
  history: [{created: "1970-01-01T00:00:00Z", created_by: "busybox"},
            {created: "1970-01-01T00:00:00Z", created_by: "greeting"}]}' > "$work/config.json"
read -r cg cs < <(put "$work/config.json")
jq -cn --arg cg "sha256:$cg" --argjson cs "$cs" \
  --arg g1 "sha256:$g1" --argjson s1 "$s1" --arg g2 "sha256:$g2" --argjson s2 "$s2" '{
  schemaVersion: 2, mediaType: "application/vnd.oci.image.manifest.v1+json",
  config: {mediaType: "application/vnd.oci.image.config.v1+json", digest: $cg, size: $cs},
  layers: [{mediaType: "application/vnd.oci.image.layer.v1.tar+gzip", digest: $g1, size: $s1},
           {mediaType: "application/vnd.oci.image.layer.v1.tar+gzip", digest: $g2, size: $s2}]}' \
  > "$work/manifest.json"
read -r mg ms < <(put "$work/manifest.json")
echo '{"imageLayoutVersion":"1.0.0"}' > "$out/oci-layout"
jq -cn --arg mg "sha256:$mg" --argjson ms "$ms" --arg tag "$tag" '{
  schemaVersion: 2, mediaType: "application/vnd.oci.image.index.v1+json",
  manifests: [{mediaType: "application/vnd.oci.image.manifest.v1+json", digest: $mg, size: $ms,
               annotations: {"org.opencontainers.image.ref.name": $tag}}]}' > "$out/index.json"
echo "sha256:$mg"
