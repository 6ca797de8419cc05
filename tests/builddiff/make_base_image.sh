#!/usr/bin/env bash
# The base image of the differential build tests and build_bench.sh, made offline as an OCI
# layout: one gzip layer with busybox-static and a few applet symlinks, /etc/passwd and
# /etc/group (root; user app uid 1000 whose primary group is app 1000; group staff 50 with app
# as a member), /home/app owned by app, /tmp 1777, /srv/existing owned 1000:50 mode 2775 (an
# existing directory with non-default metadata for COPY into it). Deterministic: fixed mtimes,
# sorted names, gzip -n, so the same inputs give the same manifest digest.
# Usage: make_base_image.sh OUT_DIR [TAG]   (must run as root: the layer carries real owners)
# Prints the manifest digest.
set -euo pipefail
out=${1:?usage: make_base_image.sh OUT_DIR [TAG]}
tag=${2:-1}
busybox=/bin/busybox
[ -x "$busybox" ] || { echo "make_base_image: $busybox missing (apt-get install busybox-static)" >&2; exit 1; }
[ "$(id -u)" = 0 ] || { echo "make_base_image: needs root (the layer has owners other than 0)" >&2; exit 1; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
root="$work/rootfs"
mkdir -p "$out/blobs/sha256" "$root/bin" "$root/etc" "$root/home/app" "$root/tmp" \
  "$root/srv/existing" "$root/root"
cp "$busybox" "$root/bin/busybox"
chmod 0755 "$root/bin/busybox"
for app in sh ls cat echo true stat id mkdir rm touch ln chmod chown mv cp printf env seq mkfifo wc sort; do ln -s busybox "$root/bin/$app"; done
printf 'root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000:app:/home/app:/bin/sh\n' > "$root/etc/passwd"
printf 'root:x:0:\nstaff:x:50:app\napp:x:1000:\n' > "$root/etc/group"
echo "base" > "$root/srv/existing/from-base"
chown 1000:1000 "$root/home/app"; chmod 0750 "$root/home/app"
chmod 1777 "$root/tmp"; chmod 0700 "$root/root"
chown 1000:50 "$root/srv/existing" "$root/srv/existing/from-base"; chmod 2775 "$root/srv/existing"
chmod 0644 "$root/etc/passwd" "$root/etc/group" "$root/srv/existing/from-base"
chmod 0755 "$root" "$root/bin" "$root/etc" "$root/home" "$root/srv"

tarf="$work/layer.tar"
tar --sort=name --numeric-owner --mtime=@0 -C "$root" -cf "$tarf" .
diffid=$(sha256sum "$tarf" | cut -d' ' -f1)
gzip -n -6 -c "$tarf" > "$work/layer.tgz"
lg=$(sha256sum "$work/layer.tgz" | cut -d' ' -f1)
ls_=$(stat -c %s "$work/layer.tgz")
mv "$work/layer.tgz" "$out/blobs/sha256/$lg"

put() {  # FILE → prints "digest size", stored as a blob
  local dg; dg=$(sha256sum "$1" | cut -d' ' -f1)
  cp "$1" "$out/blobs/sha256/$dg"; echo "$dg $(stat -c %s "$1")"
}
jq -cn --arg d "sha256:$diffid" '{
  architecture: "amd64", os: "linux", created: "1970-01-01T00:00:00Z",
  config: {Cmd: ["/bin/sh"], Env: ["PATH=/bin"], Labels: {"org.example.base": "testbase"}},
  rootfs: {type: "layers", diff_ids: [$d]},
  history: [{created: "1970-01-01T00:00:00Z", created_by: "make_base_image.sh"}]}' \
  > "$work/config.json"
read -r cg cs < <(put "$work/config.json")
jq -cn --arg cg "sha256:$cg" --argjson cs "$cs" --arg lg "sha256:$lg" --argjson ls "$ls_" '{
  schemaVersion: 2, mediaType: "application/vnd.oci.image.manifest.v1+json",
  config: {mediaType: "application/vnd.oci.image.config.v1+json", digest: $cg, size: $cs},
  layers: [{mediaType: "application/vnd.oci.image.layer.v1.tar+gzip", digest: $lg, size: $ls}]}' \
  > "$work/manifest.json"
read -r mg ms < <(put "$work/manifest.json")
echo '{"imageLayoutVersion":"1.0.0"}' > "$out/oci-layout"
jq -cn --arg mg "sha256:$mg" --argjson ms "$ms" --arg tag "$tag" '{
  schemaVersion: 2, mediaType: "application/vnd.oci.image.index.v1+json",
  manifests: [{mediaType: "application/vnd.oci.image.manifest.v1+json", digest: $mg, size: $ms,
               annotations: {"org.opencontainers.image.ref.name": $tag}}]}' > "$out/index.json"
echo "sha256:$mg"
