#!/usr/bin/env bash
# Configures and builds embedjobs into build/ (Release by default; what users and packagers get).
#   BUILD_DIR   where to build (default build)
#   BUILD_TYPE  CMake build type (default Release; RelWithDebInfo and Debug work too)
#   CMAKE_ARGS  extra arguments for cmake (scripts/test.sh adds -DEMBEDJOBS_WERROR=ON)
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build}
BUILD_TYPE=${BUILD_TYPE:-Release}
JOBS=${JOBS:-$(nproc)}
# Rebuilds (and CI on a machine that built before) reuse objects through ccache when it is there.
if command -v ccache >/dev/null 2>&1 && [ -z "${CMAKE_CXX_COMPILER_LAUNCHER:-}" ]; then
  export CMAKE_CXX_COMPILER_LAUNCHER=ccache CMAKE_C_COMPILER_LAUNCHER=ccache
fi
# Paths relative to the checkout, and the build dir out of the hash: another clone of the same
# commit (CI's fresh clone, a second worktree) finds the objects an earlier build left.
export CCACHE_BASEDIR=${CCACHE_BASEDIR:-$PWD} CCACHE_NOHASHDIR=${CCACHE_NOHASHDIR:-true}
cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE="$BUILD_TYPE" ${CMAKE_ARGS:-} >/dev/null
cmake --build "$BUILD_DIR" -j"$JOBS"
