#!/usr/bin/env bash
# Throwaway MariaDB server for tests and benchmarks; sourced by
# scripts/test.sh, or run by hand:
#
#   scripts/mysql.sh start   # starts one, prints its URL (export it as ETLIFY_TEST_MYSQL_URL)
#   scripts/mysql.sh url     # prints the URL of the one started
#   scripts/mysql.sh stop    # stops it and removes its data
#
# Run by hand, the server's directory, pid and URL are kept in
# ${TMPDIR:-/tmp}/etlify-mysql.state between the calls. `start_mysql`
# exports MYSQL_URL (mysql://etlify:etlify@127.0.0.1:<port>/etlify_test);
# `stop_mysql` stops the server and removes its data directory. The server
# runs as the `mysql` account (or nobody) when started by root, like
# scripts/pg.sh's cluster, listens on loopback only, and keeps its data in
# a temporary directory with durability off (it is thrown away).

mysql_log() { printf '[%s] %s\n' "$(basename "$0")" "$*" >&2; }

mysql_free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()' 2>/dev/null \
    || echo $(( 20000 + RANDOM % 20000 ))
}

# Installs Debian's mariadb-server when mariadbd is missing (as test.sh
# installs chromium): the MySQL tests fail, never skip, without it.
ensure_mariadb() {
  if command -v mariadbd >/dev/null 2>&1 || [ -x /usr/sbin/mariadbd ]; then return 0; fi
  mysql_log "installing mariadb-server for the MySQL tests"
  local sudo=()
  [ "$(id -u)" = 0 ] || sudo=(sudo)
  "${sudo[@]}" apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends mariadb-server mariadb-client >&2
}

start_mysql() {
  ensure_mariadb
  local mariadbd=/usr/sbin/mariadbd install_db port user run_as=()
  command -v mariadbd >/dev/null 2>&1 && mariadbd=$(command -v mariadbd)
  install_db=$(command -v mariadb-install-db || command -v mysql_install_db) \
    || { mysql_log "mariadb-install-db not found; install mariadb-server"; exit 1; }
  MYSQL_DIR=$(mktemp -d -t etlify-mysql.XXXXXX)
  user=$(id -un)
  if [ "$(id -u)" = 0 ]; then
    # The server refuses to run as root: use the mysql (or nobody) account.
    user=mysql
    id "$user" >/dev/null 2>&1 || user=nobody
    chown "$user" "$MYSQL_DIR"
    run_as=(runuser -u "$user" --)
  fi
  chmod 700 "$MYSQL_DIR"
  "${run_as[@]}" mkdir "$MYSQL_DIR/tmp"
  port=$(mysql_free_port)
  mysql_log "starting MariaDB ($mariadbd) on 127.0.0.1:$port, data in $MYSQL_DIR"
  "${run_as[@]}" "$install_db" --no-defaults --auth-root-authentication-method=normal \
    --datadir="$MYSQL_DIR/data" --tmpdir="$MYSQL_DIR/tmp" --user="$user" --skip-test-db >"$MYSQL_DIR/install.log" 2>&1 \
    || { cat "$MYSQL_DIR/install.log" >&2; mysql_log "mariadb-install-db failed"; exit 1; }
  "${run_as[@]}" "$mariadbd" --no-defaults --datadir="$MYSQL_DIR/data" --tmpdir="$MYSQL_DIR/tmp" \
    --socket="$MYSQL_DIR/mysqld.sock" --pid-file="$MYSQL_DIR/mysqld.pid" \
    --bind-address=127.0.0.1 --port="$port" --skip-name-resolve \
    --innodb-flush-log-at-trx-commit=0 --innodb-doublewrite=0 --sync-binlog=0 \
    --innodb-buffer-pool-size=256M --max-connections=500 --default-time-zone=+00:00 \
    --character-set-server=utf8mb4 --collation-server=utf8mb4_unicode_ci \
    --log-error="$MYSQL_DIR/server.log" ${MYSQL_SERVER_OPTS:-} >/dev/null 2>&1 &
  MYSQL_PID=$!
  local tries=0
  until mariadb --no-defaults --socket="$MYSQL_DIR/mysqld.sock" -uroot -e 'SELECT 1' >/dev/null 2>&1; do
    tries=$((tries + 1))
    if [ "$tries" -gt 120 ] || ! kill -0 "$MYSQL_PID" 2>/dev/null; then
      cat "$MYSQL_DIR/server.log" >&2 2>/dev/null || true
      mysql_log "MariaDB did not start"; exit 1
    fi
    sleep 0.5
  done
  # The tests create and drop one database each: the account may do both.
  mariadb --no-defaults --socket="$MYSQL_DIR/mysqld.sock" -uroot -e "
    CREATE DATABASE etlify_test;
    CREATE USER 'etlify'@'127.0.0.1' IDENTIFIED BY 'etlify';
    GRANT ALL PRIVILEGES ON *.* TO 'etlify'@'127.0.0.1' WITH GRANT OPTION;" \
    || { mysql_log "could not create the test account"; exit 1; }
  export MYSQL_URL="mysql://etlify:etlify@127.0.0.1:$port/etlify_test"
}

stop_mysql() {
  if [ -n "${MYSQL_DIR:-}" ]; then
    # The server's own pid (MYSQL_PID may be runuser's).
    [ -f "$MYSQL_DIR/mysqld.pid" ] && MYSQL_PID=$(cat "$MYSQL_DIR/mysqld.pid")
    if [ -n "${MYSQL_PID:-}" ]; then
      kill "$MYSQL_PID" 2>/dev/null || true
      local tries=0
      while kill -0 "$MYSQL_PID" 2>/dev/null && [ "$tries" -lt 60 ]; do sleep 0.5; tries=$((tries + 1)); done
      kill -9 "$MYSQL_PID" 2>/dev/null || true
    fi
    rm -rf "$MYSQL_DIR"
  fi
}

# Run as a command rather than sourced.
if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  set -euo pipefail
  state="${TMPDIR:-/tmp}/etlify-mysql.state"
  case "${1:-}" in
    start)
      if [ -f "$state" ]; then
        mysql_log "already started: $(sed -n 3p "$state") (scripts/mysql.sh stop first)"; exit 1
      fi
      start_mysql
      printf '%s\n%s\n%s\n' "$MYSQL_DIR" "$MYSQL_PID" "$MYSQL_URL" > "$state"
      echo "$MYSQL_URL"
      ;;
    url)
      [ -f "$state" ] || { mysql_log "none started (scripts/mysql.sh start)"; exit 1; }
      sed -n 3p "$state"
      ;;
    stop)
      [ -f "$state" ] || { mysql_log "none started"; exit 0; }
      MYSQL_DIR=$(sed -n 1p "$state")
      MYSQL_PID=$(sed -n 2p "$state")
      stop_mysql
      rm -f "$state"
      mysql_log "stopped"
      ;;
    *)
      echo "usage: scripts/mysql.sh start|url|stop (or source it: start_mysql, stop_mysql)" >&2
      exit 2
      ;;
  esac
fi
