#!/usr/bin/env bash
# Engine benchmark vs the ONNX Runtime peer (issue 3, "What must be shown").
#
#   bench/run_engine_bench.sh [--setup-only] [--models minilm,base] [--reps 5] [--threads 2]
#
# (a) installs what the peer kit needs (python3-numpy python3-torch python3-onnx
#     libopenblas0-openmp; `npm ci` with ONNXRUNTIME_NODE_INSTALL=skip),
# (b) copies ../shared/peers to a scratch dir and makes the models (random weights, MiniLM and
#     BERT-base geometry), the corpus, the ONNX exports and the corpus token ids,
# (c) runs our engine (build/<dir>/bench/engine_bench) and the ORT peer (node/bench_ort.js) back
#     to back on the same token ids, model and thread count,
# (d) prints tokens/s for both, the ratio, our peak RSS and our GEMM share.
# Env: EJ_BUILD_DIR (default build-eng), EJ_BENCH_WORK (default /tmp/ej_engine_bench),
#      EJ_PEERS (default <repo>/../shared/peers).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${EJ_BUILD_DIR:-$ROOT/build-eng}
WORK=${EJ_BENCH_WORK:-/tmp/ej_engine_bench}
PEERS_SRC=${EJ_PEERS:-$ROOT/../shared/peers}
MODELS=minilm,base
REPS=5
THREADS=2
SETUP_ONLY=0
while [[ $# -gt 0 ]]; do
  case "$1" in
    --models) MODELS=$2; shift 2 ;;
    --reps) REPS=$2; shift 2 ;;
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
for m in "${model_list[@]}"; do
  echo "== $m: ours (threads $THREADS)"
  "$BIN" --model "$GEN/$m" --corpus "$GEN/$m/corpus_tokens.json" --threads "$THREADS" \
    --reps "$REPS" --seq 128 --batch 32 --json "$RES/${m}_ours.json"
  echo "== $m: onnxruntime-node (threads $THREADS)"
  (cd "$KIT" && node node/bench_ort.js --model "generated/$m" --seqs 128 --batch 32 \
    --threads "$THREADS" --corpus "generated/$m/corpus_tokens.json" --reps "$REPS" \
    --json "$RES/${m}_ort.json")
done

# (d) summary
$PY - "$RES" "${model_list[@]}" <<'PYEOF'
import json, sys
res, models = sys.argv[1], sys.argv[2:]
print()
print(f"{'model':8} {'workload':12} {'ours tok/s':>11} {'ORT tok/s':>10} {'ratio':>6} "
      f"{'GEMM share':>10} {'peak RSS MiB':>12}")
for m in models:
    ours = json.load(open(f"{res}/{m}_ours.json"))
    ort = json.load(open(f"{res}/{m}_ort.json"))
    ort_by = {}
    for r in ort["results"]:
        ort_by["corpus" if r["name"].startswith("corpus") else r["name"]] = r["tok_per_s"]
    for r in ours["results"]:
        o = ort_by.get(r["name"])
        ratio = f"{r['tok_per_s'] / o:6.2f}" if o else "   n/a"
        print(f"{m:8} {r['name']:12} {r['tok_per_s']:11.0f} {o or 0:10.0f} {ratio} "
              f"{100 * r['gemm_share']:9.1f}% {ours['peak_rss_mib']:12.0f}")
PYEOF
