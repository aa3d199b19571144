#!/usr/bin/env bash
# Private PostgreSQL clusters for development and tests.
#
#   scripts/pg.sh dev            start (or reuse) the cluster under .data/pg; print its URL
#   scripts/pg.sh stop-dev       stop the dev cluster
#   scripts/pg.sh run CMD...     start a throw-away cluster in a temp dir, export
#                                TEST_DATABASE_URL, run CMD, stop and delete the cluster
#
# DATABASE_URL (dev) or TEST_DATABASE_URL (run) win when they are set: then nothing is started.
# PostgreSQL refuses to run as root, so as root the server runs as the postgres user.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
dev_port=${FENXIAO_DEV_PG_PORT:-54329}

log() { echo "pg: $*" >&2; }

find_bindir() {
  local d
  for d in /usr/lib/postgresql/*/bin; do
    if [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ]; then echo "$d"; fi
  done | sort -V | tail -n 1
}

ensure_binaries() {
  bindir=$(find_bindir)
  if [ -n "$bindir" ]; then return; fi
  if [ "$(id -u)" != 0 ]; then
    log "PostgreSQL server binaries not found; install the Debian package 'postgresql' or set DATABASE_URL"
    exit 1
  fi
  log "installing the Debian postgresql package"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  apt-get install -y -qq postgresql >&2
  bindir=$(find_bindir)
  [ -n "$bindir" ] || { log "postgresql installed but no server binaries found"; exit 1; }
}

# as_pg runs a command as the user that owns the cluster.
as_pg() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

# start_cluster DIR PORT: initialise DIR when empty, start the server unless it answers already.
start_cluster() {
  local dir=$1 port=$2
  mkdir -p "$dir"
  if [ "$(id -u)" = 0 ]; then chown postgres: "$dir"; chmod 700 "$dir"; fi
  if [ ! -f "$dir/PG_VERSION" ]; then
    as_pg "$bindir/initdb" -D "$dir" -U postgres --auth=trust --encoding=UTF8 --locale=C.UTF-8 >/dev/null
  fi
  if "$bindir/pg_isready" -q -h 127.0.0.1 -p "$port"; then
    return
  fi
  # A crashed server leaves a stale pid file behind; pg_ctl start copes with that itself.
  as_pg "$bindir/pg_ctl" -D "$dir" -l "$dir/server.log" -w -t 60 start \
    -o "-c listen_addresses=127.0.0.1 -p $port -c unix_socket_directories='$dir' -c fsync=off -c max_connections=200" >/dev/null ||
    { log "server failed to start; last lines of $dir/server.log:"; tail -n 20 "$dir/server.log" >&2; exit 1; }
}

create_db() {
  local port=$1 name=$2
  if ! "$bindir/psql" -h 127.0.0.1 -p "$port" -U postgres -Atqc "SELECT 1 FROM pg_database WHERE datname='$name'" postgres | grep -q 1; then
    "$bindir/psql" -h 127.0.0.1 -p "$port" -U postgres -qc "CREATE DATABASE $name" postgres
  fi
}

free_port() {
  local p
  for _ in $(seq 50); do
    p=$((20000 + RANDOM % 20000))
    if ! (echo >"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then echo "$p"; return; fi
  done
  log "no free port found"; exit 1
}

case "${1:-}" in
dev)
  if [ -n "${DATABASE_URL:-}" ]; then echo "$DATABASE_URL"; exit 0; fi
  ensure_binaries
  start_cluster "$root/.data/pg" "$dev_port"
  create_db "$dev_port" fenxiao
  echo "postgres://postgres@127.0.0.1:$dev_port/fenxiao?sslmode=disable"
  ;;
stop-dev)
  bindir=$(find_bindir)
  if [ -n "$bindir" ] && [ -f "$root/.data/pg/PG_VERSION" ]; then
    as_pg "$bindir/pg_ctl" -D "$root/.data/pg" -m fast stop >/dev/null 2>&1 || true
  fi
  ;;
run)
  shift
  if [ -n "${TEST_DATABASE_URL:-}" ]; then exec "$@"; fi
  ensure_binaries
  tmp=$(mktemp -d /tmp/fenxiao-pg.XXXXXX)
  chmod 755 "$tmp"
  port=$(free_port)
  cleanup() {
    as_pg "$bindir/pg_ctl" -D "$tmp/data" -m immediate stop >/dev/null 2>&1 || true
    rm -rf "$tmp"
  }
  trap cleanup EXIT
  trap 'exit 130' INT TERM
  # A port found free can be taken before the server binds it: try a few.
  for attempt in 1 2 3 4 5; do
    if (start_cluster "$tmp/data" "$port"); then break; fi
    [ "$attempt" = 5 ] && exit 1
    port=$(free_port)
    log "retrying on port $port"
  done
  export TEST_DATABASE_URL="postgres://postgres@127.0.0.1:$port/postgres?sslmode=disable"
  log "test cluster on port $port"
  "$@"
  ;;
*)
  echo "usage: scripts/pg.sh dev | stop-dev | run CMD..." >&2
  exit 2
  ;;
esac
