#!/usr/bin/env bash
# make soak: the campaign simulation (campaign/simulation_test.go) for SEEDS × STEPS steps, the
# seeds split over two test processes (one per core) on one private PostgreSQL. Each process
# logs to artifacts/soak-N.log; a failure there names its seed, step and replay command.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
export PATH="/usr/local/go/bin:$PATH"
seeds=${1:-100} steps=${2:-10000}
half=$(( (seeds + 1) / 2 ))
mkdir -p artifacts
start=$(date +%s)
scripts/pg.sh run bash -c "
  go test -c -o '$root/artifacts/campaign.test' ./campaign/
  run() { '$root/artifacts/campaign.test' -test.run '^TestSimulation\$' -test.v -test.timeout 0 -sim.from \$1 -sim.seeds \$2 -sim.steps $steps > '$root'/artifacts/soak-\$3.log 2>&1; }
  (cd campaign && run 1 $half 1) & a=\$!
  (cd campaign && run $((half + 1)) $((seeds - half)) 2) & b=\$!
  status=0; wait \$a || status=1; wait \$b || status=1
  exit \$status
" || { echo "soak: failed; see artifacts/soak-1.log and artifacts/soak-2.log:"; grep -h -A3 'seed [0-9]*, step' artifacts/soak-*.log | head -20; exit 1; }
echo "soak: $seeds seeds × $steps steps green in $(( $(date +%s) - start )) s"
grep -h 'steps in' artifacts/soak-*.log | sed 's/^ *simulation_test.go:[0-9]*: //'
