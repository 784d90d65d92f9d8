#!/usr/bin/env bash
# Tenant scale: status(id) throughput with the bearer token rotating over
# many tenants, on a private stack with make up's settings (4 FastCGI
# processes, 2 workers, PgBouncer, POOL_MAX_SERVER_CONNS 1500).  Prints, for
# each run next to the single-tenant figure: req/s, p50/p99, errors, the peak
# number of PostgreSQL backends of tenant databases, and the cap's evictions.
# Also the tenant-switch cost (connect + one query) direct and through
# PgBouncer, and seeding times.  Figures only, no assertions.
#
#   bench/tenants.sh                 1, 100, 1000 uniform; Zipf(1.1) over
#                                    ZIPF_TENANTS (3000); 3000 uniform
#   BENCH_SECS=10 WARM_SECS=5 ZIPF_TENANTS=5000 bench/tenants.sh
#
# Needs about 7.6 MB of disk per tenant database (ZIPF_TENANTS of them).
set -euo pipefail
. "$(dirname "$0")/lib.sh"

SECS=${BENCH_SECS:-10}
WARM=${WARM_SECS:-5}
ZIPF_TENANTS=${ZIPF_TENANTS:-3000}
export FCGI_WORKERS=${FCGI_WORKERS:-4}
# The reconciler walks every registered tenant each run (a scale limit of
# its own, see README); at thousands of tenants it would churn the cap in
# the middle of the measurements, so it runs rarely here.
export RECONCILE_INTERVAL_MS=${RECONCILE_INTERVAL_MS:-600000}

bench_stack_up
set -a
. "$VAR_DIR/stack.env"
. "$VAR_DIR/secrets.env"
set +a
URL=http://127.0.0.1:$HTTP_PORT/graphql
PGPW=${PG_PASSWORD:-postgres}
PGU=${PG_USER:-postgres}
psqlc() { PGPASSWORD=$PGPW psql -h 127.0.0.1 -p "$PG_PORT" -U "$PGU" -d postgres -qtA -c "$1"; }

echo "== machine: $(nproc) cores, $(free -g | awk '/^Mem/ {print $2}') GiB; cap $POOL_MAX_SERVER_CONNS, per tenant $POOL_TENANT_SERVERS, FastCGI $FCGI_WORKERS, max_connections $(psqlc 'show max_connections')"

echo "== seeding $ZIPF_TENANTS tenants (CREATE DATABASE ... TEMPLATE, 4 at a time)"
/usr/bin/time -f "seed: %e s wall, %M KB max RSS" \
	"$BENCH_REPO/tools/stack.sh" admin seed-tenants t "$ZIPF_TENANTS" 4 \
	--host 127.0.0.1 --port "$PG_PORT" --user "$PGU" <<< "$PGPW" | sed 's/^/  /'
node "$BENCH_REPO/bench/mint-tokens.mjs" t "$ZIPF_TENANTS" > "$BENCH_TMP/all.tok"
# Seeding wrote gigabytes: let the checkpoint and the page cache's write-back
# finish before measuring anything.
psqlc "checkpoint" > /dev/null
sync
sleep "${SETTLE_SECS:-30}"

BACKENDS_SQL="select count(*) from pg_stat_activity where backend_type = 'client backend' and datname like 't-%'"
sample_start() {
	( while :; do psqlc "$BACKENDS_SQL" 2>/dev/null || true; sleep 0.1; done ) > "$BENCH_TMP/backends.txt" &
	SAMPLER=$!
}
sample_stop() {
	kill "$SAMPLER" 2>/dev/null
	wait "$SAMPLER" 2>/dev/null || true
	sort -n "$BENCH_TMP/backends.txt" | tail -1
}
evictions() {
	"$BENCH_REPO/tools/stack.sh" admin pool-stats 2>/dev/null |
		sed -n 's/.*evictions \([0-9]*\).*/\1/p' | grep . || echo 0
}
warm() {	# tokens-file: every tenant once (its backend opened)
	printf '  warm-up: '
	node "$BENCH_REPO/bench/warm-tenants.mjs" "$URL" "$1"
}

