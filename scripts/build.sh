#!/usr/bin/env bash
# Configures and builds embedjobs into build/ (Release-with-debug-info, warnings as errors).
#   BUILD_DIR   where to build (default build)
#   CMAKE_ARGS  extra arguments for cmake
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build}
JOBS=${JOBS:-$(nproc)}
cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=RelWithDebInfo ${CMAKE_ARGS:-} >/dev/null
cmake --build "$BUILD_DIR" -j"$JOBS"
