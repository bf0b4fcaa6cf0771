#!/usr/bin/env bash
# Runs the engine benchmark (crates/etlify-bench) on SQLite and on a
# throwaway PostgreSQL, at the given scales (default: 10k 100k 1M users).
# Prints each run's table and JSON report; see docs/BENCHMARKS.md.
#
#   scripts/bench.sh [USERS...]
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/pg.sh
. scripts/pg.sh

scales=("$@")
[ ${#scales[@]} -gt 0 ] || scales=(10000 100000 1000000)

cargo build --release -p etlify-bench
# Where cargo put it: CARGO_TARGET_DIR when set (relative to the workspace), else target/.
bin="${CARGO_TARGET_DIR:-target}/release/etlify-bench"

if [ -z "${ETLIFY_BENCH_POSTGRES_URL:-}" ]; then
  trap stop_postgres EXIT
  # A production-like buffer cache: the 128 MB default holds less than the
  # sync table of 1M records (241 MB) and its indexes (docs/BENCHMARKS.md).
  PG_SERVER_OPTS="${PG_SERVER_OPTS:--c shared_buffers=1GB}" start_postgres
  export ETLIFY_BENCH_POSTGRES_URL="$PG_URL"
fi

for users in "${scales[@]}"; do
  "$bin" --backend sqlite --users "$users"
  "$bin" --backend postgres --users "$users"
done
