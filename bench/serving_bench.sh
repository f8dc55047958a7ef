#!/usr/bin/env bash
# Serving benchmark (issue 8): starts `embedjobs serve` with the MiniLM-geometry peer model
# (random weights, ../shared/peers/make_model.py, built into bench/peers/generated/ once) and
# runs bench/serving_bench against it on loopback: one-text latency on a keep-alive connection,
# 32 one-text clients vs the engine alone, 64 clients x 96 texts while a job runs, the job's
# rows/s with and without that load; then the server's peak RSS and the CPU.
#   THREADS (default 2)  engine threads of the server and of the engine-alone figure
#   BENCH_SECONDS (default 15) length of the timed windows
#   BENCH_PHASES (default 1234) which of the four parts of serving_bench.cpp to run
#   EJ_BUILD_DIR (default build); EMBEDJOBS_BIN (default $EJ_BUILD_DIR/embedjobs)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
BUILD=${EJ_BUILD_DIR:-build}
THREADS=${THREADS:-2}
SECONDS_WINDOW=${BENCH_SECONDS:-15}
# shellcheck source=bench/peer_model.sh
source "$ROOT/bench/peer_model.sh"
cmake --build "$BUILD" -j2 --target embedjobs serving_bench >/dev/null

WORK=$(mktemp -d /tmp/ej-serving-bench.XXXXXX)
PID=
trap '[[ -n $PID ]] && kill $PID 2>/dev/null; rm -rf "$WORK"' EXIT
# The job's input: the corpus six times (6,000 rows).
# --cache-mb 0: the phases send the corpus texts again and again; with the embedding cache on
# they would measure cache lookups, not the scheduler and the engine (bench/cache_bench.sh
# measures the cache).
# --http-threads 64: the Boost.Beast front holds no thread per connection, but a sync request
# keeps its handler worker while it waits in the scheduler; 64 workers let all 64 clients of
# phase 4 queue in the scheduler (with the default 16, 48 of them wait in the front's queue,
# also in arrival order).
for _ in 1 2 3 4 5 6; do sed 's/^/{"text": /; s/$/}/' "$GEN/corpus.jsonl"; done >"$WORK/job.jsonl"

"${EMBEDJOBS_BIN:-$BUILD/embedjobs}" serve --listen 127.0.0.1:0 --data-dir "$WORK/data" --api-key bench \
  --model "bench=$MODEL" --threads "$THREADS" --chunk-rows 100 --max-queued-tokens 1048576 \
  --http-threads 64 --cache-mb 0 \
  >"$WORK/out" 2>"$WORK/log" &
PID=$!
for _ in $(seq 1 600); do grep -q "listening on" "$WORK/out" 2>/dev/null && break; sleep 0.1; done
URL="http://$(sed -n 's/^listening on //p' "$WORK/out")"
ID=$(curl -sf -H "Authorization: Bearer bench" -F "data=@$WORK/job.jsonl" \
  "$URL/v1/datasets?name=bench&type=embed-input" | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
until curl -sf -H "Authorization: Bearer bench" "$URL/v1/datasets/$ID" | grep -q '"validated"'; do
  sleep 0.2
done

echo "CPU: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores; load average before: $(cut -d' ' -f1-3 /proc/loadavg); model: MiniLM geometry (random weights)"
"$BUILD/bench/serving_bench" --url "$URL" --key bench --model bench --model-dir "$MODEL" \
  --corpus "$GEN/corpus.jsonl" --dataset "$ID" --threads "$THREADS" --seconds "$SECONDS_WINDOW" \
  --phases "${BENCH_PHASES:-1234}"
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "server peak RSS: $(awk '/VmHWM/ {printf "%.0f MiB", $2/1024}' /proc/$PID/status)"
