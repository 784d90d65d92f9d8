#!/usr/bin/env bash
# Tenancy and authentication under load, each next to a ceiling measured in
# the same run:
#
#   login through nginx -> graphql-fcgi, next to the bcrypt ceiling (cores
#   divided by the time of one hash at BCRYPT_COST, bench/bcrypt_ceiling.c);
#   target >= 85%.
#
#   the authenticated `me` query (JWT verify, tenant cache hit, one prepared
#   select), next to bench/fcgi_select.c (a minimal libfcgi program doing one
#   prepared select, same pool size, same nginx); target >= 70%.
#
# Prints figures only, no assertions.  BENCH_SECS (default 10) per run.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
SECS=${BENCH_SECS:-10}
bench_stack_up
set -a; source "$VAR_DIR/stack.env"; source "$VAR_DIR/secrets.env"; set +a
URL=http://127.0.0.1:$HTTP_PORT/graphql
export PGPASSWORD=${PG_PASSWORD:-postgres}
PGU=${PG_USER:-postgres}

gql() {	# body [token] [admin key] -> response
	curl -sf -X POST "$URL" -H 'content-type: application/json' \
		${2:+-H "authorization: Bearer $2"} ${3:+-H "x-admin-key: $3"} -d "$1"
}
gql "{\"query\":\"mutation { createTenant(createTenantInput: {tenantID: \\\"bench-a\\\", tenantName: \\\"bench\\\", dataSource: {host: \\\"127.0.0.1\\\", username: \\\"$PGU\\\", password: \\\"$PGPASSWORD\\\", port: \\\"$PG_PORT\\\", db: \\\"bench_a\\\"}}) { tenantID } }\"}" \
	"" "$ADMIN_KEY" > /dev/null
gql '{"query":"mutation { signUp(signUp: {tenantID: \"bench-a\", username: \"bench-user\", password: \"pass\", taxID: \"tax-1\"}) { username } }"}' > /dev/null
TOKEN=$(gql '{"query":"mutation { login(loginInput: {username: \"bench-user\", password: \"pass\"}) { accessToken } }"}' |
	node -pe 'JSON.parse(require("fs").readFileSync(0)).data.login.accessToken')

cat > "$BENCH_TMP/login.lua" <<'LUA'
wrk.method = "POST"
wrk.body = '{"query":"mutation { login(loginInput: {username: \\"bench-user\\", password: \\"pass\\"}) { accessToken } }"}'
wrk.headers["Content-Type"] = "application/json"
LUA
cat > "$BENCH_TMP/me.lua" <<LUA
wrk.method = "POST"
wrk.body = '{"query":"{ me { username taxID } }"}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer $TOKEN"
LUA

# login: bcrypt-bound; as many connections as workers keeps every core busy
ceiling_line=$("$BIN_DIR/bench-bcrypt" 20)
ceiling=$(awk '{print $(NF-1)}' <<< "$ceiling_line")
read -r li li50 li99 < <(BENCH_CONNS=$((FCGI_WORKERS * 2)) bench_wrk "$SECS" "$URL" -s "$BENCH_TMP/login.lua")

# me through our pool
gql '{"query":"{ me { username } }"}' "$TOKEN" | grep -q bench-user
bench_wrk 2 "$URL" -s "$BENCH_TMP/me.lua" > /dev/null
read -r me me50 me99 < <(bench_wrk "$SECS" "$URL" -s "$BENCH_TMP/me.lua")

# the ceiling program on the same socket: one prepared select per request
psql -h 127.0.0.1 -p "$PG_PORT" -U "$PGU" -d bench_a -qtA \
	-c "insert into reports (owner_id, status, progress) values (1, 'PENDING', 0)" > /dev/null
"$BENCH_REPO/tools/stack.sh" stop cgi > /dev/null
"$BIN_DIR/fcgi-select" "host=127.0.0.1 port=$PG_PORT user=$PGU dbname=bench_a" 1 &
SELECT_PID=$!
until [[ -S $FCGI_SOCKET ]]; do sleep 0.05; done
bench_wrk 2 "$URL" -s "$BENCH_TMP/me.lua" > /dev/null
read -r ce ce50 ce99 < <(bench_wrk "$SECS" "$URL" -s "$BENCH_TMP/me.lua")
kill "$SELECT_PID"
wait "$SELECT_PID" || true

echo "login via nginx -> graphql-fcgi ($FCGI_WORKERS workers): $li logins/s  p50 $li50  p99 $li99"
echo "ceiling: $ceiling_line"
awk -v a="$li" -v b="$ceiling" 'BEGIN { printf "ratio: %.1f%% of the bcrypt ceiling (target >= 85%%)\n", 100 * a / b }'
echo "me (JWT + tenant cache hit + prepared select) ($FCGI_WORKERS workers): $me req/s  p50 $me50  p99 $me99"
echo "ceiling: nginx -> fcgi-select, 1 prepared select ($FCGI_WORKERS workers): $ce req/s  p50 $ce50  p99 $ce99"
awk -v a="$me" -v b="$ce" 'BEGIN { printf "ratio: %.1f%% of the ceiling (target >= 70%%)\n", 100 * a / b }'
