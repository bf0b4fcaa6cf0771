#!/usr/bin/env bash
# Runs the whole test suite against real SQLite and a real PostgreSQL.
#
# Unless ETLIFY_TEST_POSTGRES_URL points at a server, starts a throwaway
# PostgreSQL cluster (data under a temp dir, a free loopback port, run as a
# non-root user) and stops it afterwards. Fails if PostgreSQL cannot start:
# the Postgres tests are never skipped silently.
#
# Extra arguments go to `cargo test` (e.g. `scripts/test.sh -p etlify sqlite::`).
set -euo pipefail
cd "$(dirname "$0")/.."

# shellcheck source=scripts/pg.sh
. scripts/pg.sh

if [ -z "${ETLIFY_TEST_POSTGRES_URL:-}" ]; then
  trap stop_postgres EXIT
  start_postgres
  export ETLIFY_TEST_POSTGRES_URL="$PG_URL"
else
  log "using PostgreSQL at ETLIFY_TEST_POSTGRES_URL"
fi

cargo test --workspace "$@"
