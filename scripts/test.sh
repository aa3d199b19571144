#!/usr/bin/env bash
# make test: every check the project has. Fails on the first red one.
#
#   scripts/test.sh               gofmt, go vet, every test under -race, then the slowest tests
#   scripts/test.sh -flake N      the browser tests (TestBrowser*) N times in a row, stopping at
#                                 the first failure; FENXIAO_BROWSER_SLOWDOWN=K throttles the
#                                 browser's CPU K times to play a loaded machine
#
# Test output is summarised by gotestsum (a go.mod tool): failing tests print in full, and its
# JSON record, artifacts/test.json, gives the slowest-tests table. Browser failures leave a
# screenshot and the DOM under artifacts/failures/.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
export PATH="/usr/local/go/bin:$PATH"
mkdir -p artifacts

# A package's tests must fit well inside this on a loaded 2-core machine (the suite takes
# about 3 minutes on a quiet one); a hang fails here rather than at CI's 15 minutes.
pkg_timeout=10m

if [ "${1:-}" = "-flake" ]; then
  n=${2:?usage: scripts/test.sh -flake N}
  scripts/deps.sh
  echo "== browser tests, $n times${FENXIAO_BROWSER_SLOWDOWN:+ (browser CPU throttled ${FENXIAO_BROWSER_SLOWDOWN}×)}"
  start=$(date +%s)
  for i in $(seq "$n"); do
    t0=$(date +%s)
    scripts/pg.sh run go tool gotestsum --format pkgname-and-test-fails --jsonfile "artifacts/flake-$i.json" -- \
      -race -count=1 -timeout "$pkg_timeout" -run '^TestBrowser' ./cmd/fenxiao/ ||
      { echo "flaketest: run $i of $n failed (artifacts/flake-$i.json, artifacts/failures/)"; exit 1; }
    echo "flaketest: run $i of $n green in $(($(date +%s) - t0)) s"
  done
  echo "flaketest: $n of $n green in $(($(date +%s) - start)) s"
  exit 0
fi

echo "== gofmt"
unformatted=$(gofmt -l .)
if [ -n "$unformatted" ]; then
  echo "gofmt would change:"; echo "$unformatted"; exit 1
fi
echo "== go vet"
go vet ./...
echo "== system packages"
scripts/deps.sh
echo "== go test -race"
rm -rf artifacts/failures
status=0
scripts/pg.sh run go tool gotestsum --format pkgname-and-test-fails --jsonfile artifacts/test.json -- \
  -race -count=1 -timeout "$pkg_timeout" ./... || status=$?
echo "== slowest tests (over 2 s)"
go tool gotestsum tool slowest --jsonfile artifacts/test.json --threshold 2s > artifacts/slowest.txt
head -n 15 artifacts/slowest.txt # the whole list stays in artifacts/slowest.txt
exit "$status"
