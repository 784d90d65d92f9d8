#!/usr/bin/env bash
# Requests/s of POST { __typename } through nginx -> our FastCGI pool, next
# to the ceiling measured in the same run: a minimal libfcgi program
# (bench/fcgi_hello.c) with the same pool size behind the same nginx.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
SECS=${BENCH_SECS:-10}
bench_stack_up
URL=http://127.0.0.1:$HTTP_PORT/graphql
LUA=$BENCH_REPO/bench/post-typename.lua

# warm up, then measure our pool
bench_wrk 2 "$URL" -s "$LUA" > /dev/null
read -r ours ours50 ours99 < <(bench_wrk "$SECS" "$URL" -s "$LUA")

# swap the pool for the ceiling program on the same socket
"$BENCH_REPO/tools/stack.sh" stop cgi > /dev/null
set -a; source "$VAR_DIR/stack.env"; source "$VAR_DIR/secrets.env"; set +a
"$BIN_DIR/fcgi-hello" & HELLO=$!
until [[ -S $FCGI_SOCKET ]]; do sleep 0.05; done
bench_wrk 2 "$URL" -s "$LUA" > /dev/null
read -r ceil ceil50 ceil99 < <(bench_wrk "$SECS" "$URL" -s "$LUA")
kill "$HELLO"; wait "$HELLO" || true

echo "graphql { __typename } via nginx -> graphql-fcgi ($FCGI_WORKERS workers): $ours req/s  p50 $ours50  p99 $ours99"
echo "ceiling: nginx -> fcgi-hello ($FCGI_WORKERS workers):                  $ceil req/s  p50 $ceil50  p99 $ceil99"
awk -v a="$ours" -v b="$ceil" 'BEGIN { printf "ratio: %.1f%% of the ceiling (target >= 80%%)\n", 100 * a / b }'
