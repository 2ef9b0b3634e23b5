#!/bin/sh
# install-redis.sh makes sure redis-server is available for the Redis store's
# tests (redisstore/). If it is missing and this machine allows it (running as
# root with apt-get, i.e. Debian or Ubuntu), it installs the redis-server
# package. Otherwise it prints what to install and exits 0: the Redis tests
# then skip with the same advice, except under CI=true, where they fail.
#
# install-redis.sh --how only prints how to install redis-server.
set -eu

how() {
	cat <<'MSG'
Install Redis 6.2 or newer so that redis-server is on PATH, for example:
  Debian/Ubuntu: sudo apt-get install redis-server  (or: sudo sh scripts/install-redis.sh)
  macOS:         brew install redis
  Fedora/RHEL:   sudo dnf install redis
MSG
}

if [ "${1:-}" = --how ]; then
	how
	exit 0
fi

if command -v redis-server >/dev/null 2>&1; then
	echo "install-redis: $(redis-server --version)"
	exit 0
fi

if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
	echo "install-redis: redis-server missing; installing it with apt-get"
	export DEBIAN_FRONTEND=noninteractive
	# The tests start their own servers on free ports; a system-wide service
	# the package may start is not needed.
	if apt-get update -qq && apt-get install -y -qq --no-install-recommends redis-server >/dev/null &&
		command -v redis-server >/dev/null 2>&1; then
		echo "install-redis: $(redis-server --version)"
		exit 0
	fi
	echo "install-redis: installing redis-server with apt-get failed" >&2
	# Under CI the Redis tests must run: stop here. Elsewhere they skip.
	if [ "${CI:-}" = true ]; then
		exit 1
	fi
	echo "install-redis: the Redis store's tests will be skipped" >&2
	exit 0
fi

echo "install-redis: redis-server is not installed and this machine does not allow"
echo "installing it here (needs root and apt-get)."
how
echo "Without it the Redis store's tests are skipped (and fail under CI=true)."
exit 0
