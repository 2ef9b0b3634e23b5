#!/bin/sh
# test-redisstore.sh runs the Redis store's tests for `make test`. It says
# before they start what they do and how long they take, and, because
# `go test` prints only "ok" for a passing package, it says visibly when they
# were skipped (no usable redis-server) and how to install redis-server.
# Under CI=true a missing redis-server fails the tests instead (see
# redisstore/redisserver_test.go).
set -eu
cd "$(dirname "$0")/.."
root=$(pwd)

echo "== go test -race ./redisstore/: the Redis store against redis-server processes of its own"
echo "   (conformance suite on a server and on a 3-master cluster, instances sharing one Redis and the"
echo "   cluster, a slot migration, masters failed over, Redis killed and stalled)"
if command -v redis-server >/dev/null 2>&1; then
	echo "   : about two minutes"
else
	echo "   : redis-server is not on PATH, so they will be skipped"
fi

log=$(mktemp "${TMPDIR:-/tmp}/redisstore-test.XXXXXX")
trap 'rm -f "$log"' EXIT
start=$(date +%s)
# -v so that skipped tests show in the output; it is summarised below.
if ! (cd redisstore && GOWORK=off go test -race -count=1 -v ./...) >"$log" 2>&1; then
	cat "$log"
	echo "== redisstore: FAILED"
	grep -E '^[[:space:]]*--- FAIL' "$log" || true
	exit 1
fi
grep -E '^(ok|\?)[[:space:]]' "$log"

# Top-level tests skip only when no usable redis-server was found (subtests
# may skip for reasons of their own, e.g. audit checks that do not apply).
skipped=$(grep -cE '^--- SKIP' "$log" || true)
if [ "$skipped" -gt 0 ]; then
	ran=$(grep -cE '^=== RUN[[:space:]]+[^/[:space:]]+$' "$log" || true)
	# The first reason given (go test -v prints it just before the SKIP
	# line), without its file:line prefix or the install advice below.
	why=$(grep -B1 -m1 -E '^--- SKIP' "$log" | head -n 1 |
		sed -E -e 's/^[[:space:]]*[^[:space:]]+\.go:[0-9]+: //' -e 's/; skipping.*//')
	cat <<MSG

********************************************************************************
* The Redis store's tests were SKIPPED: $skipped of $ran tests did not run, so
* the "ok" above says nothing about redisstore. The reason given:
* $why
MSG
	sh "$root/scripts/install-redis.sh" --how | sed 's/^/* /'
	cat <<'MSG'
* then run make test again.
********************************************************************************

MSG
fi
echo "== redisstore: $(($(date +%s) - start))s"
