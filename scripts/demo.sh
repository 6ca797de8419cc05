#!/usr/bin/env bash
# The main job, end to end on one machine: install, build, start slipwayd on its embedded
# defaults, and take an image through the store — import, list, tag, export in two formats —
# and push it to two local registries — checking every step with tools nobody here wrote
# (skopeo, umoci) — then build an image from a Dockerfile, scan it, and push it through the
# scan gate.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
BUILD_DIR=${BUILD_DIR:-build}
if [ ! -f "$BUILD_DIR/CMakeCache.txt" ]; then
  cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo > /dev/null
fi
cmake --build "$BUILD_DIR" -j "$(nproc)" --target slipwayd slipway
slipwayd="$PWD/$BUILD_DIR/server/slipwayd"
slipway="$PWD/$BUILD_DIR/client/slipway"

work=$(mktemp -d /tmp/slipway-demo-XXXXXX)
daemon_pid=""
registry_pids=()
cleanup() {
  if [ -n "$daemon_pid" ]; then kill "$daemon_pid" 2>/dev/null || true; wait "$daemon_pid" 2>/dev/null || true; fi
  for pid in "${registry_pids[@]}"; do kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT
step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }

step "starting slipwayd on its embedded defaults"
"$slipwayd" > "$work/slipwayd.log" 2>&1 &
daemon_pid=$!
for _ in $(seq 1 100); do "$slipway" images > /dev/null 2>&1 && break; sleep 0.1; done
"$slipway" images > /dev/null || { cat "$work/slipwayd.log"; exit 1; }
head -5 "$work/slipwayd.log"

step "assembling a busybox image offline as an OCI layout"
digest=$(bash scripts/make-oci-image.sh "$work/oci" v1)
echo "manifest $digest"

step "slipway import (the client tars the OCI layout on the fly)"
"$slipway" import "$work/oci" --tag demo/busybox:v1
"$slipway" tag demo/busybox:v1 registry.example.com/demo/busybox:v1
"$slipway" images

step "slipway export (Docker 25+ format) read back by skopeo"
"$slipway" export demo/busybox:v1 -o "$work/out/busybox.tar"
# skopeo rebuilds a Docker manifest when it reads a docker-archive, so compare what survives
# every format unchanged: the config digest (which pins every layer's diff_id).
got=$(skopeo inspect --config --raw "docker-archive:$work/out/busybox.tar" | sha256sum | cut -d' ' -f1)
want=$(skopeo inspect --config --raw "oci:$work/oci:v1" | sha256sum | cut -d' ' -f1)
echo "skopeo reads config sha256:$got (the original image's: sha256:$want)"
[ "$got" = "$want" ] || { echo "config digest mismatch"; exit 1; }
skopeo --insecure-policy copy -q "oci-archive:$work/out/busybox.tar" "oci:$work/copy:v1"
echo "skopeo copy of the same tarball as oci-archive verified every blob digest"

step "slipway export --format oci, unpacked by umoci and run"
"$slipway" export demo/busybox:v1 -o "$work/out/busybox-oci.tar" --format oci
mkdir -p "$work/layout" && tar -xf "$work/out/busybox-oci.tar" -C "$work/layout"
umoci unpack --rootless --image "$work/layout:demo/busybox:v1" "$work/bundle" > /dev/null 2>&1 ||
  umoci unpack --image "$work/layout:$(jq -r '.manifests[0].annotations["org.opencontainers.image.ref.name"]' "$work/layout/index.json")" "$work/bundle" > /dev/null
chroot "$work/bundle/rootfs" /bin/cat /etc/greeting

step "slipway build: a Dockerfile FROM the imported image, no daemon (RUN in a namespace sandbox over overlayfs)"
mkdir -p "$work/app/src" "$work/app/assets"
echo 'hello from a slipway build' > "$work/app/src/message.txt"
printf '#!/bin/sh\ncat /app/message.txt /app/assets/notes.txt /app/installed.txt\n' > "$work/app/src/hello.sh"
echo 'unpacked by ADD' > "$work/app/assets/notes.txt"
tar -czf "$work/app/assets.tar.gz" -C "$work/app/assets" .
cat > "$work/app/Dockerfile" <<'DOCKERFILE'
FROM demo/busybox:v1
WORKDIR /app
COPY --chmod=755 src/hello.sh /usr/local/bin/hello
ADD assets.tar.gz assets/
COPY src/message.txt .
RUN echo "installed by RUN as uid $(busybox id -u) in $(pwd), $(busybox ls /app | busybox wc -l) entries" > installed.txt \
 && busybox rm /bin/ls
ENV GREETING=hi
CMD ["/usr/local/bin/hello"]
DOCKERFILE
"$slipway" build -t demo/app:v1 "$work/app"
echo "rebuilding with nothing changed (every step from the cache, nothing uploaded):"
/usr/bin/time -f "rebuild took %e s" "$slipway" build -t demo/app:v1 "$work/app" | grep -E '^(context|built)'
"$slipway" export demo/app:v1 -o "$work/out/app-oci.tar" --format oci
mkdir -p "$work/applayout" && tar -xf "$work/out/app-oci.tar" -C "$work/applayout"
umoci unpack --image "$work/applayout:$(jq -r '.manifests[0].annotations["org.opencontainers.image.ref.name"]' "$work/applayout/index.json")" "$work/appbundle" > /dev/null
chroot "$work/appbundle/rootfs" /usr/local/bin/hello

