#!/usr/bin/env bash
# Scaling benchmark (issue 13): rows/s of embed jobs run by 1, 2 and 3 `embedjobs worker`
# processes sharing one PostgreSQL (one `serve --no-work` API process in front), engine threads
# set so the workers share the machine's cores fairly (per worker: max(1, CORES / N)), and the
# coordination each committed chunk costs: the workers' store calls and the time they took
# (every process logs its store calls by method when it stops: store/timed_store.h), per chunk.
# Also PostgreSQL's own count of committed transactions in the bench database per chunk
# (pg_stat_database), which includes the API process answering this script's polls.
#   MODEL_SOURCE (default: the MiniLM-geometry peer model, random weights; or "lexical")
#   ROWS (rows per job, default 6000), JOBS (jobs at once, default 1), CHUNK_ROWS (default 200),
#   WORKERS (default 1,2,3), CORES (default nproc)
#   EMBEDJOBS_TEST_PG: a PostgreSQL server to use (else a throwaway one, scripts/pg_test_server.sh:
#   fsync off, so commits cost less than on a durable server)
#   EJ_BUILD_DIR (default build)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
BUILD=${EJ_BUILD_DIR:-build}
ROWS=${ROWS:-6000}
JOBS=${JOBS:-1}
CHUNK_ROWS=${CHUNK_ROWS:-200}
WORKERS=${WORKERS:-1,2,3}
CORES=${CORES:-$(nproc)}
# shellcheck source=bench/peer_model.sh
source "$ROOT/bench/peer_model.sh"
# shellcheck source=bench/server.sh
source "$ROOT/bench/server.sh"
MODEL_SOURCE=${MODEL_SOURCE:-$MODEL}
[[ -x $BUILD/embedjobs ]] || cmake --build "$BUILD" -j2 --target embedjobs >/dev/null
BIN=$BUILD/embedjobs

WORK=$(mktemp -d /tmp/ej-cluster-bench.XXXXXX)
PID=
WPIDS=()
cleanup() {
  [[ -n $PID ]] && kill "$PID" 2>/dev/null
  for p in "${WPIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  [[ -n ${OWN_PG:-} ]] && bash "$ROOT/scripts/pg_test_server.sh" stop >/dev/null 2>&1
  rm -rf "$WORK"
}
trap cleanup EXIT
if [[ -z ${EMBEDJOBS_TEST_PG:-} ]]; then
  export EMBEDJOBS_PG_STATE=$WORK/pg
  eval "$(bash "$ROOT/scripts/pg_test_server.sh" start)"
  OWN_PG=1
fi
python3 "$ROOT/bench/job_input.py" "$GEN/corpus.jsonl" "$ROWS" >"$WORK/input.jsonl"

CPU=$(lscpu | sed -n 's/^Model name: *//p' | head -1)
echo "CPU: $CPU, $(nproc) cores; model: $(basename "$MODEL_SOURCE"); $JOBS job(s) x $ROWS rows, chunks of $CHUNK_ROWS rows"
IFS=, read -r -a counts <<<"$WORKERS"
for n in "${counts[@]}"; do
  threads=$((CORES / n))
  ((threads < 1)) && threads=1
  db=ej_cluster_bench_$n
  psql "$EMBEDJOBS_TEST_PG" -q -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db" 2>/dev/null
  store=$(python3 -c 'import sys, urllib.parse as u; p = u.urlparse(sys.argv[1]); print(p._replace(path="/" + sys.argv[2]).geturl())' "$EMBEDJOBS_TEST_PG" "$db")
  data=$WORK/data-$n
  mkdir -p "$data"
  common=(--store "$store" --model "bench=$MODEL_SOURCE" --chunk-rows "$CHUNK_ROWS")
  start_bench_server "$data" "${common[@]}" --no-work --threads 1
  WPIDS=()
  for i in $(seq 1 "$n"); do
    "$BIN" worker --data-dir "$data" "${common[@]}" --threads "$threads" --job-workers 1 >"$data/worker-$i.out" 2>"$data/worker-$i.log" &
    WPIDS+=($!)
  done
  for i in $(seq 1 "$n"); do
    for _ in $(seq 1 300); do grep -q "worker ready" "$data/worker-$i.out" 2>/dev/null && break; sleep 0.1; done
  done
  echo "== $n worker(s), $threads engine thread(s) each (load average $(cut -d' ' -f1-3 /proc/loadavg))"
  python3 - "$URL" "$WORK/input.jsonl" "$JOBS" "$ROOT/bench" "$EMBEDJOBS_TEST_PG" "$db" >"$data/result" <<'PY'
import json, subprocess, sys, time
sys.path.insert(0, sys.argv[4])
from job_api import Api

url, input_path, jobs, pg, db = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[5], sys.argv[6]
api = Api(url, "bench")
ds = api.upload(input_path, "cluster-bench")

def xacts():
    out = subprocess.run(["psql", pg, "-tAc", f"SELECT xact_commit FROM pg_stat_database WHERE datname = '{db}'"],
                         capture_output=True, text=True, check=True).stdout
    return int(out.strip())

x0 = xacts()
t0 = time.monotonic()
ids = [api.call("POST", "/v1/embed-jobs", {"model": "bench", "dataset_id": ds, "input_type": "search_document",
                                           "embedding_types": ["float"]})["job_id"] for _ in range(jobs)]
pending, rows, tokens = set(ids), 0, 0
while pending:
    for j in list(pending):
        job = api.call("GET", f"/v1/embed-jobs/{j}")
        if job["status"] in ("failed", "cancelled"):
            raise SystemExit(f"job {j}: {job['status']} {job.get('failure_reason', '')}")
        if job["status"] == "complete":
            pending.discard(j)
            rows += job["total_rows"]
            tokens += job["meta"]["billed_units"]["input_tokens"]
    time.sleep(0.1)
secs = time.monotonic() - t0
time.sleep(1.5)  # PostgreSQL publishes a backend's counts at most once a second
print(json.dumps({"secs": secs, "rows": rows, "tokens": tokens, "xacts": xacts() - x0}))
PY
  stop_bench_server
  for p in "${WPIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${WPIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  WPIDS=()
  python3 - "$data" "$n" "$CHUNK_ROWS" "$JOBS" <<'PY'
import glob, json, math, re, sys
data, n, chunk_rows, jobs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
r = json.load(open(f"{data}/result"))
calls = ms = 0.0
for log in sorted(glob.glob(f"{data}/worker-*.log")):
    text = open(log, encoding="utf-8", errors="replace").read()
    m = re.search(r"stopped; store calls: (.*)", text)
    if not m:
        raise SystemExit(f"{log}: no store-call summary (did the worker stop cleanly?)")
    for op, c, t in re.findall(r"(\w+) (\d+) calls ([\d.]+) ms", m.group(1)):
        calls += int(c)
        ms += float(t)
chunks = jobs * math.ceil(r["rows"] / jobs / chunk_rows)
print(f"   {r['rows'] / r['secs']:8,.0f} rows/s  {r['tokens'] / r['secs']:9,.0f} tokens/s  ({r['rows']:,} rows in {r['secs']:.1f} s)")
print(f"   per chunk ({chunks} chunks): {calls / chunks:.1f} worker store calls, {ms / chunks:.2f} ms in them "
      f"(all {n} workers, idle polling included); PostgreSQL: {r['xacts'] / chunks:.1f} transactions "
      f"(API polls included)")
PY
done
