# The two commands of the README, plus the benchmarks. Everything else lives in scripts/.
export PATH := /usr/local/go/bin:$(PATH)

.PHONY: dev test flaketest bench stop-db

## dev: run Fenxiao locally with its own PostgreSQL (unless DATABASE_URL is set)
dev:
	scripts/dev.sh

## test: gofmt, go vet and every test (race detector on) against a private PostgreSQL
test:
	scripts/test.sh

## flaketest: the browser tests N times in a row (N=10); SLOWDOWN=K throttles the browser K×
N ?= 10
flaketest:
	FENXIAO_BROWSER_SLOWDOWN=$(SLOWDOWN) scripts/test.sh -flake $(N)

## bench: the benchmarks, with their baselines measured in the same run
bench:
	scripts/pg.sh run go test -run '^$$' -bench . -benchmem -count 1 ./...

## stop-db: stop the dev PostgreSQL that make dev started
stop-db:
	scripts/pg.sh stop-dev
