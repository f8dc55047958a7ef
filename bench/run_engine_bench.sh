#!/usr/bin/env bash
# Engine benchmark vs the ONNX Runtime peer, per geometry and compute mode (issues 3 and 11).
#
#   bench/run_engine_bench.sh [--setup-only] [--models minilm,base] [--dtypes fp32,bf16,int8]
#                             [--reps 3] [--rounds 1] [--threads 2] [--no-corpus]
#
# Everything it needs is in this repository:
# (a) installs Debian's python3-numpy + python3-torch (to make the models and export ONNX) and,
#     with `npm ci` in bench/peers, onnxruntime-node (bench/peers/package-lock.json);
# (b) bench/peers/bert_model.py makes random-weight BERT sentence-embedding models of the real
#     geometries (minilm = all-MiniLM-L6-v2, base = BERT-base; mean pooling + normalize), their
#     ONNX export and a 1,000-sequence mixed-length corpus of token ids, under EJ_BENCH_WORK;
# (c) for each geometry and dtype, bench/engine_bench runs our engine in that dtype and the ORT
#     peer (bench/peers/ort_peer.js, fp32) alternately on the same model, token ids ("b32 s128":
#     32 x 128 random ids; "corpus") and threads, then times oneDNN alone on the model's GEMM
#     shapes in that dtype (the GEMM ceiling) and on the engine's own backend (our bf16 / int8 GEMM where
#     it applies); one process per dtype, so the peak RSS is the mode's own;
# (d) prints one table: ORT fp32 tok/s, ours per dtype, the ratio to ORT fp32 (goals: fp32 >= 1.3,
#     bf16 >= 2, int8 >= 3), the fraction of the GEMM ceiling, peak RSS, CPU and threads.
# Env: EJ_BUILD_DIR (default build), EJ_BENCH_WORK (default /tmp/ej_engine_bench).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${EJ_BUILD_DIR:-$ROOT/build}
WORK=${EJ_BENCH_WORK:-/tmp/ej_engine_bench}
PEERS=$ROOT/bench/peers
MODELS=minilm,base
DTYPES=fp32,bf16,int8
REPS=3
ROUNDS=1
THREADS=2
SETUP_ONLY=0
CORPUS=1
while [[ $# -gt 0 ]]; do
  case "$1" in
    --models) MODELS=$2; shift 2 ;;
    --dtypes) DTYPES=$2; shift 2 ;;
    --reps) REPS=$2; shift 2 ;;
    --rounds) ROUNDS=$2; shift 2 ;;
    --threads) THREADS=$2; shift 2 ;;
    --setup-only) SETUP_ONLY=1; shift ;;
    --no-corpus) CORPUS=0; shift ;;  # only the b32 s128 workload (quicker)
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
done
PY=/usr/bin/python3

# (a) dependencies
need=()
for p in python3-numpy python3-torch; do
  dpkg -s "$p" >/dev/null 2>&1 || need+=("$p")
done
if [[ ${#need[@]} -gt 0 ]]; then
  SUDO=; [[ $(id -u) -ne 0 ]] && SUDO=sudo
  echo "== installing ${need[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi
if [[ ! -d $PEERS/node_modules/onnxruntime-node ]]; then
  echo "== npm ci (bench/peers: onnxruntime-node)"
  (cd "$PEERS" && ONNXRUNTIME_NODE_INSTALL=skip npm ci --no-audit --no-fund >/dev/null)
fi

# (b) models, ONNX exports, corpus token ids
IFS=, read -r -a model_list <<< "$MODELS"
IFS=, read -r -a dtype_list <<< "$DTYPES"
mkdir -p "$WORK"
for m in "${model_list[@]}"; do
  if [[ ! -f $WORK/$m/onnx/model.onnx ]]; then
    echo "== making the $m model"
    $PY "$PEERS/bert_model.py" make --geometry "$m" --out "$WORK/$m" 2>/dev/null | tail -1
  fi
done
[[ $SETUP_ONLY -eq 1 ]] && { echo "setup done in $WORK"; exit 0; }

# (c) one engine_bench process per geometry and dtype
BIN=$BUILD/bench/engine_bench
if [[ ! -x $BIN ]]; then
  cmake --build "$BUILD" --target engine_bench -j2 >/dev/null
fi
RES=$WORK/results
mkdir -p "$RES"
for m in "${model_list[@]}"; do
  for d in "${dtype_list[@]}"; do
    echo "== $m $d: ours vs onnxruntime-node (fp32), threads $THREADS, $ROUNDS round(s) x $REPS reps"
    corpus_arg=(); [[ $CORPUS -eq 1 ]] && corpus_arg=(--corpus "$WORK/$m/corpus_tokens.json")
    "$BIN" --model "$WORK/$m" --dtype "$d" "${corpus_arg[@]}" \
      --threads "$THREADS" --reps "$REPS" --rounds "$ROUNDS" --seq 128 --batch 32 \
      --peer-kit "$PEERS" --gemm-ceiling --json "$RES/${m}_${d}.json" > "$RES/${m}_${d}.log"
    grep -E "^ours [bc]|^ORT|^GEMM|peak RSS" "$RES/${m}_${d}.log" | sed 's/^/   /'
  done
done

# (d) the table
echo
CPU=$(lscpu | sed -n 's/^Model name: *//p' | head -1)
echo "== engine benchmark: $CPU, $THREADS threads, $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg)"
$PY - "$RES" "$MODELS" "$DTYPES" <<'PYEOF'
import json, sys
res, models, dtypes = sys.argv[1], sys.argv[2].split(","), sys.argv[3].split(",")
goal = {"fp32": 1.3, "bf16": 2.0, "int8": 3.0}
print(f"{'geometry':8} {'workload':9} {'dtype':5} {'ORT fp32 tok/s':>14} {'ours tok/s':>10} "
      f"{'ratio':>6} {'goal':>5} {'GEMM ceiling tok/s':>18} {'of ceiling':>10} "
      f"{'our GEMMs tok/s':>15} {'GEMM share':>10} {'peak RSS':>9}")
for m in models:
    for d in dtypes:
        j = json.load(open(f"{res}/{m}_{d}.json"))
        c = j.get("gemm_ceiling") or {}
        for s in j["summary"]:
            ort, ours = s.get("ort_tok_per_s", 0), s["ours_tok_per_s"]
            ceil = c.get("tok_per_s", 0)
            print(f"{m:8} {s['name']:9} {d:5} {ort:14.0f} {ours:10.0f} "
                  f"{(ours / ort if ort else 0):6.2f} {goal.get(d, 0):5.1f} {ceil:18.0f} "
                  f"{(ours / ceil if ceil else 0):10.2f} "
                  f"{c.get('engine_backend_tok_per_s', 0):15.0f} {s['gemm_share']:10.2f} "
                  f"{j['peak_rss_mib']:6.0f} MiB")
PYEOF
