#!/usr/bin/env bash
# Job throughput benchmark: a ROWS-row embed-input dataset (default 100,000), one embed job,
# end to end through the HTTP API. Prints validation time, job rows/s and the server's peak RSS.
#   MODEL_SOURCE  what to serve (default lexical; or a model folder for the neural engine)
#   EMBEDDING_TYPES  JSON list (default ["float"])
set -euo pipefail
cd "$(dirname "$0")/.."
ROWS=${ROWS:-100000}
MODEL_SOURCE=${MODEL_SOURCE:-lexical}
TYPES=${EMBEDDING_TYPES:-'["float"]'}
BIN=${EMBEDJOBS_BIN:-build/embedjobs}
WORK=$(mktemp -d /tmp/embedjobs-bench.XXXXXX)
trap 'kill $PID 2>/dev/null || true; rm -rf "$WORK"' EXIT

python3 - "$ROWS" > "$WORK/input.jsonl" <<'PY'
import json, random, sys
random.seed(42)
words = ("embedding vector search document query cohere batch server dataset model token "
         "neural lexical hash job chunk lease worker avro part signed url quick brown fox "
         "jumps lazy dog résumé café 東京 naïve data science retrieval ranking").split()
for i in range(int(sys.argv[1])):
    n = random.randint(5, 60)
    print(json.dumps({"text": " ".join(random.choice(words) for _ in range(n)), "id": i}))
PY
echo "input: $ROWS rows, $(du -h "$WORK/input.jsonl" | cut -f1)"

${PERF_PREFIX:-} "$BIN" serve --listen 127.0.0.1:0 --data-dir "$WORK/data" --api-key bench \
  --model "bench-model=$MODEL_SOURCE" >"$WORK/out" 2>"$WORK/log" &
PID=$!
for _ in $(seq 1 600); do grep -q "listening on" "$WORK/out" 2>/dev/null && break; sleep 0.1; done
URL="http://$(sed -n 's/^listening on //p' "$WORK/out")"
AUTH="Authorization: Bearer bench"
now() { date +%s.%N; }

t0=$(now)
ID=$(curl -sf -H "$AUTH" -F "data=@$WORK/input.jsonl" "$URL/v1/datasets?name=bench&type=embed-input&keep_fields=id" |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
while :; do
  S=$(curl -sf -H "$AUTH" "$URL/v1/datasets/$ID" | python3 -c 'import json,sys; print(json.load(sys.stdin)["dataset"]["validation_status"])')
  [ "$S" = validated ] && break
  [ "$S" = failed ] && { echo "validation failed"; exit 1; }
  sleep 0.2
done
t1=$(now)
JOB=$(curl -sf -H "$AUTH" -H 'Content-Type: application/json' \
  -d "{\"model\":\"bench-model\",\"dataset_id\":\"$ID\",\"input_type\":\"search_document\",\"embedding_types\":$TYPES}" \
  "$URL/v1/embed-jobs" | python3 -c 'import json,sys; print(json.load(sys.stdin)["job_id"])')
while :; do
  S=$(curl -sf -H "$AUTH" "$URL/v1/embed-jobs/$JOB" | python3 -c 'import json,sys; print(json.load(sys.stdin)["status"])')
  [ "$S" = complete ] && break
  [ "$S" = failed ] && { echo "job failed"; tail "$WORK/log"; exit 1; }
  sleep 0.2
done
t2=$(now)
HWM=$(grep VmHWM /proc/$PID/status | awk '{print $2}')
OUT=$(curl -sf -H "$AUTH" "$URL/v1/embed-jobs/$JOB" | python3 -c 'import json,sys; j=json.load(sys.stdin); print(j["output_dataset_id"], j["meta"]["billed_units"]["input_tokens"])')
python3 - "$ROWS" "$t0" "$t1" "$t2" "$HWM" "$OUT" "$MODEL_SOURCE" <<'PY'
import sys
rows, t0, t1, t2, hwm = int(sys.argv[1]), *map(float, sys.argv[2:5]), int(sys.argv[5])
out, tokens = sys.argv[6].split()
print(f"model: {sys.argv[7]}")
print(f"upload + validation: {t1 - t0:.2f} s ({rows / (t1 - t0):,.0f} rows/s)")
print(f"embed job: {t2 - t1:.2f} s = {rows / (t2 - t1):,.0f} rows/s, {int(tokens) / (t2 - t1):,.0f} tokens/s")
print(f"server peak RSS: {hwm / 1024:.1f} MiB")
print(f"output dataset: {out}")
PY
