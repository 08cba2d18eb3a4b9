#!/usr/bin/env bash
# Makes this machine ready to run napbox; `npm start` and `npm test` call it.
# Step 1 (here, because nothing else can run before it): the npm dependencies,
# installed only when package-lock.json changed since the last install.
# Step 2 builds dist/; the other steps are in setup/setup.ts. Each prints one line with its time,
# and a step that takes longer than a few seconds says so every 5 s (setup/progress.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
source setup/progress.sh
logs=${TMPDIR:-/tmp}

start=$(date +%s%N)
stamp=node_modules/.napbox-deps
want=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  run_step dependencies "$logs/napbox-setup-npm-ci.log" npm ci --no-audit --no-fund --loglevel=error
  echo "$want" >"$stamp"
  what="installed"
else
  what="up to date"
fi
ms=$(( ($(date +%s%N) - start) / 1000000 ))
printf 'setup: dependencies %s (%d.%01ds)\n' "$what" $((ms / 1000)) $(((ms % 1000) / 100))

# Step 2: the compiled JavaScript in dist/ (what npm start, bin/napbox.js and
# the image run), built again only when a source or the compiler settings changed.
start=$(date +%s%N)
stamp=dist/.napbox-build
want=$({ find src setup -name '*.ts' -not -name '*.test.ts' | sort | xargs sha256sum; sha256sum package-lock.json tsconfig.json tsconfig.build.json; } | sha256sum | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  rm -rf dist
  run_step build "$logs/napbox-setup-tsc.log" npx tsc -p tsconfig.build.json
  echo "$want" >"$stamp"
  what="compiled the sources to dist/ (they changed since the last build)"
else
  what="dist/ up to date"
fi
ms=$(( ($(date +%s%N) - start) / 1000000 ))
printf 'setup: build: %s (%d.%01ds)\n' "$what" $((ms / 1000)) $(((ms % 1000) / 100))

exec node dist/setup/setup.js "$@"
