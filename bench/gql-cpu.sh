#!/usr/bin/env bash
# CPU per GraphQL request inside the engine (no I/O).
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
"$REPO/bin/bench-gql" "${1:-200000}"
