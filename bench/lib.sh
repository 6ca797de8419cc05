# Helpers shared by the benchmark scripts (sourced, never run). The sourcing script sets
# `work` (its temp dir), an array `registry_pids` and `daemon_pid` that its cleanup kills,
# and (for start_slipwayd) `slipwayd` and `slipway`, the binaries.

now() { date +%s.%N; }
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# Starts an empty docker-registry on 127.0.0.1 with its storage under $work/reg-NAME; sets
# REG_HOST (host:port) and REG_PID, and records the pid in registry_pids. Waits (at most 15 s)
# until /v2/ answers.
start_registry() {  # NAME
  local name=$1 port
  port=$(free_port)
  mkdir -p "$work/reg-$name/data"
  cat > "$work/reg-$name/config.yml" <<YML
version: 0.1
log: {level: error, accesslog: {disabled: true}}
storage:
  filesystem: {rootdirectory: $work/reg-$name/data}
  delete: {enabled: true}
http: {addr: 127.0.0.1:$port}
YML
  docker-registry serve "$work/reg-$name/config.yml" > "$work/reg-$name/log" 2>&1 &
  REG_PID=$!
  registry_pids+=("$REG_PID")
  for _ in $(seq 1 150); do
    curl -s -o /dev/null "http://127.0.0.1:$port/v2/" && break
    sleep 0.1
  done
  REG_HOST="127.0.0.1:$port"
}

# Starts slipwayd ($slipwayd) on a fresh data dir and socket under $work, exports SLIPWAY_ADDR,
# sets daemon_pid (for the sourcing script's cleanup) and waits (at most 10 s) until $slipway
# gets an answer; exits the script with slipwayd's log when it does not.
start_slipwayd() {
  export SLIPWAY_ADDR="unix://$work/s.sock"
  "$slipwayd" --data-dir "$work/data" --listen "$SLIPWAY_ADDR" --metrics-listen "" \
    --log-level warn > "$work/slipwayd.log" 2>&1 &
  daemon_pid=$!
  for _ in $(seq 1 100); do "$slipway" images > /dev/null 2>&1 && return 0; sleep 0.1; done
  echo "slipwayd did not start" >&2
  cat "$work/slipwayd.log" >&2
  exit 1
}
