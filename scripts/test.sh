#!/usr/bin/env bash
# Runs the test suite (the whole workspace by default) against real SQLite,
# a real PostgreSQL and a real MariaDB.
#
# Unless ETLIFY_TEST_POSTGRES_URL points at a server, starts a throwaway
# PostgreSQL cluster (data under a temp dir, a free loopback port, run as a
# non-root user) and stops it afterwards; unless ETLIFY_TEST_MYSQL_URL
# points at one, starts a throwaway MariaDB the same way (scripts/mysql.sh,
# installing Debian's mariadb-server when missing). Fails if either cannot
# start: the PostgreSQL and MySQL tests are never skipped silently.
#
# Extra arguments go to `cargo test`. Without a package selection it tests
# the whole workspace (`--workspace` is added); with `-p`/`--package` (or an
# explicit `--workspace`/`--all`) before any `--`, the arguments are passed
# through as they are, so `scripts/test.sh -p etlify sqlite::` builds and
# tests only `etlify`.
set -euo pipefail
cd "$(dirname "$0")/.."

# shellcheck source=scripts/pg.sh
. scripts/pg.sh
# shellcheck source=scripts/mysql.sh
. scripts/mysql.sh

# The page_ tests drive a real headless Chromium through chromedriver
# (crates/etlify-cli/tests/page.rs): Debian's packages, installed when
# missing (they fail, never skip, without them).
if [ ! -x /usr/bin/chromium ] || [ ! -x /usr/bin/chromedriver ]; then
  log "installing chromium and chromium-driver for the page_ tests"
  sudo=()
  [ "$(id -u)" = 0 ] || sudo=(sudo)
  "${sudo[@]}" apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq chromium chromium-driver >&2
fi

stop_servers() {
  stop_postgres
  stop_mysql
}
trap stop_servers EXIT

if [ -z "${ETLIFY_TEST_POSTGRES_URL:-}" ]; then
  start_postgres
  export ETLIFY_TEST_POSTGRES_URL="$PG_URL"
else
  log "using PostgreSQL at ETLIFY_TEST_POSTGRES_URL"
fi

if [ -z "${ETLIFY_TEST_MYSQL_URL:-}" ]; then
  start_mysql
  export ETLIFY_TEST_MYSQL_URL="$MYSQL_URL"
else
  log "using MySQL at ETLIFY_TEST_MYSQL_URL"
fi

# Does the caller choose the packages? Only cargo's own options count, i.e.
# the arguments before `--` (those after it go to the test binaries).
selects_packages=false
for arg in "$@"; do
  case "$arg" in
    --) break ;;
    -p | -p?* | --package | --package=* | --workspace | --all) selects_packages=true; break ;;
  esac
done

if [ "$selects_packages" = true ]; then
  cargo test "$@"
else
  cargo test --workspace "$@"
fi
