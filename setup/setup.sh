#!/usr/bin/env bash
# Makes this machine ready to run napbox; `npm start` and `npm test` call it.
# Step 1 (here, because nothing else can run before it): the npm dependencies,
# installed only when package-lock.json changed since the last install.
# The other steps are in setup/setup.ts. Each prints one line with its time.
set -euo pipefail
cd "$(dirname "$0")/.."

start=$(date +%s%N)
stamp=node_modules/.napbox-deps
want=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  npm ci --no-audit --no-fund --loglevel=error >/dev/null
  echo "$want" >"$stamp"
  what="installed"
else
  what="up to date"
fi
ms=$(( ($(date +%s%N) - start) / 1000000 ))
printf 'setup: dependencies %s (%d.%01ds)\n' "$what" $((ms / 1000)) $(((ms % 1000) / 100))

exec node --import tsx setup/setup.ts "$@"
