#!/usr/bin/env bash
# Engine benchmark vs the ONNX Runtime peer (issue 3, "What must be shown").
#
#   bench/run_engine_bench.sh [--setup-only] [--models minilm,base] [--reps 3] [--rounds 2]
#                             [--threads 2]
#
# (a) installs what the peer kit needs (python3-numpy python3-torch python3-onnx
#     libopenblas0-openmp; `npm ci` with ONNXRUNTIME_NODE_INSTALL=skip),
# (b) copies ../shared/peers to a scratch dir and makes the models (random weights, MiniLM and
#     BERT-base geometry), the corpus, the ONNX exports and the corpus token ids,
# (c) runs our engine (build/<dir>/bench/engine_bench) and the ORT peer (node/bench_ort.js) back
#     to back on the same token ids, model and thread count, alternating for --rounds rounds
#     (the machine is shared: alternation spreads the other load over both),
# (d) prints tokens/s for both (median of all timed repetitions, and best repetition), the
#     ratios, our peak RSS and our share of time in GEMM / attention / the rest.
# Env: EJ_BUILD_DIR (default build-eng), EJ_BENCH_WORK (default /tmp/ej_engine_bench),
#      EJ_PEERS (default <repo>/../shared/peers).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${EJ_BUILD_DIR:-$ROOT/build-eng}
WORK=${EJ_BENCH_WORK:-/tmp/ej_engine_bench}
PEERS_SRC=${EJ_PEERS:-$ROOT/../shared/peers}
MODELS=minilm,base
REPS=3
ROUNDS=2
THREADS=2
SETUP_ONLY=0
while [[ $# -gt 0 ]]; do
  case "$1" in
    --models) MODELS=$2; shift 2 ;;
    --reps) REPS=$2; shift 2 ;;
    --rounds) ROUNDS=$2; shift 2 ;;
    --threads) THREADS=$2; shift 2 ;;
    --setup-only) SETUP_ONLY=1; shift ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
done
PY=/usr/bin/python3
KIT=$WORK/peers
GEN=$KIT/generated

# (a) dependencies of the peer kit
need=()
for p in python3-numpy python3-torch python3-onnx libopenblas0-openmp; do
  dpkg -s "$p" >/dev/null 2>&1 || need+=("$p")
done
if [[ ${#need[@]} -gt 0 ]]; then
  SUDO=; [[ $(id -u) -ne 0 ]] && SUDO=sudo
  echo "== installing ${need[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi

# (b) the kit, its node modules, models, ONNX exports and corpus token ids
mkdir -p "$WORK"
if [[ ! -d $KIT ]]; then
  cp -r "$PEERS_SRC" "$KIT"
  chmod -R u+w "$KIT"
fi
if [[ ! -d $KIT/node/node_modules ]]; then
  echo "== npm ci (peer kit)"
  (cd "$KIT/node" && ONNXRUNTIME_NODE_INSTALL=skip npm ci --no-audit --no-fund >/dev/null)
fi
IFS=, read -r -a model_list <<< "$MODELS"
for m in "${model_list[@]}"; do
  if [[ ! -f $GEN/$m/model.safetensors ]]; then
    echo "== making model $m"
    (cd "$KIT" && $PY make_model.py --preset "$m" >/dev/null)
  fi
  if [[ ! -f $GEN/$m/onnx/model.onnx ]]; then
    echo "== exporting $m to ONNX"
    (cd "$KIT" && $PY export_onnx.py --model "generated/$m" >/dev/null)
  fi
  if [[ ! -f $GEN/$m/corpus_tokens.json ]]; then
    echo "== tokenizing the corpus for $m"
    (cd "$KIT" && $PY reference.py --model "generated/$m" --texts generated/corpus.jsonl \
      --tokenize-only --out "generated/$m/corpus_tokens.json" >/dev/null)
  fi
done
[[ $SETUP_ONLY -eq 1 ]] && { echo "setup done in $WORK"; exit 0; }

# (c) ours and the peer, back to back
BIN=$BUILD/bench/engine_bench
if [[ ! -x $BIN ]]; then
  cmake --build "$BUILD" --target engine_bench -j2 >/dev/null
fi
RES=$WORK/results
mkdir -p "$RES"
rm -f "$RES"/*.json
for m in "${model_list[@]}"; do
  for r in $(seq 1 "$ROUNDS"); do
    echo "== $m round $r: ours (threads $THREADS)"
    "$BIN" --model "$GEN/$m" --corpus "$GEN/$m/corpus_tokens.json" --threads "$THREADS" \
      --reps "$REPS" --seq 128 --batch 32 --json "$RES/${m}_ours_r$r.json"
    echo "== $m round $r: onnxruntime-node (threads $THREADS)"
    (cd "$KIT" && node node/bench_ort.js --model "generated/$m" --seqs 128 --batch 32 \
      --threads "$THREADS" --corpus "generated/$m/corpus_tokens.json" --reps "$REPS" \
      --json "$RES/${m}_ort_r$r.json")
  done
done

# (d) summary
$PY - "$RES" "$ROUNDS" "${model_list[@]}" <<'PYEOF'
import json, statistics, sys
res, rounds, models = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
def key(name):
    return "corpus" if name.startswith("corpus") else name
print()
print("tokens/s: median of all timed repetitions (best repetition); ratio = ours / ORT")
print(f"{'model':7} {'workload':9} {'ours tok/s':>17} {'ORT tok/s':>17} {'ratio med':>9} "
      f"{'ratio best':>10} {'GEMM':>6} {'attn':>6} {'rest':>6} {'peak RSS':>9}")
for m in models:
    ours, ort, rss = {}, {}, 0
    for r in range(1, rounds + 1):
        o = json.load(open(f"{res}/{m}_ours_r{r}.json"))
        rss = max(rss, o["peak_rss_mib"])
        for x in o["results"]:
            d = ours.setdefault(key(x["name"]), {"tokens": x["tokens"], "times": [], "g": 0, "a": 0, "t": 0})
            d["times"] += x["times_s"]; d["g"] += x["gemm_s"]; d["a"] += x["attention_s"]; d["t"] += x["total_s"]
        p = json.load(open(f"{res}/{m}_ort_r{r}.json"))
        for x in p["results"]:
            d = ort.setdefault(key(x["name"]), {"tokens": x["tokens"], "times": []})
            d["times"] += x["times_s"]
    for w, d in ours.items():
        med = d["tokens"] / statistics.median(d["times"]); best = d["tokens"] / min(d["times"])
        if w in ort:
            p = ort[w]
            pmed = p["tokens"] / statistics.median(p["times"]); pbest = p["tokens"] / min(p["times"])
            rm, rb = f"{med / pmed:9.2f}", f"{best / pbest:10.2f}"
            ptxt = f"{pmed:7.0f} ({pbest:6.0f})"
        else:
            rm, rb, ptxt = f"{'n/a':>9}", f"{'n/a':>10}", f"{'n/a':>17}"
        print(f"{m:7} {w:9} {med:7.0f} ({best:6.0f}) {ptxt:>17} {rm} {rb} "
              f"{100 * d['g'] / d['t']:5.1f}% {100 * d['a'] / d['t']:5.1f}% "
              f"{100 * (d['t'] - d['g'] - d['a']) / d['t']:5.1f}% {rss:6.0f} MiB")
PYEOF
