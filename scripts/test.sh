#!/usr/bin/env bash
# make test: every check the project has. Fails on the first red one.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
export PATH="/usr/local/go/bin:$PATH"

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
scripts/pg.sh run go test -race -count=1 -timeout 5m ./...
