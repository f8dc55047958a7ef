#!/usr/bin/env bash
# A throwaway PostgreSQL server for the tests (the PostgreSQL variants of the store suite):
#   eval "$(bash scripts/pg_test_server.sh start)"   # prints: export EMBEDJOBS_TEST_PG=...
#   bash scripts/pg_test_server.sh stop              # stops it and deletes its files
#   bash scripts/pg_test_server.sh url               # prints the URL of the running one
# initdb makes a fresh cluster in a temp dir; postgres listens on 127.0.0.1 on a free port, its
# unix socket in that dir too, trust auth (loopback only), fsync off (test data only).
# initdb and postgres refuse to run as root: as root they run as the `postgres` user (Debian's
# postgresql package makes it), else as `nobody`, in a dir that user owns.
# State (the URL, the cluster dir) lives in $EMBEDJOBS_PG_STATE (default build/pg-test);
# $EMBEDJOBS_PG_OPTIONS adds server options (e.g. "-c shared_preload_libraries=pg_stat_statements").
set -euo pipefail
cd "$(dirname "$0")/.."

STATE_DIR="${EMBEDJOBS_PG_STATE:-$PWD/build/pg-test}"
PG_BIN="${EMBEDJOBS_PG_BIN:-}"
if [ -z "$PG_BIN" ]; then
  PG_BIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
fi

die() {
  echo "pg_test_server: $*" >&2
  exit 1
}

# Runs a command as the cluster's user: ourselves, or (as root) postgres / nobody.
as_pg_user() {
  if [ "$(id -u)" = "0" ]; then
    runuser -u "$PG_USER" -- "$@"
  else
    "$@"
  fi
}

pick_user() {
  PG_USER="$(id -un)"
  if [ "$(id -u)" = "0" ]; then
    if id postgres >/dev/null 2>&1; then PG_USER=postgres; else PG_USER=nobody; fi
  fi
}

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

start() {
  [ -x "$PG_BIN/initdb" ] || die "no PostgreSQL server binaries (looked in '$PG_BIN'); run scripts/install-deps.sh (Debian package postgresql)"
  if [ -f "$STATE_DIR/url" ]; then
    stop_quietly
  fi
  mkdir -p "$STATE_DIR"
  pick_user
  # The cluster: under /tmp, so that the cluster's user can reach it whoever owns the checkout.
  local data
  data=$(mktemp -d "${TMPDIR:-/tmp}/ej-pg.XXXXXX")
  chmod 700 "$data"
  if [ "$(id -u)" = "0" ]; then chown "$PG_USER" "$data"; fi
  echo "$data" >"$STATE_DIR/datadir"
  echo "$PG_USER" >"$STATE_DIR/user"
  as_pg_user "$PG_BIN/initdb" -D "$data/db" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 \
    >"$STATE_DIR/initdb.log" 2>&1 || {
    cat "$STATE_DIR/initdb.log" >&2
    die "initdb failed"
  }
  local port tries=0
  while :; do
    port=$(free_port)
    if as_pg_user "$PG_BIN/pg_ctl" -D "$data/db" -l "$data/server.log" -w -t 30 \
      -o "-c listen_addresses=127.0.0.1 -p $port -c unix_socket_directories=$data \
          -c fsync=off -c synchronous_commit=off -c full_page_writes=off \
          -c max_connections=300 -c shared_buffers=64MB ${EMBEDJOBS_PG_OPTIONS:-}" start >"$STATE_DIR/pg_ctl.log" 2>&1; then
      break
    fi
    tries=$((tries + 1))
    if [ "$tries" -ge 3 ]; then
      cat "$STATE_DIR/pg_ctl.log" "$data/server.log" >&2 || true
      die "postgres did not start"
    fi
  done
  local url="postgresql://postgres@127.0.0.1:$port/postgres"
  echo "$url" >"$STATE_DIR/url"
  echo "pg_test_server: PostgreSQL $("$PG_BIN/postgres" --version | awk '{print $3}') on $url (cluster $data, user $PG_USER)" >&2
  echo "export EMBEDJOBS_TEST_PG='$url'"
}

stop_quietly() {
  local data user
  data=$(cat "$STATE_DIR/datadir" 2>/dev/null || true)
  user=$(cat "$STATE_DIR/user" 2>/dev/null || true)
  if [ -n "$data" ] && [ -d "$data/db" ]; then
    PG_USER="${user:-$(id -un)}"
    as_pg_user "$PG_BIN/pg_ctl" -D "$data/db" -m immediate -w stop >/dev/null 2>&1 || true
  fi
  # Only what start made: a dir under the temp dir named ej-pg.*.
  case "$data" in
    "${TMPDIR:-/tmp}"/ej-pg.*) rm -rf "$data" ;;
  esac
  rm -f "$STATE_DIR/url" "$STATE_DIR/datadir" "$STATE_DIR/user"
}

case "${1:-}" in
  start) start ;;
  stop)
    stop_quietly
    echo "pg_test_server: stopped" >&2
    ;;
  url)
    [ -f "$STATE_DIR/url" ] || die "not running (start it with: bash scripts/pg_test_server.sh start)"
    cat "$STATE_DIR/url"
    ;;
  *) die "usage: $0 start|stop|url" ;;
esac
