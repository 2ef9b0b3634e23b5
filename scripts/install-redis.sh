#!/bin/sh
# install-redis.sh makes sure redis-server is available for the Redis store's
# tests (redisstore/). If it is missing and this machine allows it (running as
# root with apt-get, i.e. Debian or Ubuntu), it installs the redis-server
# package. Otherwise it prints what to install and exits 0: the Redis tests
# then skip with the same advice, except under CI=true, where they fail.
set -eu

if command -v redis-server >/dev/null 2>&1; then
	echo "install-redis: $(redis-server --version)"
	exit 0
fi

if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
	echo "install-redis: redis-server missing; installing it with apt-get"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends redis-server >/dev/null
	# The package may start a system-wide service on port 6379; the tests
	# run their own servers on free ports and need none of it.
	if command -v redis-server >/dev/null 2>&1; then
		echo "install-redis: $(redis-server --version)"
		exit 0
	fi
	echo "install-redis: apt-get ran but redis-server is still not on PATH" >&2
	exit 1
fi

cat <<'MSG'
install-redis: redis-server is not installed and this machine does not allow
installing it here (needs root and apt-get). Install Redis 6.2 or newer so
that redis-server is on PATH, for example:
  Debian/Ubuntu: sudo apt-get install redis-server
  macOS:         brew install redis
  Fedora/RHEL:   sudo dnf install redis
Without it the Redis store's tests are skipped (and fail under CI=true).
MSG
exit 0
