#!/usr/bin/env bash
# Runs the integration tests: the real embedjobs binary driven by the cohere-ai npm SDK.
# Needs Node 20+ and a built binary (build/embedjobs, or EMBEDJOBS_BIN=/path/to/embedjobs).
# Extra arguments are passed to `node --test` (e.g. a single test file).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
export EMBEDJOBS_BIN="${EMBEDJOBS_BIN:-$repo/build/embedjobs}"
if [[ ! -x "$EMBEDJOBS_BIN" ]]; then
  echo "run.sh: no embedjobs binary at $EMBEDJOBS_BIN (build it first, or set EMBEDJOBS_BIN)" >&2
  exit 1
fi
node_major="$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)"
if (( node_major < 20 )); then
  echo "run.sh: Node.js 20 or newer is needed (found $(node --version 2>/dev/null || echo none))" >&2
  exit 1
fi
cd "$here"
if [[ ! -d node_modules/cohere-ai || ! -d node_modules/avsc ]]; then
  npm ci --no-audit --no-fund
fi
if [[ $# -gt 0 ]]; then
  files=("$@")
else
  files=(*.test.mjs)
fi
exec node --test --test-concurrency=1 --test-timeout=180000 "${files[@]}"
