#!/usr/bin/env bash
# One-time setup on Debian 12: system packages, npm test dependencies, and the build.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
for dir in tests/integration tests/tokenizer tests/browser; do
  if [ -f "$dir/package-lock.json" ]; then
    (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
  fi
done
bash scripts/build.sh
