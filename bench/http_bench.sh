#!/usr/bin/env bash
# HTTP front benchmark: the same loopback load against two builds (NEW, default build/embedjobs;
# OLD, default main's build, the cpp-httplib front), side by side with the ratio NEW/OLD.
# Small JSON requests (GET /v1/models with a key) at 1, 16 and 256 keep-alive connections:
# requests/s and p99; then a one-text /v2/embed (lexical model) p50 on one keep-alive connection.
#   EMBEDJOBS_BIN      the new build        (default build/embedjobs)
#   EMBEDJOBS_OLD_BIN  the build to compare (default /work/main/build/embedjobs)
#   SECONDS_EACH       seconds per measurement (default 3)
set -euo pipefail
cd "$(dirname "$0")/.."
NEW=${EMBEDJOBS_BIN:-build/embedjobs}
OLD=${EMBEDJOBS_OLD_BIN:-/work/main/build/embedjobs}
CLIENT=${HTTP_BENCH_CLIENT:-build/bench/http_bench}
SECS=${SECONDS_EACH:-3}
WORK=$(mktemp -d /tmp/embedjobs-httpbench.XXXXXX)
PID=""
trap '[ -n "$PID" ] && kill $PID 2>/dev/null; rm -rf "$WORK"' EXIT
EMBED='{"model":"embedjobs-lexical-v1","input_type":"search_query","texts":["hello world"],"embedding_types":["float"]}'

run_one() {  # $1 label, $2 binary -> $WORK/$1.txt
  local label=$1 bin=$2 out=$WORK/$1.txt
  "$bin" serve --listen 127.0.0.1:0 --data-dir "$WORK/data-$label" --api-key bench \
    >"$WORK/$label.out" 2>"$WORK/$label.log" &
  PID=$!
  for _ in $(seq 1 200); do grep -q "listening on" "$WORK/$label.out" 2>/dev/null && break; sleep 0.1; done
  local port
  port=$(sed -n 's/.*listening on [0-9.]*:\([0-9]*\).*/\1/p' "$WORK/$label.out")
  : >"$out"
  for c in 1 16 256; do
    echo "small$c $("$CLIENT" 127.0.0.1 "$port" "$c" "$SECS" GET /v1/models "" bench)" >>"$out"
  done
  echo "embed1 $("$CLIENT" 127.0.0.1 "$port" 1 "$SECS" POST /v2/embed "$EMBED" bench)" >>"$out"
  echo "peak_rss_kb $(awk '/VmHWM/{print $2}' /proc/$PID/status)" >>"$out"
  kill "$PID"
  wait "$PID" 2>/dev/null || true
  PID=""
}

run_one new "$NEW"
run_one old "$OLD"

field() {  # $1 label, $2 row, $3 key
  awk -v row="$2" -v key="$3" '$1 == row { for (i = 2; i <= NF; ++i) { split($i, kv, "="); if (kv[1] == key) print kv[2] } }' "$WORK/$1.txt"
}
echo "CPU: $(lscpu | sed -n 's/^Model name: *//p' | head -1), $(nproc) cores; ${SECS} s per row, loopback"
printf "%-34s %12s %12s %8s\n" "measure" "new (beast)" "old (httplib)" "new/old"
row() {  # $1 title, $2 row, $3 key
  local n o
  n=$(field new "$2" "$3")
  o=$(field old "$2" "$3")
  printf "%-34s %12s %12s %8s\n" "$1" "$n" "$o" "$(awk -v n="$n" -v o="$o" 'BEGIN { if (o > 0) printf "%.2f", n / o; else print "-" }')"
}
for c in 1 16 256; do
  row "GET /v1/models req/s, $c conn" "small$c" rps
  row "GET /v1/models p99 us, $c conn" "small$c" p99_us
done
row "/v2/embed 1 text p50 us, keep-alive" embed1 p50_us
row "/v2/embed 1 text p99 us, keep-alive" embed1 p99_us
printf "%-34s %12s %12s %8s\n" "errors (non-200), all rows" \
  "$(cat "$WORK/new.txt" | grep -o 'errors=[0-9]*' | cut -d= -f2 | paste -sd+ | bc)" \
  "$(cat "$WORK/old.txt" | grep -o 'errors=[0-9]*' | cut -d= -f2 | paste -sd+ | bc)" ""
printf "%-34s %12s %12s %8s\n" "connections closed by the server" \
  "$(grep -o 'reconnects=[0-9]*' "$WORK/new.txt" | cut -d= -f2 | paste -sd+ | bc)" \
  "$(grep -o 'reconnects=[0-9]*' "$WORK/old.txt" | cut -d= -f2 | paste -sd+ | bc)" ""
printf "%-34s %12s %12s %8s\n" "peak RSS MiB" "$(($(awk '$1=="peak_rss_kb"{print $2}' "$WORK/new.txt") / 1024))" \
  "$(($(awk '$1=="peak_rss_kb"{print $2}' "$WORK/old.txt") / 1024))" ""
