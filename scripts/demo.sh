#!/usr/bin/env bash
# The main job end to end: sets up, starts the server, uploads a sample dataset with the
# cohere-ai SDK, runs an embed job, and runs a small semantic search over its output.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
DATA_DIR=$(mktemp -d /tmp/embedjobs-demo.XXXXXX)
KEY=demo-key-$RANDOM$RANDOM
./build/embedjobs serve --listen 127.0.0.1:0 --data-dir "$DATA_DIR" --api-key "$KEY" \
  --model embed-english-v3.0=lexical >"$DATA_DIR/server.out" 2>"$DATA_DIR/server.log" &
PID=$!
trap 'kill $PID 2>/dev/null; wait $PID 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do
  grep -q "listening on" "$DATA_DIR/server.out" 2>/dev/null && break
  sleep 0.1
done
ADDR=$(sed -n 's/^listening on //p' "$DATA_DIR/server.out")
echo "server: http://$ADDR (data dir $DATA_DIR, log $DATA_DIR/server.log)"
EMBEDJOBS_URL="http://$ADDR" CO_API_KEY="$KEY" node tests/integration/demo.mjs
