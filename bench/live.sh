#!/usr/bin/env bash
# Live stats under load: one instance on real Postgres and a redis-server
# of its own for sessions (a fake upstream on loopback), STREAMS Server-Sent Events streams attached by bench/live,
# views at RATE per second. Prints delivery latency from commit to stream
# (p50, p99), the instance's RSS and CPU, and GET /random req/s (hey) with
# and without the streams.
#
#   bench/live.sh                          # 10,000 streams, 1,000 views/s
#   STREAMS=2000 RATE=500 MEASURE=20s bench/live.sh
#   LEADERBOARD=1 bench/live.sh            # every stream on the leaderboard
set -euo pipefail
cd "$(dirname "$0")/.."

STREAMS=${STREAMS:-10000}
RATE=${RATE:-1000}
LEADERBOARD=${LEADERBOARD:-0.1}
MEASURE=${MEASURE:-30s}
LATEST=${LATEST:-3000}
PGURL=${TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable}
APP_PORT=${APP_PORT:-18100}
FAKE_PORT=${FAKE_PORT:-18101}
REDIS_PORT=${REDIS_PORT:-18102}
DB=xkcdapp_bench_live

# Each stream is a socket on both sides: the harness and the instance each
# hold STREAMS of them.
ulimit -n "$(ulimit -Hn)"
if (($(ulimit -n) < STREAMS + 1000)); then
	echo "live.sh: ulimit -n is $(ulimit -n); $((STREAMS + 1000)) file descriptors are needed" >&2
	exit 1
fi
command -v hey >/dev/null || { echo "live.sh: hey is needed (go install github.com/rakyll/hey@v0.1.5)" >&2; exit 1; }
export PGOPTIONS="-c client_min_messages=warning"

bin=$(mktemp -d)
pids=()
cleanup() {
	for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
	wait 2>/dev/null || true
	psql -q "$PGURL" -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null 2>&1 || true
	rm -rf "$bin"
}
trap cleanup EXIT

go build -o "$bin/xkcdapp" ./cmd/xkcdapp
go build -o "$bin/fakexkcd" ./cmd/fakexkcd
go build -o "$bin/live" ./bench/live

psql -q "$PGURL" -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" -c "CREATE DATABASE $DB" >/dev/null
url=$(python3 -c 'import sys,urllib.parse as u; p=u.urlparse(sys.argv[1]); print(p._replace(path="/"+sys.argv[2]).geturl())' "$PGURL" "$DB")

"$bin/fakexkcd" -addr "127.0.0.1:$FAKE_PORT" -latest "$LATEST" 2>"$bin/fake.log" & pids+=($!)
# hey's visitors have no cookie: each starts a session, kept in a Redis
# that goes with the run.
redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save "" --appendonly no >"$bin/redis.log" 2>&1 & pids+=($!)
ADDR="127.0.0.1:$APP_PORT" DATABASE_URL="$url" REDIS_URL="redis://127.0.0.1:$REDIS_PORT/0" \
	XKCD_BASE_URL="http://127.0.0.1:$FAKE_PORT" LOG_LEVEL=warn \
	"$bin/xkcdapp" serve >"$bin/app.log" 2>&1 & app=$!
pids+=($app)
for _ in $(seq 1 300); do
	if curl -fsS "http://127.0.0.1:$APP_PORT/readyz" 2>/dev/null | grep -q '"complete":true'; then break; fi
	sleep 0.2
done
curl -fsS "http://127.0.0.1:$APP_PORT/readyz" | grep -q '"complete":true' || { echo "catalog never completed"; cat "$bin/app.log"; exit 1; }

echo "$(nproc) cores; load average $(cut -d' ' -f1-3 /proc/loadavg) before the run"
"$bin/live" -url "http://127.0.0.1:$APP_PORT" -pid "$app" -streams "$STREAMS" -rate "$RATE" \
	-leaderboard "$LEADERBOARD" -measure "$MEASURE"
echo "load average $(cut -d' ' -f1-3 /proc/loadavg) after the run"
if grep -q '"level":"\(WARN\|ERROR\)"' "$bin/app.log"; then
	echo "warnings and errors logged by the instance:"
	grep '"level":"\(WARN\|ERROR\)"' "$bin/app.log" | grep -o '"level":"[A-Z]*","msg":"[^"]*"' | sort | uniq -c
	grep '"msg":"live stats: slow refresh' "$bin/app.log" | tail -3 || true
fi
