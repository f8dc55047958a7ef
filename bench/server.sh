# Sourced by the bench scripts: start_bench_server DATA_DIR [serve flags...] starts
# `$BIN serve` on a free loopback port with API key "bench" and sets PID and URL; stop_bench_server
# stops it. Its stdout/stderr go to DATA_DIR.out / DATA_DIR.log.
start_bench_server() {
  local data=$1
  shift
  "$BIN" serve --listen 127.0.0.1:0 --data-dir "$data" --api-key bench "$@" >"$data.out" 2>"$data.log" &
  PID=$!
  for _ in $(seq 1 600); do grep -q "listening on" "$data.out" 2>/dev/null && break; sleep 0.1; done
  if ! grep -q "listening on" "$data.out"; then
    echo "the server did not start:" >&2
    cat "$data.log" >&2
    exit 1
  fi
  URL="http://$(sed -n 's/^listening on //p' "$data.out")"
}

# Stops the server; sets PEAK_RSS to its peak RSS (VmHWM), e.g. "402 MiB", read just before.
stop_bench_server() {
  PEAK_RSS=$(awk '/VmHWM/ {printf "%.0f MiB", $2/1024}' "/proc/$PID/status")
  kill "$PID" 2>/dev/null
  wait "$PID" 2>/dev/null || true
  PID=
}
