#!/usr/bin/env bash
# redis-cluster.sh starts, on 127.0.0.1 only and without persistence, a
# Redis Cluster of three masters with a replica each, made by
# `redis-cli --cluster create`, and a single redis-server beside it: what
# bench/ measures the Redis store on, and a cluster to try the store on by
# hand. It uses the redis-server and redis-cli of the Debian packages
# (scripts/install-redis.sh).
#
#   scripts/redis-cluster.sh start DIR [BASE_PORT]
#       Starts the servers with their files in DIR (created), the cluster on
#       BASE_PORT..BASE_PORT+5 (default 7100; cluster bus ports +10000, so
#       keep BASE_PORT+10005 below the ephemeral range, 32768 on Linux) and
#       the single server on BASE_PORT+6, waits until the cluster is ok and
#       every replica is in sync, then prints two lines:
#         single=127.0.0.1:7106
#         cluster=127.0.0.1:7100,127.0.0.1:7101,…
#   scripts/redis-cluster.sh stop DIR
#       Stops every server started in DIR and removes DIR.
#
# The redisstore tests do not use it: they start their own cluster from Go
# (redisstore/rediscluster_test.go) so that `make test` needs nothing more.
set -Eeuo pipefail

usage() { sed -n '2,22p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
[ $# -ge 2 ] || usage
cmd=$1 dir=$2 base=${3:-7100}

stop() {
	[ -d "$dir" ] || return 0
	for pidfile in "$dir"/*/redis.pid; do
		[ -f "$pidfile" ] || continue
		pid=$(cat "$pidfile")
		kill -CONT "$pid" 2>/dev/null || true
		kill "$pid" 2>/dev/null || true
	done
	for pidfile in "$dir"/*/redis.pid; do
		[ -f "$pidfile" ] || continue
		pid=$(cat "$pidfile")
		for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$pid" 2>/dev/null || true
	done
	rm -rf "$dir"
}

wait_ping() {
	for _ in $(seq 100); do
		[ "$(redis-cli -p "$1" ping 2>/dev/null)" = PONG ] && return 0
		sleep 0.05
	done
	echo "redis-cluster: redis-server on port $1 did not answer PING" >&2
	return 1
}

start_server() { # port, extra arguments…
	local port=$1
	shift
	mkdir -p "$dir/$port"
	# Refuse a port, or cluster bus port, that something already answers on.
	for p in "$port" $((port + 10000)); do
		if (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
			echo "redis-cluster: port $p is in use; give another BASE_PORT" >&2
			return 1
		fi
	done
	redis-server --port "$port" --bind 127.0.0.1 --save "" --appendonly no \
		--dir "$dir/$port" --daemonize yes --pidfile "$dir/$port/redis.pid" \
		--logfile "$dir/$port/redis.log" --loglevel warning "$@"
	wait_ping "$port"
}

case $cmd in
start)
	command -v redis-server >/dev/null && command -v redis-cli >/dev/null || {
		echo "redis-cluster: redis-server and redis-cli are needed:" >&2
		sh "$(dirname "$0")/install-redis.sh" --how >&2
		exit 1
	}
	mkdir -p "$dir"
	trap 'stop' ERR
	addrs=()
	for i in 0 1 2 3 4 5; do
		port=$((base + i))
		start_server "$port" --cluster-enabled yes --cluster-config-file nodes.conf \
			--cluster-node-timeout 1000 --repl-diskless-sync yes --repl-diskless-sync-delay 0
		addrs+=("127.0.0.1:$port")
	done
	start_server $((base + 6))
	redis-cli --cluster create "${addrs[@]}" --cluster-replicas 1 --cluster-yes >"$dir/create.log" 2>&1 || {
		cat "$dir/create.log" >&2
		false
	}
	for _ in $(seq 200); do
		ok=1
		for i in 0 1 2 3 4 5; do
			port=$((base + i))
			redis-cli -p "$port" cluster info | grep -q '^cluster_state:ok' || ok=0
			if redis-cli -p "$port" info replication | grep -q '^role:slave'; then
				redis-cli -p "$port" info replication | grep -q '^master_link_status:up' || ok=0
			fi
		done
		[ $ok = 1 ] && break
		sleep 0.1
	done
	[ $ok = 1 ] || { echo "redis-cluster: the cluster did not become ok" >&2; false; }
	trap - ERR
	echo "single=127.0.0.1:$((base + 6))"
	(IFS=,; echo "cluster=${addrs[*]}")
	;;
stop)
	stop
	;;
*)
	usage
	;;
esac
