#!/usr/bin/env bash
# Installs the Debian 12 packages embedjobs needs to build, test and run.
set -euo pipefail
SUDO=""
if [ "$(id -u)" != "0" ]; then SUDO="sudo"; fi
# Only what the build, the tests and the server use; each line says who needs it.
PKGS=(
  build-essential cmake pkg-config git clang-format  # build + format check
  ccache                                             # faster rebuilds (scripts/build.sh uses it)
  libboost1.81-dev                                   # HTTP front (Boost.Beast / Asio)
  libcpp-httplib-dev                                 # the fake Hugging Face Hub in tests
  nlohmann-json3-dev libsimdjson-dev                 # JSON bodies; bulk JSONL ingest
  libsqlite3-dev                                     # the store
  libpq-dev postgresql                               # the PostgreSQL store; its tests' server
  libavro-dev                                        # dataset parts (Avro object container files)
  libssl-dev                                         # key hashes, signed URLs, checksums
  libcurl4-openssl-dev                               # model download from the Hub
  libdnnl-dev libutf8proc-dev libonig-dev            # engine GEMMs; tokenizer Unicode + regexes
  libcli11-dev                                       # command line
  libgtest-dev libgmock-dev                          # unit tests
  clang libclang-rt-14-dev                           # libFuzzer targets (tests/fuzz/run.sh)
  python3 python3-avro                               # integration test: an independent Avro reader
  chromium                                           # the dashboard test (headless, via playwright-core)
  )
# Node.js + npm for the SDK integration tests (keep an existing install: some ship npm inside nodejs)
command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1 || PKGS+=(nodejs npm)
missing=()
for p in "${PKGS[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -q
  $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
# The SDK tests use Node.js >= 20 (global File); Debian 12's own nodejs package is 18.
node_major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
if [ "$node_major" -lt 20 ]; then
  echo "warning: Node.js $(node --version 2>/dev/null || echo none) found; the integration tests need Node.js >= 20" >&2
fi
