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
# Copy k of the corpus (k = 0, 1, ...) carries "(variant k)" at a place that depends on the row,
# so no two rows share a text and the first run finds nothing in the cache.
python3 - "$GEN/corpus.jsonl" "$ROWS" >"$WORK/input.jsonl" <<'PY'
import json, sys
corpus = [json.loads(line) for line in open(sys.argv[1], encoding="utf-8") if line.strip()]
for i in range(int(sys.argv[2])):
    k, text = divmod(i, len(corpus))[0], corpus[i % len(corpus)]
    if k:
        words = text.split(" ")
        at = (i * 7919) % (len(words) + 1)
        text = " ".join(words[:at] + [f"(variant {k})"] + words[at:])
    print(json.dumps({"text": text, "id": i}, ensure_ascii=False))
PY

"$BIN" serve --listen 127.0.0.1:0 --data-dir "$WORK/data" --api-key bench \
  --model "bench=$MODEL" --threads "$THREADS" --cache-mb "$CACHE_MB" >"$WORK/out" 2>"$WORK/log" &
PID=$!
for _ in $(seq 1 600); do grep -q "listening on" "$WORK/out" 2>/dev/null && break; sleep 0.1; done
URL="http://$(sed -n 's/^listening on //p' "$WORK/out")"

echo "CPU: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores; engine threads: $THREADS; model: MiniLM geometry (random weights); rows: $ROWS; --cache-mb $CACHE_MB"
python3 - "$URL" "$WORK/input.jsonl" "$WORK/data/cache.sqlite" <<'PY'
import json, os, sys, time, urllib.request, uuid

url, input_path, cache_path = sys.argv[1:4]
AUTH = {"Authorization": "Bearer bench"}

def call(method, path, body=None, headers=None):
    h = dict(AUTH, **(headers or {}))
    data = body
    if isinstance(body, dict):
        data = json.dumps(body).encode()
        h["Content-Type"] = "application/json"
    req = urllib.request.Request(url + path, data=data, method=method, headers=h)
    with urllib.request.urlopen(req, timeout=600) as r:
        return json.loads(r.read() or b"{}")

def load():
    return " ".join(open("/proc/loadavg").read().split()[:3])

boundary = uuid.uuid4().hex
payload = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"data\"; filename=\"rows.jsonl\"\r\n"
           "Content-Type: application/octet-stream\r\n\r\n").encode() + open(input_path, "rb").read() + \
          f"\r\n--{boundary}--\r\n".encode()
ds = call("POST", "/v1/datasets?name=cache-bench&type=embed-input&keep_fields=id", payload,
          {"Content-Type": f"multipart/form-data; boundary={boundary}"})["id"]
while (st := call("GET", f"/v1/datasets/{ds}")["dataset"]["validation_status"]) != "validated":
    if st == "failed":
        sys.exit("dataset validation failed")
    time.sleep(0.2)

def run_job():
    before = load()
    t0 = time.monotonic()
    job = call("POST", "/v1/embed-jobs", {"model": "bench", "dataset_id": ds,
                                          "input_type": "search_document", "embedding_types": ["float"]})["job_id"]
    while (j := call("GET", f"/v1/embed-jobs/{job}"))["status"] != "complete":
        if j["status"] in ("failed", "cancelled"):
            sys.exit(f"job {job}: {j['status']} {j.get('failure_reason', '')}")
        time.sleep(0.05)
    return time.monotonic() - t0, j, before, load()

def output(job):
    parts = call("GET", f"/v1/datasets/{job['output_dataset_id']}")["dataset"]["dataset_parts"]
    out = []
    for p in sorted(parts, key=lambda p: p["index"]):
        with urllib.request.urlopen(p["url"], timeout=600) as r:
            data = r.read()
        sync = data[-16:]  # an Avro container file ends with its sync marker
        out.append(data.replace(sync, b"<sync>"))
    return out

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
echo "server peak RSS: $(awk '/VmHWM/ {printf "%.0f MiB", $2/1024}' /proc/$PID/status)"
