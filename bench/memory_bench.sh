#!/usr/bin/env bash
# Bounded memory (issue 9 item 5): the server's peak RSS (VmHWM) over
#   1. an UPLOAD_MB upload (default 1536 = 1.5 GiB, the default --max-upload-mb) of short CSV rows,
#      through its validation into Avro parts, and
#   2. an embed job over JOB_ROWS short rows (default 10,000,000) with the lexical model,
# each in a fresh server process (VmHWM is the peak since start), next to the peak after start-up
# alone. Prints the figures and the CPU. Slow (minutes to tens of minutes on 2 cores): not in CI.
#   UPLOAD_MB  size of the upload in MiB (0 skips it)      JOB_ROWS  rows of the job (0 skips it)
#   EMBEDJOBS_BIN  the binary (default build/embedjobs)    WORK_DIR  scratch (default /tmp)
set -euo pipefail
cd "$(dirname "$0")/.."
UPLOAD_MB=${UPLOAD_MB:-1536}
JOB_ROWS=${JOB_ROWS:-10000000}
BIN=${EMBEDJOBS_BIN:-build/embedjobs}
WORK=$(mktemp -d "${WORK_DIR:-/tmp}/embedjobs-membench.XXXXXX")
PID=""
trap '[ -n "$PID" ] && kill $PID 2>/dev/null; rm -rf "$WORK"' EXIT
AUTH="Authorization: Bearer bench"
now() { date +%s.%N; }
json() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }

start() {  # start a fresh server on a fresh data dir; sets PID and URL
  rm -rf "$WORK/data"
  "$BIN" serve --listen 127.0.0.1:0 --data-dir "$WORK/data" --api-key bench \
    --model embed-english-v3.0=lexical >"$WORK/out" 2>"$WORK/log" &
  PID=$!
  for _ in $(seq 1 600); do grep -q "listening on" "$WORK/out" 2>/dev/null && break; sleep 0.1; done
  URL="http://$(sed -n 's/^listening on //p' "$WORK/out")"
}
stop() { kill "$PID"; wait "$PID" 2>/dev/null || true; PID=""; }
hwm_mib() { awk '/VmHWM/ {printf "%.0f", $2 / 1024}' "/proc/$PID/status"; }

# Short rows, written straight to disk (never held in memory here either).
make_csv() {  # make_csv FILE --rows N | --bytes B
  python3 - "$@" <<'PY'
import sys
path, mode, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
words = b"alpha bravo charlie delta echo foxtrot golf hotel india juliet kilo lima".split()
with open(path, "wb", buffering=1 << 20) as f:
    f.write(b"text\n")
    i = written = 0
    while (i < n) if mode == "--rows" else (written < n):
        line = b"row %d %s %s\n" % (i, words[i % 12], words[(i * 7) % 12])
        f.write(line)
        written += len(line)
        i += 1
print(i)
PY
}

upload_and_validate() {  # upload_and_validate FILE -> dataset id; prints timings to stderr
  local id s
  id=$(curl -sf -H "$AUTH" -F "data=@$1;filename=rows.csv" "$URL/v1/datasets?name=mem&type=embed-input" | json 'd["id"]')
  while :; do
    s=$(curl -sf -H "$AUTH" "$URL/v1/datasets/$id" | json 'd["dataset"]["validation_status"]')
    [ "$s" = validated ] && break
    [ "$s" = failed ] && { echo "validation failed: $(curl -s -H "$AUTH" "$URL/v1/datasets/$id")" >&2; exit 1; }
    sleep 1
  done
  echo "$id"
}

echo "CPU: $(lscpu | grep 'Model name' | sed 's/Model name: *//'), $(nproc) cores"
start
echo "start-up: peak RSS $(hwm_mib) MiB"
stop

if [ "$UPLOAD_MB" -gt 0 ]; then
  rows=$(make_csv "$WORK/upload.csv" --bytes $((UPLOAD_MB * 1024 * 1024 - 1024 * 1024)))
  size=$(stat -c %s "$WORK/upload.csv")
  start
  t0=$(now)
  id=$(upload_and_validate "$WORK/upload.csv")
  t1=$(now)
  echo "upload of $((size / 1024 / 1024)) MiB ($rows rows) + validation: $(python3 -c "print(f'{$t1-$t0:.0f}')") s, peak RSS $(hwm_mib) MiB"
  stop
  rm -f "$WORK/upload.csv"
fi

if [ "$JOB_ROWS" -gt 0 ]; then
  make_csv "$WORK/job.csv" --rows "$JOB_ROWS" >/dev/null
  start
  id=$(upload_and_validate "$WORK/job.csv")
  rm -f "$WORK/job.csv"
  after_upload=$(hwm_mib)
  t0=$(now)
  job=$(curl -sf -H "$AUTH" -H 'Content-Type: application/json' \
    -d "{\"model\":\"embed-english-v3.0\",\"dataset_id\":\"$id\",\"input_type\":\"search_document\",\"embedding_types\":[\"int8\"]}" \
    "$URL/v1/embed-jobs" | json 'd["job_id"]')
  while :; do
    s=$(curl -sf -H "$AUTH" "$URL/v1/embed-jobs/$job" | json 'd["status"]')
    [ "$s" = complete ] && break
    [ "$s" = failed ] && { echo "job failed" >&2; tail "$WORK/log" >&2; exit 1; }
    sleep 2
  done
  t1=$(now)
  echo "job over $JOB_ROWS rows (lexical, int8): $(python3 -c "print(f'{$t1-$t0:.0f}')") s," \
    "peak RSS $(hwm_mib) MiB (after its upload + validation: $after_upload MiB)"
  stop
fi