# run NAME TOKENS-FILE [ZIPF_S]: a wrk warm-up, then the measured run.
SINGLE=""
run() {
	local name=$1 tok=$2 s=${3:-0} out e0 e1 peak rps p50 p99 errs ratio=""
	TOKENS_FILE=$tok ZIPF_S=$s wrk -t2 -c32 -d"${WARM}s" -s "$BENCH_REPO/bench/tenants.lua" "$URL" > /dev/null 2>&1
	e0=$(evictions)
	sample_start
	out=$(TOKENS_FILE=$tok ZIPF_S=$s wrk -t2 -c32 -d"${SECS}s" --latency -s "$BENCH_REPO/bench/tenants.lua" "$URL" 2>&1)
	peak=$(sample_stop)
	e1=$(evictions)
	rps=$(awk '/^Requests\/sec/ {print $2}' <<< "$out")
	p50=$(awk '$1 == "50%" {print $2}' <<< "$out")
	p99=$(awk '$1 == "99%" {print $2}' <<< "$out")
	errs=$(awk '/^errors/ {print $2}' <<< "$out")
	[[ -z $SINGLE ]] && SINGLE=$rps
	ratio=$(awk -v a="$rps" -v b="$SINGLE" 'BEGIN { printf "%.0f%%", 100 * a / b }')
	printf '%-34s %9s req/s (%5s of 1 tenant)  p50 %8s  p99 %8s  errors %s  peak backends %s  evictions %s\n' \
		"$name" "$rps" "$ratio" "$p50" "$p99" "${errs:-?}" "${peak:-?}" "$(( e1 - e0 ))"
}

head -1 "$BENCH_TMP/all.tok" > "$BENCH_TMP/1.tok"
head -100 "$BENCH_TMP/all.tok" > "$BENCH_TMP/100.tok"
head -1000 "$BENCH_TMP/all.tok" > "$BENCH_TMP/1000.tok"

echo "== status(id) over nginx, wrk -t2 -c32, ${SECS}s after ${WARM}s of wrk warm-up"
echo "   (steady state: every tenant of a run is touched once first, see warm-up)"
run "1 tenant" "$BENCH_TMP/1.tok"
warm "$BENCH_TMP/100.tok"
run "100 tenants, uniform" "$BENCH_TMP/100.tok"
warm "$BENCH_TMP/1000.tok"
run "1000 tenants, uniform" "$BENCH_TMP/1000.tok"
# Zipf's steady state: the head is warm, the tail comes and goes
WARM=$(( WARM * 4 )) run "Zipf s=1.1 over $ZIPF_TENANTS tenants" "$BENCH_TMP/all.tok" 1.1
run "$ZIPF_TENANTS tenants, uniform (> cap)" "$BENCH_TMP/all.tok"
run "1 tenant, again" "$BENCH_TMP/1.tok"

echo "== 1 tenant without PgBouncer (the FastCGI pool connecting directly, as before)"
sed -i 's/^POOL_HOST=.*/POOL_HOST=/; s/^TENANT_MAX_CONNS=.*/TENANT_MAX_CONNS=16/' "$VAR_DIR/stack.env"
"$BENCH_REPO/tools/stack.sh" stop cgi > /dev/null
"$BENCH_REPO/tools/stack.sh" start cgi > /dev/null
run "1 tenant, direct" "$BENCH_TMP/1.tok"

echo "== tenant switch: connect + select 1 (pgbench -C, 1 client, 5 s)"
echo 'select 1;' > "$BENCH_TMP/one.sql"
lat() { awk '/latency average/ {print $4 " ms"}'; }
printf '  direct to PostgreSQL (SCRAM, new backend): %s\n' \
	"$(PGPASSWORD=$PGPW pgbench -n -C -c1 -T5 -f "$BENCH_TMP/one.sql" -h 127.0.0.1 -p "$PG_PORT" -U "$PGU" t-2 2>&1 | lat)"
printf '  through PgBouncer (warm server, md5, unix socket): %s\n' \
	"$(PGPASSWORD=$POOL_PASSWORD pgbench -n -C -c1 -T5 -f "$BENCH_TMP/one.sql" -h "$POOL_HOST" -p "$POOL_PORT" -U "$POOL_USER" t-2 2>&1 | lat)"

echo "== memory"
printf '  PostgreSQL backends now: %s; their total RSS: %s MB\n' \
	"$(psqlc "select count(*) from pg_stat_activity where backend_type = 'client backend'")" \
	"$(ps -u postgres -o rss=,cmd= | awk '/postgres: / {s += $1} END {printf "%.0f", s / 1024}')"
printf '  PgBouncer RSS: %s MB\n' "$(ps -o rss= -p "$(cat "$VAR_DIR/run/pgbouncer.pid")" | awk '{printf "%.0f", $1 / 1024}')"
printf '  FastCGI processes RSS: %s MB\n' "$(pgrep -f graphql-fcgi | xargs ps -o rss= -p | awk '{s += $1} END {printf "%.0f", s / 1024}')"
