# Throwaway PostgreSQL cluster for tests and benchmarks; sourced by
# scripts/test.sh and scripts/bench.sh, or run by hand:
#
#   scripts/pg.sh start   # starts one, prints its URL (export it as ETLIFY_TEST_POSTGRES_URL)
#   scripts/pg.sh url     # prints the URL of the one started
#   scripts/pg.sh stop    # stops it and removes its data
#
# Run by hand, the cluster's directory and URL are kept in
# ${TMPDIR:-/tmp}/etlify-pg.state between the calls. `start_postgres` exports
# PG_URL (postgres://etlify@127.0.0.1:<port>/postgres); `stop_postgres`
# stops the cluster and removes its data directory. PG_SERVER_OPTS, when
# set, adds server options (scripts/bench.sh: `-c shared_buffers=1GB`).

log() { printf '[%s] %s\n' "$(basename "$0")" "$*" >&2; }

find_pg_bin() {
  local dir
  for dir in /usr/lib/postgresql/15/bin /usr/lib/postgresql/*/bin /usr/local/pgsql/bin; do
    if [ -x "$dir/initdb" ] && [ -x "$dir/pg_ctl" ]; then echo "$dir"; return 0; fi
  done
  if command -v initdb >/dev/null && command -v pg_ctl >/dev/null; then
    dirname "$(command -v initdb)"; return 0
  fi
  return 1
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()' 2>/dev/null \
    || echo $(( 20000 + RANDOM % 20000 ))
}

start_postgres() {
  local bin port run_as=()
  bin=$(find_pg_bin) || { log "PostgreSQL binaries (initdb, pg_ctl) not found; install postgresql-15"; exit 1; }
  PG_DIR=$(mktemp -d -t etlify-pg.XXXXXX)
  if [ "$(id -u)" = 0 ]; then
    # initdb refuses to run as root: use the postgres (or nobody) account.
    local user=postgres
    id "$user" >/dev/null 2>&1 || user=nobody
    chown "$user" "$PG_DIR"
    chmod 700 "$PG_DIR"
    run_as=(runuser -u "$user" --)
  fi
  port=$(free_port)
  log "starting PostgreSQL ($bin) on 127.0.0.1:$port, data in $PG_DIR"
  "${run_as[@]}" "$bin/initdb" -D "$PG_DIR/data" -U etlify -A trust -E UTF8 --locale=C >"$PG_DIR/initdb.log" 2>&1 \
    || { cat "$PG_DIR/initdb.log" >&2; log "initdb failed"; exit 1; }
  "${run_as[@]}" "$bin/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/server.log" -w -t 60 start \
    -o "-c listen_addresses=127.0.0.1 -p $port -k $PG_DIR -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300 -c TimeZone=UTC ${PG_SERVER_OPTS:-}" >/dev/null \
    || { cat "$PG_DIR/server.log" >&2; log "PostgreSQL did not start"; exit 1; }
  PG_STOP=("${run_as[@]}" "$bin/pg_ctl" -D "$PG_DIR/data" -m immediate stop)
  export PG_URL="postgres://etlify@127.0.0.1:$port/postgres"
}

stop_postgres() {
  if [ -n "${PG_DIR:-}" ]; then
    "${PG_STOP[@]}" >/dev/null 2>&1 || true
    rm -rf "$PG_DIR"
  fi
}

# Run as a command rather than sourced.
if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  set -euo pipefail
  state="${TMPDIR:-/tmp}/etlify-pg.state"
  case "${1:-}" in
    start)
      if [ -f "$state" ]; then
        log "already started: $(sed -n 2p "$state") (scripts/pg.sh stop first)"; exit 1
      fi
      start_postgres
      printf '%s\n%s\n%s\n' "$PG_DIR" "$PG_URL" "${PG_STOP[*]}" > "$state"
      echo "$PG_URL"
      ;;
    url)
      [ -f "$state" ] || { log "none started (scripts/pg.sh start)"; exit 1; }
      sed -n 2p "$state"
      ;;
    stop)
      [ -f "$state" ] || { log "none started"; exit 0; }
      PG_DIR=$(sed -n 1p "$state")
      read -r -a PG_STOP <<<"$(sed -n 3p "$state")"
      stop_postgres
      rm -f "$state"
      log "stopped"
      ;;
    *)
      echo "usage: scripts/pg.sh start|url|stop (or source it: start_postgres, stop_postgres)" >&2
      exit 2
      ;;
  esac
fi
