#!/usr/bin/env bash
# Chaos tests: the real embedjobs binary killed, stalled and made to lose replies while it works
# (tests/chaos/*.test.mjs; lexical model, small datasets; a few minutes in all). They share the
# integration tests' harness and npm packages (tests/integration/node_modules).
# Needs Node 20+ and a built binary (build/embedjobs, or EMBEDJOBS_BIN=/path/to/embedjobs).
# Extra arguments are the test files to run (default: all).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
export EMBEDJOBS_BIN="${EMBEDJOBS_BIN:-$repo/build/embedjobs}"
if [[ ! -x "$EMBEDJOBS_BIN" ]]; then
  echo "chaos/run.sh: no embedjobs binary at $EMBEDJOBS_BIN (build it first, or set EMBEDJOBS_BIN)" >&2
  exit 1
fi
if [[ ! -d "$repo/tests/integration/node_modules/cohere-ai" ]]; then
  (cd "$repo/tests/integration" && npm ci --no-audit --no-fund)
fi
cd "$here"
echo "== chaos tests (SIGKILLs, a stalled worker, lost replies; tests/chaos)"
if [[ $# -gt 0 ]]; then
  files=("$@")
else
  files=(*.test.mjs)
fi
start=$(date +%s)
node --test --test-concurrency=1 --test-timeout=300000 "${files[@]}"
echo "chaos suite: $(( $(date +%s) - start )) s"
