#!/usr/bin/env bash
# Installs the Debian packages the project needs, non-interactively, and does
# nothing when they are all present.  Called by every make target that needs
# packages.
set -euo pipefail

BUILD_PACKAGES=(
	build-essential pkg-config
	libfcgi-dev libpq-dev libjson-c-dev libjwt-dev libcrypt-dev
	librdkafka-dev libhiredis-dev libcurl4-openssl-dev libwebsockets-dev
	libmicrohttpd-dev libssl-dev
)
RUN_PACKAGES=(
	# servers of the local stack and the tests
	nginx-light postgresql postgresql-contrib pgbouncer redis-server
	# tools used by the stack scripts, tests and benchmarks
	clang libclang-rt-14-dev kcat curl jq openssl procps iproute2 nodejs npm wrk hyperfine
)
# DEPS_BUILD_ONLY=1 (the Docker build stage): only what compiling needs.
if [[ ${DEPS_BUILD_ONLY:-0} == 1 ]]; then
	PACKAGES=("${BUILD_PACKAGES[@]}")
else
	PACKAGES=("${BUILD_PACKAGES[@]}" "${RUN_PACKAGES[@]}")
fi

missing=()
for p in "${PACKAGES[@]}"; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
		missing+=("$p")
	fi
done
# A machine may carry its own Node.js outside Debian's packages; that is fine.
if command -v node >/dev/null && command -v npm >/dev/null; then
	filtered=()
	for p in "${missing[@]}"; do
		[[ $p == nodejs || $p == npm ]] || filtered+=("$p")
	done
	missing=("${filtered[@]+"${filtered[@]}"}")
fi

[[ ${#missing[@]} -eq 0 ]] && exit 0

echo "deps: installing ${missing[*]}"
if [[ $(id -u) -ne 0 ]]; then
	if command -v sudo >/dev/null; then
		SUDO=sudo
	else
		echo "deps: missing packages (${missing[*]}) and not root; run 'make deps' as root" >&2
		exit 1
	fi
else
	SUDO=
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "deps: done"
