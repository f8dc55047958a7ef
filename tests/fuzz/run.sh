#!/usr/bin/env bash
# Builds the libFuzzer targets (clang, ASan + UBSan) into build-fuzz/ and runs each for a bounded
# time over its seed corpus (tests/fuzz/corpus/<target>/, which also holds every crash input found
# so far as a regression seed). New corpus entries go to build-fuzz/corpus/<target>/, never into
# the repo. A crash, a sanitizer report or a leak fails the run and leaves the input in
# build-fuzz/artifacts/<target>/.
#   FUZZ_SECONDS  seconds per target (default 20)
#   FUZZ_TARGETS  targets to run (default: all)
#   JOBS          build parallelism (default nproc)
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
out="$repo/build-fuzz"
secs="${FUZZ_SECONDS:-20}"
targets=(${FUZZ_TARGETS:-fuzz_csv fuzz_jsonl fuzz_multipart fuzz_json_request fuzz_tokenizer})
if ! command -v clang++ >/dev/null 2>&1; then
  echo "tests/fuzz/run.sh: clang++ not found (bash scripts/install-deps.sh installs clang)" >&2
  exit 1
fi
launcher=()
command -v ccache >/dev/null 2>&1 && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
export CCACHE_BASEDIR=${CCACHE_BASEDIR:-$repo} CCACHE_NOHASHDIR=${CCACHE_NOHASHDIR:-true}
CXX=clang++ cmake -S "$here" -B "$out" -DCMAKE_BUILD_TYPE=None "${launcher[@]}" >/dev/null
cmake --build "$out" -j"${JOBS:-$(nproc)}" --target "${targets[@]}"
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:${ASAN_OPTIONS:-}"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:${UBSAN_OPTIONS:-}"
status=0
for t in "${targets[@]}"; do
  mkdir -p "$out/corpus/$t" "$out/artifacts/$t"
  seeds="$here/corpus/$t"
  log="$out/$t.log"
  # -rss_limit_mb: the parsers stream; a single input may not need more than this.
  if "$out/$t" -max_total_time="$secs" -timeout=10 -rss_limit_mb=1024 -max_len=65536 \
      -print_final_stats=1 -artifact_prefix="$out/artifacts/$t/" \
      "$out/corpus/$t" "$seeds" >"$log" 2>&1; then
    runs=$(grep -Eo 'stat::number_of_executed_units: *[0-9]+' "$log" | grep -Eo '[0-9]+$' || echo "?")
    echo "fuzz: $t ok, $runs executions in ${secs} s"
  else
    echo "fuzz: $t FAILED (input in build-fuzz/artifacts/$t/); the end of its log:" >&2
    tail -40 "$log" >&2
    status=1
  fi
done
exit $status
