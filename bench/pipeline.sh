#!/usr/bin/env bash
# The report pipeline on the stack `make up` runs (bench/pipeline.mjs says
# what it measures).  Figures only, no assertions.
set -euo pipefail
cd "$(dirname "$0")/.."
export REPO=$PWD BIN_DIR=${BIN_DIR:-$PWD/bin}
[[ -x $BIN_DIR/report-worker ]] || { echo "bench/pipeline.sh: $BIN_DIR/report-worker missing (make)" >&2; exit 2; }
if [[ ! -d tests/integration/node_modules ]]; then
	(cd tests/integration && npm ci --no-audit --no-fund --loglevel=error)
fi
exec node bench/pipeline.mjs
