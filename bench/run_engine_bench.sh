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
# (c) runs bench/engine_bench, which runs our engine and the ORT peer (node/bench_ort.js)
#     alternately on the same token ids, model and thread count for --rounds rounds (the
#     machine is shared: alternation spreads the other load over both),
# (d) which prints tokens/s for both (median of all timed repetitions, and best repetition),
#     the ratios, our peak RSS and our share of time in GEMM / attention / the rest.
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

# (c) + (d): engine_bench runs ours and the ORT peer alternately and prints the summary.
BIN=$BUILD/bench/engine_bench
if [[ ! -x $BIN ]]; then
  cmake --build "$BUILD" --target engine_bench -j2 >/dev/null
fi
RES=$WORK/results
mkdir -p "$RES"
for m in "${model_list[@]}"; do
  echo "== $m: ours vs onnxruntime-node, threads $THREADS, $ROUNDS round(s) x $REPS reps"
  "$BIN" --model "$GEN/$m" --corpus "$GEN/$m/corpus_tokens.json" --threads "$THREADS" \
    --reps "$REPS" --rounds "$ROUNDS" --seq 128 --batch 32 --peer-kit "$KIT" \
    --json "$RES/${m}.json" | tee "$RES/${m}.log"
done
echo
echo "== summary"
for m in "${model_list[@]}"; do
  sed -n '/^summary/,$p' "$RES/${m}.log"
done
