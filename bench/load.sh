#!/usr/bin/env bash
# Load test: hey against the real server (real Postgres, fake upstream on
# loopback), and in the same run against a bare 2 KB Go handler, the
# ceiling. Prints req/s, p50, p99 and errors for each, the ratio to the
# ceiling, and the upstream calls per view once warm.
#
# GET / comes from new visitors (no cookie); GET /random (HX) from one
# returning visitor (a session cookie), once against the server with
# sessions in memory and once against a second server with sessions in
# Redis (REDIS_URL, default the local server), so that the cost of Redis
# is a ratio from one run.
#
#   bench/load.sh                        # 50 clients, 10 s per target, 2 rounds
#   CONCURRENCY=100 DURATION=20s ROUNDS=3 bench/load.sh
#   BASELINE=<git rev> bench/load.sh     # also that revision's server, same run
set -euo pipefail
cd "$(dirname "$0")/.."

CONCURRENCY=${CONCURRENCY:-50}
DURATION=${DURATION:-10s}
ROUNDS=${ROUNDS:-2}
LATEST=${LATEST:-3000}
BASELINE=${BASELINE:-}
PGURL=${TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable}
APP_PORT=${APP_PORT:-18000}
FAKE_PORT=${FAKE_PORT:-18001}
CEIL_PORT=${CEIL_PORT:-18002}
BASE_PORT=${BASE_PORT:-18003}
REDIS_APP_PORT=${REDIS_APP_PORT:-18004}
REDIS_URL=${TEST_REDIS_URL:-redis://127.0.0.1:6379/0}

command -v hey >/dev/null || go install github.com/rakyll/hey@v0.1.5
HEY=$(command -v hey || echo "$(go env GOPATH)/bin/hey")
command -v psql >/dev/null || { echo "load.sh: psql is needed" >&2; exit 1; }
export PGOPTIONS="-c client_min_messages=warning"

bin=$(mktemp -d)
pids=()
dbs=()
cleanup() {
	for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
	wait 2>/dev/null || true
	for db in "${dbs[@]}"; do psql -q "$PGURL" -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true; done
	[[ -d $bin/src ]] && git worktree remove --force "$bin/src" >/dev/null 2>&1
	rm -rf "$bin"
}
trap cleanup EXIT

go build -o "$bin/xkcdapp" ./cmd/xkcdapp
go build -o "$bin/fakexkcd" ./cmd/fakexkcd
go build -o "$bin/ceiling" ./bench/ceiling
if [[ -n $BASELINE ]]; then
	git worktree add --detach "$bin/src" "$BASELINE" >/dev/null 2>&1
	go build -C "$bin/src" -o "$bin/baseline" ./cmd/xkcdapp
fi

# database NAME -> creates it and prints its URL (run in $(…): the caller
# records it for cleanup)
database() {
	psql -q "$PGURL" -c "DROP DATABASE IF EXISTS $1 WITH (FORCE)" -c "CREATE DATABASE $1" >/dev/null
	python3 -c 'import sys,urllib.parse as u; p=u.urlparse(sys.argv[1]); print(p._replace(path="/"+sys.argv[2]).geturl())' "$PGURL" "$1"
}

# serve BINARY PORT DATABASE [NAME=VALUE...] -> starts the app with those
# variables set and waits for its catalog
serve() {
	local url
	url=$(database "$3")
	dbs+=("$3")
	env ADDR="127.0.0.1:$2" DATABASE_URL="$url" XKCD_BASE_URL="http://127.0.0.1:$FAKE_PORT" "${@:4}" \
		"$1" serve >"$bin/$3.log" 2>&1 & pids+=($!)
	for _ in $(seq 1 300); do
		if curl -fsS "http://127.0.0.1:$2/readyz" 2>/dev/null | grep -q '"complete":true'; then return; fi
		sleep 0.2
	done
	echo "catalog of $1 never completed"; cat "$bin/$3.log"; exit 1
}

"$bin/fakexkcd" -addr "127.0.0.1:$FAKE_PORT" -latest "$LATEST" 2>"$bin/fake.log" & pids+=($!)
"$bin/ceiling" -addr "127.0.0.1:$CEIL_PORT" 2>"$bin/ceiling.log" & pids+=($!)
echo "waiting for the catalog (comics 1..$LATEST) to be cached..."
serve "$bin/xkcdapp" "$APP_PORT" xkcdapp_bench
serve "$bin/xkcdapp" "$REDIS_APP_PORT" xkcdapp_bench_redis REDIS_URL="$REDIS_URL"
[[ -n $BASELINE ]] && serve "$bin/baseline" "$BASE_PORT" xkcdapp_bench_base
grep -q '"sessions in redis"' "$bin/xkcdapp_bench_redis.log" || { echo "the Redis server has no Redis sessions"; exit 1; }

# cookie PORT -> a returning visitor's session cookie, from a first view
cookie() {
	curl -fsS -o /dev/null -D - "http://127.0.0.1:$1/comic/1" |
		sed -n 's/^[Ss]et-[Cc]ookie: \(xkcdapp_session=[^;]*\).*/\1/p'
}
memory_cookie=$(cookie "$APP_PORT")
redis_cookie=$(cookie "$REDIS_APP_PORT")
[[ -n $memory_cookie && -n $redis_cookie ]] || { echo "no session cookie"; exit 1; }

# run NAME URL [header...] -> prints one result line and appends to $bin/results
run() {
	local name=$1 url=$2
	local args=(-z "$DURATION" -c "$CONCURRENCY")
	for header in "${@:3}"; do args+=(-H "$header"); done
	"$HEY" "${args[@]}" "$url" >"$bin/hey.out"
	awk -v name="$name" '
		/Requests\/sec:/ { rps = $2 }
		/ 50%+ in / { p50 = $3 * 1000 }
		/ 99%+ in / { p99 = $3 * 1000 }
		/Error distribution:/ { inerr = 1; next }
		/^ *\[[0-9]+\][ \t]+[0-9]+ responses/ {
			code = $1; gsub(/[\[\]]/, "", code); total += $2
			if (code !~ /^[23]/) errs += $2
			next
		}
		inerr && /^ *\[[0-9]+\]/ { n = $1; gsub(/[\[\]]/, "", n); errs += n; total += n }
		END { printf "%-30s %10.0f %9.2f %9.2f %8d %9d\n", name, rps, p50, p99, errs, total }
	' "$bin/hey.out" | tee -a "$bin/results"
}

calls_before=$(curl -fsS "http://127.0.0.1:$FAKE_PORT/_calls")
printf "%-30s %10s %9s %9s %8s %9s\n" target "req/s" "p50 ms" "p99 ms" errors requests
for round in $(seq 1 "$ROUNDS"); do
	echo "-- round $round ($CONCURRENCY clients, $DURATION each)"
	run "ceiling (bare 2KB)" "http://127.0.0.1:$CEIL_PORT/"
	run "GET /" "http://127.0.0.1:$APP_PORT/"
	run "GET /random (HX) memory" "http://127.0.0.1:$APP_PORT/random" "HX-Request: true" "Cookie: $memory_cookie"
	run "GET /random (HX) redis" "http://127.0.0.1:$REDIS_APP_PORT/random" "HX-Request: true" "Cookie: $redis_cookie"
	if [[ -n $BASELINE ]]; then
		run "baseline GET /" "http://127.0.0.1:$BASE_PORT/"
		run "baseline GET /random (HX)" "http://127.0.0.1:$BASE_PORT/random" "HX-Request: true"
	fi
done
calls_after=$(curl -fsS "http://127.0.0.1:$FAKE_PORT/_calls")

echo
awk -v calls=$((calls_after - calls_before)) '
	{
		name = substr($0, 1, 30); sub(/ +$/, "", name)
		rps[name] += $(NF-4); n[name]++
		if (name != "ceiling (bare 2KB)") views += $NF
	}
	END {
		c = rps["ceiling (bare 2KB)"] / n["ceiling (bare 2KB)"]
		for (k in rps) if (k != "ceiling (bare 2KB)")
			printf "%-30s mean %8.0f req/s = %5.1f%% of the ceiling (%.0f req/s)\n", k, rps[k] / n[k], 100 * rps[k] / n[k] / c, c
		if (rps["GET /random (HX) memory"])
			printf "sessions in redis: %.1f%% fewer req/s than in memory\n", 100 * (1 - rps["GET /random (HX) redis"] / rps["GET /random (HX) memory"])
		printf "upstream calls during load: %d for %d views (%.4f per view)\n", calls, views, (views ? calls / views : 0)
	}' "$bin/results" | sort
grep -hiE '"level":"(ERROR|WARN)"' "$bin"/*.log | head -5 || true
