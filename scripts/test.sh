#!/usr/bin/env bash
# Sets up and runs every test: unit tests (also under ASan + UBSan), the integration tests
# that drive the real server with the cohere-ai SDK, and the restart test.
set -euo pipefail
cd "$(dirname "$0")/.."
# The main build is a Release build (what users get), with warnings as errors.
CMAKE_ARGS="-DEMBEDJOBS_WERROR=ON" BUILD_TYPE=Release bash scripts/setup.sh

echo "== format check"
files=$(git ls-files 'src/*.cpp' 'src/*.h' 'tests/*.cpp' 'bench/*.cpp' 2>/dev/null || true)
if [ -n "$files" ]; then
  clang-format --dry-run --Werror $files
fi

# A throwaway PostgreSQL server (initdb in a temp dir, a loopback port) for the PostgreSQL
# variants of the store suite; stopped and deleted when this script exits, however it exits.
echo "== PostgreSQL test server"
trap 'bash scripts/pg_test_server.sh stop' EXIT
eval "$(bash scripts/pg_test_server.sh start)"
export EMBEDJOBS_TEST_PG

echo "== unit tests + tokenizer cross-check against Hugging Face tokenizers (npm)"
(cd build && ctest --output-on-failure -j"$(nproc)")

echo "== unit tests under AddressSanitizer + UndefinedBehaviorSanitizer"
BUILD_DIR=build-asan BUILD_TYPE=RelWithDebInfo \
  CMAKE_ARGS="-DEMBEDJOBS_WERROR=ON -DEMBEDJOBS_SANITIZE=ON -DEMBEDJOBS_BUILD_BENCH=OFF" bash scripts/build.sh
(cd build-asan && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
  ctest --output-on-failure -j"$(nproc)" -L unit)

echo "== libFuzzer targets (clang, ASan + UBSan)" && bash tests/fuzz/run.sh
echo "== integration tests (real server, cohere-ai SDK)"
EMBEDJOBS_BIN="$PWD/build/embedjobs" bash tests/integration/run.sh

echo "== chaos: SIGKILLs, a stalled worker, SDK retries, poison chunks"
EMBEDJOBS_BIN="$PWD/build/embedjobs" bash tests/chaos/run.sh

echo "== the dashboard in headless Chromium (playwright-core); screenshots in build/test-artifacts/"
EMBEDJOBS_BIN="$PWD/build/embedjobs" node --test --test-concurrency=1 tests/browser/
