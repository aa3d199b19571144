#!/usr/bin/env bash
# System packages the project needs besides Go and PostgreSQL: Chromium for the browser tests
# and the WenQuanYi Micro Hei font for Chinese text in posters and screenshots. Installed from
# Debian's packages when missing and we are root; otherwise a clear message.
set -euo pipefail
need=()
command -v chromium >/dev/null 2>&1 || need+=(chromium)
[ -f /usr/share/fonts/truetype/wqy/wqy-microhei.ttc ] || need+=(fonts-wqy-microhei)
[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" != 0 ]; then
  echo "deps: missing Debian packages: ${need[*]} (sudo apt-get install -y ${need[*]})" >&2
  exit 1
fi
echo "deps: installing ${need[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >&2
apt-get install -y -qq "${need[@]}" >&2
