#!/usr/bin/env bash
# The WebSocket relay: its RSS with IDLE_CONNS (10,000) idle authenticated
# connections (target < 10 KiB each) and the latency from report.ready
# produced (kcat, linger 0) to the subscriber receiving `next`, at RATE
# (1,000) events/s spread over SUBSCRIBERS (1,000) (target p99 < 20 ms).
# Clients connect straight to the relay's port, so nginx is not measured.
# The figures include the Kafka stand-in's delivery: it answers a consumer's
# fetch only after fetch.wait.max.ms (KAFKA_FETCH_WAIT_MS, 10 by default),
# which dominates p50; KAFKA_FETCH_WAIT_MS=1 bench/relay.sh shows the rest.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
export RELAY_PORT=$(bench_free_port) PROVIDERS_PORT=$(bench_free_port)
[[ -x ${BIN_DIR:-$BENCH_REPO/bin}/ws-relay ]] || { echo "build bin/ws-relay first (make)" >&2; exit 1; }
if [[ ! -d $BENCH_REPO/tests/integration/node_modules ]]; then
	(cd "$BENCH_REPO/tests/integration" && npm ci --no-audit --no-fund --loglevel=error)
fi
bench_stack_up
set -a; source "$VAR_DIR/stack.env"; source "$VAR_DIR/secrets.env"; set +a
RELAY_URL=ws://127.0.0.1:$RELAY_PORT/graphql RELAY_PID=$(<"$VAR_DIR/run/relay.pid") \
	node "$BENCH_REPO/bench/relay/bench.mjs"
