#!/usr/bin/env bash
# make dev: a private PostgreSQL under .data/ (unless DATABASE_URL is set), a dev secret key,
# then "fenxiao dev" in the foreground. Data survives restarts; Ctrl-C stops the server.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
export PATH="/usr/local/go/bin:$PATH"

mkdir -p .data/bin
scripts/deps.sh || echo "dev: posters need the font fonts-wqy-microhei" >&2
DATABASE_URL=$(scripts/pg.sh dev)
export DATABASE_URL

# A stable dev-only key, so sessions and share links survive a restart. Never used in production.
if [ -z "${SECRET_KEY:-}" ]; then
  [ -s .data/secret_key ] || od -An -tx1 -N32 /dev/urandom | tr -d ' \n' > .data/secret_key
  SECRET_KEY=$(cat .data/secret_key)
  export SECRET_KEY
fi
export HTTP_ADDR=${HTTP_ADDR:-127.0.0.1:8080}
# The WeChat simulator's merchants, users and red packets survive a restart like the database.
export WECHAT_SIM_STATE=${WECHAT_SIM_STATE:-.data/wechatsim.json}

go build -o .data/bin/fenxiao ./cmd/fenxiao
exec .data/bin/fenxiao dev
