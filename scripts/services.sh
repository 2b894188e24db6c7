#!/usr/bin/env bash
# Makes sure what the tests need is here: Chromium for the browser tests,
# and the local Postgres and Redis servers, started if they are not running.
# Installing needs root and Debian's apt; elsewhere, install Chromium yourself
# (CHROMIUM=/path/to/chromium) and the browser tests use it.
set -euo pipefail

if ! command -v "${CHROMIUM:-/usr/bin/chromium}" >/dev/null 2>&1; then
	if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null; then
		echo "installing chromium from apt..."
		apt-get update -qq
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
	else
		echo "warning: Chromium not found; browser tests will be skipped (set CHROMIUM or install chromium)" >&2
	fi
fi

if command -v pg_isready >/dev/null && ! pg_isready -q -h 127.0.0.1 -p 5432; then
	if command -v pg_ctlcluster >/dev/null; then
		echo "starting Postgres..."
		pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -1)" main start
		for _ in $(seq 1 50); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 0.2; done
	fi
fi

if command -v redis-cli >/dev/null && ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
	if command -v redis-server >/dev/null; then
		echo "starting Redis..."
		mkdir -p /var/lib/redis /var/log/redis
		redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" \
			--appendonly no --dir /var/lib/redis --logfile /var/log/redis/ci.log
		for _ in $(seq 1 50); do redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1 && break; sleep 0.2; done
	fi
fi
