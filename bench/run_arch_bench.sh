#!/usr/bin/env bash
# Newer-architecture benchmark (issue 10): our engine vs PyTorch eager on the Qwen3-Embedding-0.6B
# and ModernBERT-base geometries (random weights), same token ids, same thread count.
#
#   bench/run_arch_bench.sh [--archs modernbert-base,qwen3-0.6b] [--batch 8] [--seq 128]
#                           [--reps 2] [--threads 2]
#
# Makes the models with bench/arch_bench.py (Debian python3-torch + python3-numpy +
# libopenblas0-openmp), then runs build/bench/engine_bench (ours) and `arch_bench.py torch`
# (the peer) back to back on DIR/bench_ids.json; prints tok/s of both, the ratio and both peak
# RSS figures (VmHWM / ru_maxrss), naming the CPU. Env: EJ_BUILD_DIR (default build),
# EJ_BENCH_WORK (default /tmp/ej_arch_bench).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${EJ_BUILD_DIR:-$ROOT/build}
WORK=${EJ_BENCH_WORK:-/tmp/ej_arch_bench}
ARCHS=modernbert-base,qwen3-0.6b
BATCH=8
SEQ=128
REPS=2
THREADS=2
while [[ $# -gt 0 ]]; do
  case "$1" in
    --archs) ARCHS=$2; shift 2 ;;
    --batch) BATCH=$2; shift 2 ;;
    --seq) SEQ=$2; shift 2 ;;
    --reps) REPS=$2; shift 2 ;;
    --threads) THREADS=$2; shift 2 ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
done
PY=/usr/bin/python3
need=()
for p in python3-numpy python3-torch libopenblas0-openmp; do
  dpkg -s "$p" >/dev/null 2>&1 || need+=("$p")
done
if [[ ${#need[@]} -gt 0 ]]; then
  SUDO=; [[ $(id -u) -ne 0 ]] && SUDO=sudo
  echo "== installing ${need[*]}"
  $SUDO apt-get install -y "${need[@]}" >/dev/null
fi
echo "CPU: $(lscpu | grep 'Model name' | sed 's/Model name:\s*//'), $(nproc) cores; load: $(cut -d' ' -f1-3 /proc/loadavg)"
IFS=, read -ra list <<< "$ARCHS"
for arch in "${list[@]}"; do
  dir=$WORK/$arch
  if [[ ! -f $dir/model.safetensors || ! -f $dir/bench_ids.json ]] ||
     [[ $($PY -c "import json;d=json.load(open('$dir/bench_ids.json'))['input_ids'];print(len(d),len(d[0]))") != "$BATCH $SEQ" ]]; then
    $PY "$ROOT/bench/arch_bench.py" make --arch "$arch" --out "$dir" --batch "$BATCH" --seq "$SEQ"
  fi
  ours=$("$BUILD/bench/engine_bench" --model "$dir" --seq 0 --corpus "$dir/bench_ids.json" \
           --threads "$THREADS" --reps "$REPS" --warmup 1 --json "$dir/ours.json")
  echo "$ours" | grep -E "^ours( corpus|: peak)"
  peer=$($PY "$ROOT/bench/arch_bench.py" torch --model "$dir" --threads "$THREADS" --reps "$REPS" \
           --warmup 1 --json "$dir/torch.json")
  echo "$peer"
  $PY - "$dir" "$arch" <<'PYEOF'
import json, sys
d, arch = sys.argv[1], sys.argv[2]
o = json.load(open(f"{d}/ours.json"))
ours = [r for r in o["results"] if r["name"] == "corpus"][0]["tok_per_s"] if "results" in o else o["tok_per_s"]
t = json.load(open(f"{d}/torch.json"))
print(f"== {arch}: ours {ours:.0f} tok/s, torch eager {t['tok_per_s']:.0f} tok/s, ratio {ours / t['tok_per_s']:.2f}x; peak RSS ours {o['peak_rss_mib']:.0f} MiB, torch {t['peak_rss_mib']:.0f} MiB")
PYEOF
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
