#!/usr/bin/env bash
# The report request side under load, each next to a ceiling measured in the
# same run on the same machine:
#
#   status(id) of a logged-in user (tenant cache hit) through nginx ->
#   graphql-fcgi, next to bench/fcgi_select.c (a minimal libfcgi program, same
#   pool size, same nginx, swapped in on the FastCGI socket) running one
#   prepared primary-key SELECT on the same tenant database per request;
#   target >= 70%.
#
#   createReport (insert + report.create with the wait for Kafka's ack),
#   next to pgbench TPC-B (-c8 -j2, scratch database) on the same PostgreSQL;
#   target >= 50%.
#
# Prints figures only, no assertions.  BENCH_SECS (default 10) per run,
# BENCH_CONNS (default 32) wrk connections, FCGI_WORKERS (default 2).  The
# worker, relay and providers are stopped: only the request side runs.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
trap 'echo "bench/reports.sh: failed at line $LINENO" >&2' ERR
SECS=${BENCH_SECS:-10}
bench_stack_up
# The request side alone: a worker would move the report on (and compete
# for the CPUs with what is measured), so the report stays PENDING.
for c in worker relay providers; do
	"$BENCH_REPO/tools/stack.sh" stop "$c" > /dev/null
done
set -a; source "$VAR_DIR/stack.env"; source "$VAR_DIR/secrets.env"; set +a
URL=http://127.0.0.1:$HTTP_PORT/graphql
PGPASSWORD=${PG_PASSWORD:-postgres}
export PGPASSWORD
PGU=${PG_USER:-postgres}
TENANT=bench-t1
TDB=bench_t1

gql() {	# body [token] -> response
	curl -sf -X POST "$URL" -H 'content-type: application/json' \
		${2:+-H "authorization: Bearer $2"} ${3:+-H "x-admin-key: $3"} -d "$1"
}

gql "{\"query\":\"mutation { createTenant(createTenantInput: {tenantID: \\\"$TENANT\\\", tenantName: \\\"bench\\\", dataSource: {host: \\\"127.0.0.1\\\", username: \\\"$PGU\\\", password: \\\"$PGPASSWORD\\\", port: \\\"$PG_PORT\\\", db: \\\"$TDB\\\"}}) { tenantID } }\"}" \
	"" "$ADMIN_KEY" > /dev/null
gql "{\"query\":\"mutation { signUp(signUp: {tenantID: \\\"$TENANT\\\", username: \\\"bench-u1\\\", password: \\\"pass\\\", taxID: \\\"tax-1\\\"}) { username } }\"}" > /dev/null
TOKEN=$(gql '{"query":"mutation { login(loginInput: {username: \"bench-u1\", password: \"pass\"}) { accessToken } }"}' |
	node -pe 'JSON.parse(require("fs").readFileSync(0)).data.login.accessToken')
ID=$(gql '{"query":"mutation { createReport { reportID } }"}' "$TOKEN" |
	node -pe 'JSON.parse(require("fs").readFileSync(0)).data.createReport.reportID')

# wrk scripts: POST a body with the bearer token.
lua() {	# file body
	cat > "$1" <<EOF
wrk.method = "POST"
wrk.body = '$2'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer $TOKEN"
EOF
}
STATUS_LUA=$BENCH_TMP/status.lua
CREATE_LUA=$BENCH_TMP/create.lua
lua "$STATUS_LUA" "{\"query\":\"query(\$id: Int!) { status(id: \$id) { status reportID progress } }\",\"variables\":{\"id\":$ID}}"
lua "$CREATE_LUA" '{"query":"mutation { createReport { status reportID progress } }"}'

# status(id) through our pool
gql "{\"query\":\"{ status(id: $ID) { reportID } }\"}" "$TOKEN" | grep -q "\"reportID\":$ID"
bench_wrk 2 "$URL" -s "$STATUS_LUA" > /dev/null
read -r st st50 st99 < <(bench_wrk "$SECS" "$URL" -s "$STATUS_LUA")

# the ceiling program on the same socket
"$BENCH_REPO/tools/stack.sh" stop cgi > /dev/null
"$BIN_DIR/fcgi-select" "host=127.0.0.1 port=$PG_PORT user=$PGU dbname=$TDB" "$ID" &
SELECT_PID=$!
trap 'kill "$SELECT_PID" 2> /dev/null; bench_stack_down' EXIT
until [[ -S $FCGI_SOCKET ]]; do sleep 0.05; done
curl -sf -X POST "$URL" -d '{}' | grep -q "\"reportID\":$ID"
bench_wrk 2 "$URL" -s "$STATUS_LUA" > /dev/null
read -r ce ce50 ce99 < <(bench_wrk "$SECS" "$URL" -s "$STATUS_LUA")
kill "$SELECT_PID"
wait "$SELECT_PID" || true
trap bench_stack_down EXIT
"$BENCH_REPO/tools/stack.sh" start cgi > /dev/null

# createReport, including the wait for Kafka's acknowledgement
gql '{"query":"mutation { createReport { reportID } }"}' "$TOKEN" > /dev/null
before=$(psql -h 127.0.0.1 -p "$PG_PORT" -U "$PGU" -d "$TDB" -qtA -c 'select count(*) from reports')
read -r cr cr50 cr99 < <(bench_wrk "$SECS" "$URL" -s "$CREATE_LUA")
after=$(psql -h 127.0.0.1 -p "$PG_PORT" -U "$PGU" -d "$TDB" -qtA -c 'select count(*) from reports')
unannounced=$(psql -h 127.0.0.1 -p "$PG_PORT" -U "$PGU" -d "$TDB" -qtA -c 'select count(*) from reports where not announced')

# pgbench TPC-B on a scratch database of the same server
psql -h 127.0.0.1 -p "$PG_PORT" -U "$PGU" -d postgres -qtA -c 'create database bench_pgbench' > /dev/null
pgbench -h 127.0.0.1 -p "$PG_PORT" -U "$PGU" -i -q bench_pgbench > "$BENCH_TMP/pgbench-init.out" 2>&1
pgbench -h 127.0.0.1 -p "$PG_PORT" -U "$PGU" -c8 -j2 -T "$SECS" -n bench_pgbench > "$BENCH_TMP/pgbench.out" 2>&1
tps=$(awk '/^tps = / {print $3; exit}' "$BENCH_TMP/pgbench.out")
pg_lat=$(awk '/^latency average/ {print $4 $5}' "$BENCH_TMP/pgbench.out")

echo "status(id) via nginx -> graphql-fcgi ($FCGI_WORKERS workers):     $st req/s  p50 $st50  p99 $st99"
echo "ceiling: nginx -> fcgi-select, 1 prepared PK select ($FCGI_WORKERS workers): $ce req/s  p50 $ce50  p99 $ce99"
awk -v a="$st" -v b="$ce" 'BEGIN { printf "ratio: %.1f%% of the ceiling (target >= 70%%)\n", 100 * a / b }'
echo "createReport incl. Kafka ack ($FCGI_WORKERS workers):              $cr req/s  p50 $cr50  p99 $cr99  ($((after - before)) reports, $unannounced not announced)"
echo "pgbench TPC-B -c8 -j2 (scale 1) on the same server:         $tps tps  latency avg $pg_lat"
awk -v a="$cr" -v b="$tps" 'BEGIN { printf "ratio: %.1f%% of pgbench TPC-B (target >= 50%%)\n", 100 * a / b }'
