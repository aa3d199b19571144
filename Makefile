# The two commands of the README, plus the benchmarks. Everything else lives in scripts/.
export PATH := /usr/local/go/bin:$(PATH)

.PHONY: dev test flaketest soak bench stop-db

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

## soak: the campaign simulation for 1,000,000 steps (100 seeds × 10,000, in two processes, one
## per core); SEEDS (even) and STEPS change it; the log is artifacts/soak-{1,2}.log
SEEDS ?= 100
STEPS ?= 10000
soak:
	scripts/soak.sh $(SEEDS) $(STEPS)

## bench: the benchmarks, with their baselines measured in the same run
bench:
	scripts/pg.sh run go test -run '^$$' -bench . -benchmem -count 1 ./...

## stop-db: stop the dev PostgreSQL that make dev started
stop-db:
	scripts/pg.sh stop-dev
