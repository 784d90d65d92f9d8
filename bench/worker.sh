#!/usr/bin/env bash
# Worker benchmark: figures only, no assertions (bench/worker.mjs says what
# each phase measures).  Uses a private stack on free ports; BIN_DIR selects
# the binaries (default bin/, the release build).
#   BENCH_REPORTS=1000 BENCH_TENANTS=20 BENCH_INFLIGHT=10000
#   BENCH_BACKLOG_SECS=30 BENCH_PROVIDER_LATENCY_MS=0 BENCH_KEEP=1
#   BENCH_PHASES=A,B,D,C
set -euo pipefail
cd "$(dirname "$0")/.."
export REPO=$PWD BIN_DIR=${BIN_DIR:-$PWD/bin}
[[ -x $BIN_DIR/report-worker ]] || { echo "bench/worker.sh: $BIN_DIR/report-worker missing (make)" >&2; exit 2; }
exec node bench/worker.mjs
