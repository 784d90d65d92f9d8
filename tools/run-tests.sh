#!/usr/bin/env bash
# Runs every test and ends with one line "N passed, N failed".
#
#   tools/run-tests.sh            unit tests, then integration tests
#   tools/run-tests.sh unit       unit tests only (ASan+UBSan builds)
#   tools/run-tests.sh integration
#   tools/run-tests.sh fuzz       the fuzzers, briefly
#
# Integration tests start a private stack (tools/stack.sh) in a temporary
# directory on free ports, so a running `make up` stack is never touched,
# and tear it down even when a test fails.
set -uo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$REPO"
MODE=${1:-all}
UNIT_DIR=build/asan/tests/bin
ITEST_DIR=build/asan/tests/ibin
STACK_BIN=${STACK_BIN:-$REPO/bin/asan}

PASSED=0
FAILED=0
FAILED_NAMES=()

# Adds the counts of one suite.  A suite that printed "N passed, N failed"
# (our C runner) or TAP's "# pass N" / "# fail N" (node --test) is counted
# by case; otherwise its exit status counts as one case.
count_suite() {	# name exit-status output-file
	local name=$1 rc=$2 out=$3 p f line
	line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$out" | tail -1)
	if [[ -n $line ]]; then
		p=${line%% passed*}
		f=${line#*, }
		f=${f%% failed*}
	elif grep -qE '^# pass [0-9]+' "$out"; then
		p=$(grep -E '^# pass [0-9]+' "$out" | tail -1 | awk '{print $3}')
		f=$(grep -E '^# fail [0-9]+' "$out" | tail -1 | awk '{print $3}')
	else
		p=0
		f=0
	fi
	if (( rc != 0 && f == 0 )); then
		f=1	# crashed or failed outside a counted case
	fi
	if (( p == 0 && f == 0 )); then
		f=1	# ran nothing: that is a failure, not a pass
	fi
	PASSED=$(( PASSED + p ))
	FAILED=$(( FAILED + f ))
	if (( f > 0 )); then
		FAILED_NAMES+=("$name")
		echo "---- $name: FAILED (exit $rc); output:"
		cat "$out"
	else
		echo "---- $name: $p passed"
	fi
}

run_suite() {	# name command...
	local name=$1 out rc
	shift
	out=$(mktemp)
	"$@" > "$out" 2>&1
	rc=$?
	count_suite "$name" "$rc" "$out"
	rm -f "$out"
}

# A single named check: the command's exit status is the verdict.
check() {	# name command...
	local name=$1
	shift
	if "$@"; then
		PASSED=$(( PASSED + 1 ))
		echo "---- $name: passed"
	else
		FAILED=$(( FAILED + 1 ))
		FAILED_NAMES+=("$name")
		echo "---- $name: FAILED"
	fi
}

run_unit() {
	export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
	export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
	local t
	for t in "$UNIT_DIR"/test_*; do
		[[ -x $t ]] || continue
		run_suite "unit/$(basename "$t")" "$t"
	done
}

free_ports() {	# count -> that many free loopback ports, one per line
	node -e '
		const net = require("net");
		const n = +process.argv[1], out = [], servers = [];
		(function next() {
			if (out.length === n) {
				servers.forEach(s => s.close());
				console.log(out.join("\n"));
				return;
			}
			const s = net.createServer();
			s.listen(0, "127.0.0.1", () => { out.push(s.address().port); servers.push(s); next(); });
		})();' "$1"
}

npm_install() {	# dir
	local dir=$1
	[[ -f $dir/package.json ]] || return 0
	if [[ ! -d $dir/node_modules ]] || [[ $dir/package-lock.json -nt $dir/node_modules ]]; then
		(cd "$dir" && npm ci --no-audit --no-fund --loglevel=error) || return 1
		touch "$dir/node_modules"
	fi
}

no_sanitizer_reports() {	# log-dir
	local hits
	hits=$(grep -lE 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$1"/*.log 2>/dev/null)
	if [[ -n $hits ]]; then
		echo "sanitizer reports in: $hits"
		grep -hE -A20 'ERROR: (Address|Leak)Sanitizer|runtime error:' $hits | head -80
		return 1
	fi
}

stack_pids() {	# run-dir -> the stack's pids and their children
	local f pid
	for f in "$1"/*.pid; do
		[[ -f $f ]] || continue
		pid=$(<"$f")
		echo "$pid"
		pgrep -P "$pid" || true
	done
}

nothing_left_running() {	# pids ports...
	local pids=$1 p rc=0
	shift
	local state
	for p in $pids; do
		# a zombie (state Z) has exited; only its parent has not reaped it;
		# no /proc entry (it ended between the two looks) has exited too
		state=$(awk '{print $3}' "/proc/$p/stat" 2>/dev/null) || state=
		if [[ -n $state && $state != Z ]]; then
			echo "pid $p still running ($state): $(tr '\0' ' ' < "/proc/$p/cmdline" 2>/dev/null)"
			rc=1
		fi
	done
	for p in "$@"; do
		if (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
			echo "port $p still listening"
			rc=1
		fi
	done
	return $rc
}

run_integration() {
	local tmp ports
	tmp=$(mktemp -d /tmp/reportsvc-test.XXXXXX)
	chmod 755 "$tmp"
	mapfile -t ports < <(free_ports 9)
	export VAR_DIR=$tmp/var BIN_DIR=$STACK_BIN
	export HTTP_PORT=${ports[0]} PG_PORT=${ports[1]} PG2_PORT=${ports[2]}
	export REDIS_PORT=${ports[3]} KAFKA_PORT=${ports[4]} SPARE_PORT=${ports[5]}
	export PROVIDERS_PORT=${ports[6]} RELAY_PORT=${ports[7]} POOL_PORT=${ports[8]}
	export FCGI_WORKERS=${TEST_FCGI_WORKERS:-2} PG_FSYNC=off
	# A small cap, so that the pool suite can have many more tenants
	# than server connections.
	export POOL_MAX_SERVER_CONNS=${TEST_POOL_CAP:-50} PG_MAX_CONNECTIONS=300
	export CORS_ORIGINS=https://allowed.example
	export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
	export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
	export STACK=$REPO/tools/stack.sh REPO
	# shellcheck disable=SC2064
	trap "'$REPO/tools/stack.sh' down > /dev/null 2>&1; rm -rf '$tmp'" EXIT

	local up_log=$tmp/stack-up.log
	if ! tools/stack.sh up > "$up_log" 2>&1; then
		cat "$up_log"
		check "integration/stack-up" false
		tools/stack.sh down > /dev/null 2>&1
		return
	fi
	check "integration/stack-up" true

	# The settings the stack runs with, for the tests.
	set -a
	# shellcheck disable=SC1091
	source "$VAR_DIR/stack.env"
	# shellcheck disable=SC1091
	source "$VAR_DIR/secrets.env"
	set +a
	export PG_HOST=127.0.0.1 PG_USER=${PG_USER:-postgres} PG_PASSWORD=${PG_PASSWORD:-postgres}
	export HTTP_BASE=http://127.0.0.1:$HTTP_PORT

	local t
	for t in "$ITEST_DIR"/test_*; do
		[[ -x $t ]] || continue
		[[ -n ${ONLY:-} && " $ONLY " != *" $(basename "$t") "* ]] && continue
		run_suite "integration/$(basename "$t")" "$t"
	done

	if [[ -n ${ONLY:-} ]]; then
		:	# a development run of chosen files only
	elif npm_install tests/graphql; then
		run_suite "graphql/oracle" env GQL_TOOL="$REPO/bin/gql-tool" \
			node --test --test-reporter=tap tests/graphql/
	else
		check "graphql/npm-install" false
	fi
	# ONLY="accounts graphql_http test_queue" runs just those Node files and
	# C programs (development).
	local files=(tests/integration/)
	if [[ -n ${ONLY:-} ]]; then
		files=()
		for t in $ONLY; do
			[[ -f tests/integration/$t.test.mjs ]] && files+=("tests/integration/$t.test.mjs")
		done
	fi
	if (( ${#files[@]} == 0 )); then
		:
	elif npm_install tests/integration; then
		run_suite "integration/node" node --test --test-reporter=tap "${files[@]}"
	else
		check "integration/npm-install" false
	fi

	local pids
	pids=$(stack_pids "$VAR_DIR/run")
	tools/stack.sh down > /dev/null 2>&1
	trap - EXIT
	check "integration/no-sanitizer-reports" no_sanitizer_reports "$VAR_DIR/log"
	check "integration/down-leaves-nothing" nothing_left_running "$pids" \
		"$HTTP_PORT" "$PG_PORT" "$PG2_PORT" "$REDIS_PORT" "$KAFKA_PORT" \
		"$PROVIDERS_PORT" "$RELAY_PORT" "$POOL_PORT"
	rm -rf "$tmp"
}

# README's configuration table must name every setting the programs read.
readme_lists_settings() {
	local missing=() name
	for name in $(bin/reportsvc-admin config-doc | sed -n 's/^| `\([A-Z0-9_]*\)`.*/\1/p'); do
		grep -q "\`$name\`" README.md || missing+=("$name")
	done
	if (( ${#missing[@]} > 0 )); then
		echo "README.md does not document: ${missing[*]} (bin/reportsvc-admin config-doc prints the table)"
		return 1
	fi
}

run_docs() {
	check "docs/readme-lists-every-setting" readme_lists_settings
}

run_fuzz() {
	if [[ -x build/fuzz/fuzz_gql_parse && -x build/fuzz/fuzz_http_decode &&
	    -x build/fuzz/fuzz_tokens ]]; then
		check "fuzz/short-run" tools/fuzz.sh "${FUZZ_TEST_SECS:-10}"
	else
		check "fuzz/built" false
	fi
}

case $MODE in
unit) run_unit ;;
integration) run_integration ;;
fuzz) run_fuzz ;;
docs) run_docs ;;
all) run_unit; run_docs; run_fuzz; run_integration ;;
*) echo "usage: run-tests.sh [unit|integration]" >&2; exit 2 ;;
esac

echo
if (( FAILED > 0 )); then
	echo "failed: ${FAILED_NAMES[*]}"
fi
echo "$PASSED passed, $FAILED failed"
(( FAILED == 0 ))
