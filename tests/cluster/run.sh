#!/usr/bin/env bash
# The cluster test (tests/cluster/*.test.mjs): API and worker processes sharing one PostgreSQL.
# Uses the server EMBEDJOBS_TEST_PG names, or starts a throwaway one (scripts/pg_test_server.sh)
# and stops it afterwards. Needs a built binary (build/embedjobs, or EMBEDJOBS_BIN) and psql.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
export EMBEDJOBS_BIN="${EMBEDJOBS_BIN:-$repo/build/embedjobs}"
if [[ ! -x "$EMBEDJOBS_BIN" ]]; then
  echo "cluster/run.sh: no embedjobs binary at $EMBEDJOBS_BIN (build it first, or set EMBEDJOBS_BIN)" >&2
  exit 1
fi
if [[ ! -d "$repo/tests/integration/node_modules/cohere-ai" ]]; then
  (cd "$repo/tests/integration" && npm ci --no-audit --no-fund)
fi
if [[ -z "${EMBEDJOBS_TEST_PG:-}" ]]; then
  export EMBEDJOBS_PG_STATE="$repo/build/pg-cluster-test"
  eval "$(bash "$repo/scripts/pg_test_server.sh" start)"
  trap 'bash "$repo/scripts/pg_test_server.sh" stop' EXIT
fi
cd "$here"
start=$(date +%s)
node --test --test-concurrency=1 --test-timeout=900000 "${@:-cluster.test.mjs}"
echo "cluster suite: $(( $(date +%s) - start )) s"
