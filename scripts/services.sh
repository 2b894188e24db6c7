#!/usr/bin/env bash
# Makes sure what the tests need is here: Chromium for the browser tests,
# and the local Postgres and Redis servers, started if they are not running.
# Installing needs root and Debian's apt; elsewhere, install Chromium yourself
# (CHROMIUM=/path/to/chromium) and the browser tests use it. With CI set, a
# missing piece is an error; otherwise the tests that need it skip, loudly.
set -euo pipefail

missing() {
	if [[ -n ${CI:-} ]]; then
		echo "error: $1" >&2
		exit 1
	fi
	echo "warning: $1; the tests that need it will be skipped" >&2
}

if ! command -v "${CHROMIUM:-/usr/bin/chromium}" >/dev/null 2>&1; then
	if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null; then
		echo "installing chromium from apt..."
		apt-get update -qq
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
	fi
	command -v "${CHROMIUM:-/usr/bin/chromium}" >/dev/null 2>&1 || missing "Chromium not found (set CHROMIUM or install chromium)"
fi

if command -v pg_isready >/dev/null && ! pg_isready -q -h 127.0.0.1 -p 5432; then
	if command -v pg_ctlcluster >/dev/null; then
		echo "starting Postgres..."
		pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -1)" main start
		for _ in $(seq 1 50); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 0.2; done
	fi
fi
pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null || missing "Postgres is not answering on 127.0.0.1:5432"

if command -v redis-cli >/dev/null && ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
	if command -v redis-server >/dev/null; then
		echo "starting Redis..."
		mkdir -p /var/lib/redis /var/log/redis
		redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" \
			--appendonly no --dir /var/lib/redis --logfile /var/log/redis/ci.log
		for _ in $(seq 1 50); do redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1 && break; sleep 0.2; done
	fi
fi
redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1 || missing "Redis is not answering on 127.0.0.1:6379"
# The outage tests run a Redis server of their own.
command -v redis-server >/dev/null || missing "redis-server not found"
