#!/usr/bin/env bash
# Runs every libFuzzer target for the given number of seconds (default 300)
# from its seed corpus; exits non-zero on a crash, leak or timeout.  Found
# inputs stay in build/fuzz/corpus-<name>/ for the next run.
set -uo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$REPO"
SECS=${1:-300}
rc=0
run() {	# name seed-dir
	local name=$1 seeds=$2 work=build/fuzz/corpus-$1
	mkdir -p "$work"
	echo "fuzz: $name for ${SECS}s"
	if ! build/fuzz/"$name" -max_total_time="$SECS" -timeout=5 -rss_limit_mb=2048 \
		-max_len=16384 -print_final_stats=1 -artifact_prefix=build/fuzz/"$name"- \
		"$work" "$seeds" > build/fuzz/"$name".log 2>&1; then
		echo "fuzz: $name FAILED; see build/fuzz/$name.log"
		tail -40 build/fuzz/"$name".log
		rc=1
	else
		grep -E 'stat::number_of_executed_units|Done' build/fuzz/"$name".log | tail -2
	fi
}
# The parser's seeds: the oracle corpus, each prefixed with the mode byte 0.
seeds=build/fuzz/seeds-gql
mkdir -p "$seeds"
for f in tests/graphql/corpus/*.graphql; do
	{ printf '\0'; cat "$f"; } > "$seeds/$(basename "$f")"
done
run fuzz_gql_parse "$seeds"
run fuzz_http_decode tests/fuzz/seeds/http
run fuzz_tokens tests/fuzz/seeds/tokens
run fuzz_events tests/fuzz/seeds/events
exit $rc
