# The README's commands, and the chores around them.
.PHONY: run demo test check generate bench load live-bench htmx image synth

HTMX_VERSION ?= 4.0.1

run: ## the app with embedded defaults: no Postgres, no Redis
	go run ./cmd/xkcdapp

demo: ## the app against a local fake xkcd, for machines without internet
	go build -o bin/ ./cmd/xkcdapp ./cmd/fakexkcd
	bin/fakexkcd -latest 3000 & \
	trap 'kill $$!' EXIT; \
	XKCD_BASE_URL=http://127.0.0.1:8001 LOG_FORMAT=text bin/xkcdapp

test: ## every test: unit, real Postgres, real Chromium; the AWS stack's assertions (needs node)
	./scripts/services.sh
	go test -race -count=1 ./...
	cd deploy && go test -count=1 ./... && node --test secureparam/

check: ## what CI checks besides the tests
	go tool templ generate
	git diff --exit-code -- '*_templ.go'
	test -z "$$(gofmt -l .)"
	go vet ./...
	go tool staticcheck ./...
	cd deploy && go vet ./...

generate:
	go tool templ generate

bench: ## micro-benchmarks: render, random pick, counter, whole requests, live fan-out
	go test -run '^$$' -bench . -benchmem ./views ./catalog ./counter ./handlers ./session ./live

load: ## hey against the real server, real Postgres and a fake upstream
	./bench/load.sh

image: ## the container image, its version stamped from git
	docker build --build-arg VERSION=$$(git describe --always --dirty) -t xkcdapp:$$(git describe --always --dirty) -t xkcdapp .

live-bench: ## 10,000 live stats streams on one instance at 1,000 views/s
	./bench/live.sh

htmx: ## vendor htmx from the npm package; then update static/README.md
	cd $$(mktemp -d) && npm pack --silent htmx.org@$(HTMX_VERSION) && \
	tar xzf htmx.org-$(HTMX_VERSION).tgz && cp package/dist/htmx.min.js $(CURDIR)/static/htmx.min.js && \
	cp package/dist/ext/hx-sse.js $(CURDIR)/static/hx-sse.js
	sha256sum static/htmx.min.js static/hx-sse.js

synth: ## the AWS stack's CloudFormation template, offline, into deploy/cdk.out (docs/DEPLOY.md)
	cd deploy && npm ci --no-audit --no-fund && npx cdk synth --quiet
