# Shared by the benchmark scripts: a private stack on free ports in a
# temporary directory, torn down on exit.
BENCH_REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

bench_free_port() {
	node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close();})'
}

bench_stack_up() {	# extra env assignments may precede the call
	BENCH_TMP=$(mktemp -d /tmp/reportsvc-bench.XXXXXX)
	chmod 755 "$BENCH_TMP"
	export VAR_DIR=$BENCH_TMP/var BIN_DIR=${BIN_DIR:-$BENCH_REPO/bin}
	export HTTP_PORT=$(bench_free_port) PG_PORT=$(bench_free_port)
	export REDIS_PORT=$(bench_free_port) KAFKA_PORT=$(bench_free_port)
	export PROVIDERS_PORT=$(bench_free_port) RELAY_PORT=$(bench_free_port)
	export POOL_PORT=$(bench_free_port)
	export FCGI_WORKERS=${FCGI_WORKERS:-2} PG_FSYNC=off LOG_LEVEL=warn
	trap bench_stack_down EXIT
	"$BENCH_REPO/tools/stack.sh" up > "$BENCH_TMP/up.log" 2>&1 || {
		cat "$BENCH_TMP/up.log"
		exit 1
	}
}

bench_stack_down() {
	"$BENCH_REPO/tools/stack.sh" down > /dev/null 2>&1
	rm -rf "$BENCH_TMP"
}

# wrk's requests/s and latency percentiles as "rps p50 p99".
bench_wrk() {	# seconds url [wrk args...]
	local secs=$1 url=$2
	shift 2
	wrk -t2 -c"${BENCH_CONNS:-32}" -d"${secs}s" --latency "$@" "$url" > "$BENCH_TMP/wrk.out" 2>&1
	local rps p50 p99
	rps=$(awk '/^Requests\/sec/ {print $2}' "$BENCH_TMP/wrk.out")
	p50=$(awk '$1 == "50%" {print $2}' "$BENCH_TMP/wrk.out")
	p99=$(awk '$1 == "99%" {print $2}' "$BENCH_TMP/wrk.out")
	if grep -q "Non-2xx" "$BENCH_TMP/wrk.out"; then
		echo "warning: non-2xx responses:" >&2
		grep "Non-2xx" "$BENCH_TMP/wrk.out" >&2
	fi
	echo "$rps $p50 $p99"
}
