#!/usr/bin/env bash
# A whole embed job against the engine alone, per compute dtype (issue 11: a job over a 20,000-row
# corpus end to end at >= 90% of the engine's own throughput in each mode). For each DTYPE:
#   1. the engine alone: bench/engine_bench on the job's own texts (tokenized untimed, as a
#      search_document with truncate END; length-sorted token-budget batches), tokens/s;
#   2. the job: `embedjobs serve` with the same model, dtype and threads, the embedding cache off,
#      one embed job over the same ROWS rows through the HTTP API, timed from create to complete;
#      tokens/s = the job's billed input tokens / that time; and, from the server's /metrics, the
#      share of the job's wall time its engine was busy;
# and prints job / engine per dtype, the server's peak RSS, the CPU and the load average.
# Model: the MiniLM-geometry peer model (random weights, bench/peer_model.sh).
#   ROWS (default 20000), THREADS (default 2), DTYPES (default fp32,bf16,int8),
#   SERVER_ARGS (extra `embedjobs serve` flags, e.g. "--chunk-rows 4000"; default none)
#   EJ_BUILD_DIR (default build): embedjobs and bench/engine_bench are built there if missing
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
BUILD=${EJ_BUILD_DIR:-build}
ROWS=${ROWS:-20000}
THREADS=${THREADS:-2}
DTYPES=${DTYPES:-fp32,bf16,int8}
read -r -a server_args <<<"${SERVER_ARGS:-}"
# shellcheck source=bench/peer_model.sh
source "$ROOT/bench/peer_model.sh"
# shellcheck source=bench/server.sh
source "$ROOT/bench/server.sh"
[[ -x $BUILD/embedjobs && -x $BUILD/bench/engine_bench ]] ||
  cmake --build "$BUILD" -j2 --target embedjobs engine_bench >/dev/null
BIN=$BUILD/embedjobs

WORK=$(mktemp -d /tmp/ej-job-dtype-bench.XXXXXX)
PID=
trap '[[ -n $PID ]] && kill $PID 2>/dev/null; rm -rf "$WORK"' EXIT
python3 "$ROOT/bench/job_input.py" "$GEN/corpus.jsonl" "$ROWS" >"$WORK/input.jsonl"

CPU=$(lscpu | sed -n 's/^Model name: *//p' | head -1)
echo "CPU: $CPU, $(nproc) cores; threads: $THREADS; model: MiniLM geometry (random weights); rows: $ROWS; cache off"
IFS=, read -r -a dtypes <<<"$DTYPES"
for d in "${dtypes[@]}"; do
  echo "== $d (load average $(cut -d' ' -f1-3 /proc/loadavg))"
  "$BUILD/bench/engine_bench" --model "$MODEL" --dtype "$d" --texts "$WORK/input.jsonl" --seq 0 \
    --threads "$THREADS" --reps 1 --warmup 0 --json "$WORK/engine_$d.json" >"$WORK/engine_$d.log"
  start_bench_server "$WORK/data-$d" --model "bench=$MODEL,dtype=$d" --threads "$THREADS" --cache-mb 0 \
    "${server_args[@]}"
  python3 - "$URL" "$WORK/input.jsonl" "$WORK/engine_$d.json" "$d" "$ROOT/bench" <<'PY'
import json, sys
sys.path.insert(0, sys.argv[5])
from job_api import Api

url, input_path, engine_json, dtype = sys.argv[1:5]
engine = next(s for s in json.load(open(engine_json))["summary"] if s["name"] == "texts")
api = Api(url, "bench")
ds = api.upload(input_path, f"job-dtype-{dtype}")

def engine_seconds():
    import re, urllib.request
    text = urllib.request.urlopen(url + "/metrics", timeout=60).read().decode()
    m = re.search(r'^embedjobs_engine_seconds_total\{model="bench"\} (\S+)$', text, re.M)
    return float(m.group(1))

e0 = engine_seconds()
secs, job, before, after = api.run_job(ds, "bench")
busy = (engine_seconds() - e0) / secs
tokens = job["meta"]["billed_units"]["input_tokens"]
rows = job["total_rows"]
ratio = tokens / secs / engine["ours_tok_per_s"]
print(f"   engine alone: {engine['ours_tok_per_s']:9,.0f} tokens/s ({engine['tokens']:,} tokens)")
print(f"   job:          {tokens / secs:9,.0f} tokens/s, {rows / secs:7,.0f} rows/s, {secs:.1f} s "
      f"({tokens:,} tokens; load average {before} -> {after})")
print(f"   job / engine: {ratio:.2f} (goal >= 0.90); the engine was busy {busy:.0%} of the job's "
      "wall time (measured in the server during the job itself, so not skewed by load that changes "
      "between the two runs)")
with open(engine_json + ".ratio", "w") as f:
    f.write(f"{ratio:.3f}")
PY
  stop_bench_server
  echo "   server peak RSS: $PEAK_RSS"
done
echo
echo "== job / engine alone, $CPU, $THREADS threads"
for d in "${dtypes[@]}"; do
  printf '%-5s %s\n' "$d" "$(cat "$WORK/engine_$d.json.ratio")"
done
