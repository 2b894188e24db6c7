#!/usr/bin/env bash
# What one Fargate task of each size might serve: the app under a CPU
# quota like a task's (a cgroup v1 CFS quota: 0.25, 0.5, 1 CPU), against the
# local Postgres and Redis and a fake upstream on loopback, with hey outside
# the quota. Prints req/s, p50 and p99 for new visitors (GET /, a session
# written to Redis and a view committed per request) and for a returning
# visitor's "Another one" (GET /random with htmx and a session cookie).
#
# The app gets the deployment's DATABASE_MAX_CONNS (6).
#
# Postgres, Redis and hey share the rest of the machine, and round trips
# on loopback are shorter than in a VPC: read the figures as a task's
# CPU-bound ceiling on this machine, not as a measurement on AWS.
#
#   deploy/tasksize.sh                       # 0.25 0.5 1 CPU, 50 clients, 10 s each
#   SIZES="0.5" CONCURRENCY=100 DURATION=20s deploy/tasksize.sh
#
# Needs root (for the cgroup), psql, redis-server on 127.0.0.1:6379 and hey.
set -euo pipefail
cd "$(dirname "$0")/.."

SIZES=${SIZES:-0.25 0.5 1}
CONCURRENCY=${CONCURRENCY:-50}
DURATION=${DURATION:-10s}
LATEST=${LATEST:-3000}
PGURL=${TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable}
REDIS_URL=${TEST_REDIS_URL:-redis://127.0.0.1:6379/0}
APP_PORT=${APP_PORT:-18010}
FAKE_PORT=${FAKE_PORT:-18011}
CGROUP=/sys/fs/cgroup/cpu/xkcdapp-tasksize-$$

[[ -d /sys/fs/cgroup/cpu ]] || { echo "tasksize.sh: needs cgroup v1's cpu controller at /sys/fs/cgroup/cpu" >&2; exit 1; }
command -v hey >/dev/null || go install github.com/rakyll/hey@v0.1.5
HEY=$(command -v hey || echo "$(go env GOPATH)/bin/hey")
export PGOPTIONS="-c client_min_messages=warning"

bin=$(mktemp -d)
db=xkcdapp_tasksize_$$
pids=()
app=""
cleanup() {
	[[ -n $app ]] && kill "$app" 2>/dev/null
	for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
	wait 2>/dev/null || true
	[[ -d $CGROUP ]] && rmdir "$CGROUP" 2>/dev/null
	psql -q "$PGURL" -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true
	rm -rf "$bin"
}
trap cleanup EXIT

go build -o "$bin/xkcdapp" ./cmd/xkcdapp
go build -o "$bin/fakexkcd" ./cmd/fakexkcd
psql -q "$PGURL" -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" -c "CREATE DATABASE $db" >/dev/null
dburl=$(python3 -c 'import sys,urllib.parse as u; p=u.urlparse(sys.argv[1]); print(p._replace(path="/"+sys.argv[2]).geturl())' "$PGURL" "$db")
"$bin/fakexkcd" -addr "127.0.0.1:$FAKE_PORT" -latest "$LATEST" 2>"$bin/fake.log" & pids+=($!)
mkdir "$CGROUP"

# serve QUOTA -> the app, inside the cgroup at QUOTA CPUs, catalog warm
serve() {
	echo 100000 >"$CGROUP/cpu.cfs_period_us"
	awk -v cpus="$1" 'BEGIN { printf "%d\n", cpus * 100000 }' >"$CGROUP/cpu.cfs_quota_us"
	# The shell joins the cgroup, then becomes the app: every thread the Go
	# runtime starts is inside, and the runtime sizes GOMAXPROCS by the quota
	# as it would on Fargate.
	sh -c 'echo $$ >"$1/cgroup.procs" && shift && exec "$@"' sh "$CGROUP" \
		env ADDR="127.0.0.1:$APP_PORT" DATABASE_URL="$dburl" REDIS_URL="$REDIS_URL" \
		XKCD_BASE_URL="http://127.0.0.1:$FAKE_PORT" DATABASE_MAX_CONNS=6 LOG_LEVEL=warn "$bin/xkcdapp" serve >"$bin/app.log" 2>&1 &
	app=$!
	for _ in $(seq 1 600); do
		if curl -fsS "http://127.0.0.1:$APP_PORT/readyz" 2>/dev/null | grep -q '"complete":true'; then return; fi
		sleep 0.2
	done
	echo "the catalog never completed"; cat "$bin/app.log"; exit 1
}

stop() {
	kill "$app"
	wait "$app" 2>/dev/null || true
	app=""
}

# run NAME URL [header...] -> one result line
run() {
	local name=$1 url=$2
	local args=(-z "$DURATION" -c "$CONCURRENCY")
	for header in "${@:3}"; do args+=(-H "$header"); done
	"$HEY" "${args[@]}" "$url" >"$bin/hey.out"
	awk -v name="$name" '
		/Requests\/sec:/ { rps = $2 }
		/ 50%+ in / { p50 = $3 * 1000 }
		/ 99%+ in / { p99 = $3 * 1000 }
		/^ *\[[0-9]+\][ \t]+[0-9]+ responses/ {
			code = $1; gsub(/[\[\]]/, "", code); if (code !~ /^[23]/) errs += $2
		}
		END { printf "%-34s %8.0f %8.2f %8.2f %7d\n", name, rps, p50, p99, errs }
	' "$bin/hey.out"
}

echo "$(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg) before the run; $CONCURRENCY clients, $DURATION per line"
printf "%-34s %8s %8s %8s %7s\n" "task CPU, target" "req/s" "p50 ms" "p99 ms" errors
for size in $SIZES; do
	before=$(awk '/nr_throttled/ { print $2 }' "$CGROUP/cpu.stat")
	serve "$size"
	cookie=$(curl -fsS -o /dev/null -D - "http://127.0.0.1:$APP_PORT/comic/1" |
		sed -n 's/^[Ss]et-[Cc]ookie: \(xkcdapp_session=[^;]*\).*/\1/p')
	[[ -n $cookie ]] || { echo "no session cookie: is Redis at $REDIS_URL?"; exit 1; }
	run "$size CPU, GET / (new visitors)" "http://127.0.0.1:$APP_PORT/"
	run "$size CPU, GET /random (returning)" "http://127.0.0.1:$APP_PORT/random" "HX-Request: true" "Cookie: $cookie"
	throttled=$(awk '/nr_throttled/ { print $2 }' "$CGROUP/cpu.stat")
	echo "  (the quota throttled the app in $((throttled - before)) periods of 100 ms)"
	stop
done