step "slipway push-many: one stored image to two local registries in parallel"
start_registry() {  # NAME → sets $port; docker-registry on 127.0.0.1, storage in $work
  # Runs in this shell (not a $(...) subshell) so the PID lands in registry_pids for cleanup.
  local name=$1
  for _ in $(seq 1 50); do  # a port nobody answers on
    port=$(shuf -i 20000-60000 -n 1)
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null || break
  done
  mkdir -p "$work/$name"
  cat > "$work/$name/config.yml" <<YAML
version: 0.1
storage: {filesystem: {rootdirectory: $work/$name/data}}
http: {addr: 127.0.0.1:$port}
log: {level: error}
YAML
  docker-registry serve "$work/$name/config.yml" > "$work/$name/log" 2>&1 &
  registry_pids+=($!)
  for _ in $(seq 1 100); do curl -fs "http://127.0.0.1:$port/v2/" > /dev/null && break; sleep 0.1; done
}
start_registry registry-a; port_a=$port
start_registry registry-b; port_b=$port
"$slipway" push-many demo/busybox:v1 "127.0.0.1:$port_a/demo/busybox:v1" "127.0.0.1:$port_b/team/busybox:v1" --insecure
for dest in "127.0.0.1:$port_a/demo/busybox:v1" "127.0.0.1:$port_b/team/busybox:v1"; do
  pushed=$(skopeo inspect --raw --tls-verify=false "docker://$dest" | sha256sum | cut -d' ' -f1)
  echo "skopeo reads $dest as sha256:$pushed"
  [ "sha256:$pushed" = "$digest" ] || { echo "pushed digest differs from $digest"; exit 1; }
done
skopeo --insecure-policy copy -q --src-tls-verify=false "docker://127.0.0.1:$port_a/demo/busybox:v1" "oci:$work/pulled:v1"
echo "skopeo pulled it back, verifying every blob"
"$slipway" push demo/busybox:v1 "127.0.0.1:$port_a/demo/busybox:v1" --insecure | tail -2
echo "(the second push found every blob and the manifest already there)"
"$slipway" push demo/app:v1 "127.0.0.1:$port_b/team/app:v1" --insecure | tail -1
skopeo --insecure-policy copy -q --src-tls-verify=false "docker://127.0.0.1:$port_b/team/app:v1" "oci:$work/app-pulled:v1"
echo "the built image, pushed, pulled back by skopeo with every blob verified"

step "the CI step: build-only to a tarball, then push-only from it (PLUGIN_* variables, as the plugins take them)"
env PLUGIN_NO_PUSH=true PLUGIN_REPO="127.0.0.1:$port_b/team/step-app" PLUGIN_TAGS=1.0,latest \
  PLUGIN_CONTEXT="$work/app" PLUGIN_TAR_PATH="$work/out/step/app.tar" DRONE_OUTPUT="$work/drone.env" \
  "$slipway"
echo "DRONE_OUTPUT:"; cat "$work/drone.env"
env PLUGIN_PUSH_ONLY=true PLUGIN_REPO="127.0.0.1:$port_b/team/step-app" PLUGIN_TAGS=1.0,latest \
  PLUGIN_SOURCE_TAR_PATH="$work/out/step/app.tar" PLUGIN_INSECURE=true \
  PLUGIN_ARTIFACT_FILE="$work/artifact.json" "$slipway"
echo "artifact file:"; jq -c . "$work/artifact.json"
echo "skopeo reads the pushed image: $(skopeo inspect --tls-verify=false "docker://127.0.0.1:$port_b/team/step-app:1.0" | jq -r .Digest)"

step "build, scan, push: slipwayd restarted with a scan hook and a push gate (require all)"
cat > "$work/slipwayd.json" <<JSON
{"scan": {"hooks": [{"name": "secret-scan", "timeout": "60s",
                     "argv": ["$PWD/deploy/hooks/secret-scan.sh", "{oci_dir}", "{report}"],
                     "version": "demo-1"}],
          "push_gate": {"require": "all"}}}
JSON
kill -TERM "$daemon_pid"; wait "$daemon_pid" || true
"$slipwayd" --config "$work/slipwayd.json" >> "$work/slipwayd.log" 2>&1 &
daemon_pid=$!
for _ in $(seq 1 100); do "$slipway" images > /dev/null 2>&1 && break; sleep 0.1; done
echo "pushing before any scan is refused by the gate:"
if "$slipway" push demo/app:v1 "127.0.0.1:$port_a/gated/app:v1" --insecure; then
  echo "the gate let an unscanned image through"; exit 1
fi
"$slipway" scan demo/app:v1
"$slipway" push demo/app:v1 "127.0.0.1:$port_a/gated/app:v1" --insecure | tail -1
echo "an image that ships a private key fails the scan, and the gate keeps it out:"
echo "-----BEGIN OPENSSH PRIVATE KEY-----" > "$work/app/id_rsa"
printf 'FROM demo/app:v1\nCOPY id_rsa /root/.ssh/id_rsa\n' > "$work/Dockerfile.leaky"
"$slipway" build -q -f "$work/Dockerfile.leaky" -t demo/leaky:v1 "$work/app"
if "$slipway" scan demo/leaky:v1; then echo "the scan missed the key"; exit 1; fi
if "$slipway" push demo/leaky:v1 "127.0.0.1:$port_a/gated/leaky:v1" --insecure; then
  echo "the gate let a failed image through"; exit 1
fi

step "metrics"
curl -fsS http://127.0.0.1:9464/metrics | grep -E '^slipway_(rpc_requests_total|store_|push_total|push_bytes_total)' | head -12 || true

step "stopping slipwayd (SIGTERM drains) and checking the store with fsck"
kill -TERM "$daemon_pid"; wait "$daemon_pid" || true; daemon_pid=""
"$slipwayd" fsck
echo
echo "Demo complete. The store stays in the default data dir; start the service with: $slipwayd"
