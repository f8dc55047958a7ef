#!/usr/bin/env bash
# Embedding cache benchmark (issue 11 item 4): a ROWS-row embed job (default 20,000: the peer
# corpus repeated, each copy varied so that every row is a different text) run twice through
# the HTTP API with the cache on, on the MiniLM-geometry peer model (random weights). Prints both
# wall times (job created -> complete) and their ratio (goal >= 10), the second run's
# cached_tokens against the first run's tokens, whether the two outputs are identical (Avro
# parts compared byte for byte, their random sync markers blanked), the cache file's size, the
# server's peak RSS, the CPU and the load average around each run (the machine may be shared).
#   ROWS (default 20000), THREADS (default 2: engine threads), CACHE_MB (default 1024)
#   EJ_BUILD_DIR (default build); EMBEDJOBS_BIN (default $EJ_BUILD_DIR/embedjobs)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
BUILD=${EJ_BUILD_DIR:-build}
ROWS=${ROWS:-20000}
THREADS=${THREADS:-2}
CACHE_MB=${CACHE_MB:-1024}
# shellcheck source=bench/peer_model.sh
source "$ROOT/bench/peer_model.sh"
[[ -n ${EMBEDJOBS_BIN:-} ]] || cmake --build "$BUILD" -j2 --target embedjobs >/dev/null
BIN=${EMBEDJOBS_BIN:-$BUILD/embedjobs}

WORK=$(mktemp -d /tmp/ej-cache-bench.XXXXXX)
PID=
trap '[[ -n $PID ]] && kill $PID 2>/dev/null; rm -rf "$WORK"' EXIT
# The peer corpus repeated and varied: no two rows share a text (bench/job_input.py).
python3 "$ROOT/bench/job_input.py" "$GEN/corpus.jsonl" "$ROWS" >"$WORK/input.jsonl"

# shellcheck source=bench/server.sh
source "$ROOT/bench/server.sh"
start_bench_server "$WORK/data" --model "bench=$MODEL" --threads "$THREADS" --cache-mb "$CACHE_MB"

echo "CPU: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores; engine threads: $THREADS; model: MiniLM geometry (random weights); rows: $ROWS; --cache-mb $CACHE_MB"
python3 - "$URL" "$WORK/input.jsonl" "$WORK/data/cache.sqlite" "$ROOT/bench" <<'PY'
import os, sys
sys.path.insert(0, sys.argv[4])
from job_api import Api

url, input_path, cache_path = sys.argv[1:4]
api = Api(url, "bench")
ds = api.upload(input_path, "cache-bench")
run_job = lambda: api.run_job(ds, "bench")
output = api.output

s1, j1, l1a, l1b = run_job()
s2, j2, l2a, l2b = run_job()
tokens = j1["meta"]["billed_units"]["input_tokens"]
cached1, cached2 = j1["meta"]["cached_tokens"], j2["meta"]["cached_tokens"]
o1, o2 = output(j1), output(j2)
identical = o1 == o2
rows = j1["total_rows"]
print(f"first run:  {s1:8.2f} s  {rows / s1:9,.0f} rows/s  {tokens / s1:9,.0f} tokens/s  "
      f"tokens {tokens:,}, cached_tokens {cached1:,}  (load average {l1a} -> {l1b})")
print(f"second run: {s2:8.2f} s  {rows / s2:9,.0f} rows/s  cached_tokens {cached2:,} "
      f"({'=' if cached2 == tokens else '!='} the first run's {tokens:,} tokens)  (load average {l2a} -> {l2b})")
print(f"ratio first/second: {s1 / s2:.1f}x (goal >= 10x)")
print(f"outputs identical: {'yes' if identical else 'NO'} ({sum(len(p) for p in o1):,} bytes in {len(o1)} part(s))")
print(f"cache file: {os.path.getsize(cache_path) / 2**20:.1f} MiB")
if not identical or cached2 != tokens:
    sys.exit(1)
PY
stop_bench_server
echo "server peak RSS: $PEAK_RSS"
