#!/usr/bin/env bash
# Runs every test: unit tests next to the code (src/**/*.test.ts) and the
# integration tests against the real Docker engine (test/integration/).
# Files run one at a time: the machine is small and wake timings matter.
#
# The whole suite also proves it leaves the machine's engine alone: a
# container that is not napbox's (a sentinel) is started first, and the last
# file (test/zz-suite-sentinel.test.ts) checks it ran throughout, untouched.
set -euo pipefail
cd "$(dirname "$0")/.."
mapfile -t files < <(find src test bench -name '*.test.ts' -not -path '*/node_modules/*' | sort)
if [ "$#" -gt 0 ]; then files=("$@"); fi
npx tsc --noEmit
# The whole suite starts with the lint and the shape checks (Biome, dependency-cruiser, knip).
if [ "$#" -eq 0 ]; then npm run lint --silent; fi
if [ "$#" -eq 0 ] && [ -z "${DOCKER_HOST:-}" ]; then
  NAPBOX_SUITE_SENTINEL=$(docker run -d --rm --label napbox.test=suite-sentinel napbox-node-base:node24 sleep 86400)
  NAPBOX_SUITE_SENTINEL_STARTED=$(docker inspect -f '{{.State.StartedAt}}' "$NAPBOX_SUITE_SENTINEL")
  export NAPBOX_SUITE_SENTINEL NAPBOX_SUITE_SENTINEL_STARTED
  trap 'docker rm -f "$NAPBOX_SUITE_SENTINEL" >/dev/null 2>&1 || true' EXIT
fi
node --import tsx --test --test-concurrency=1 --test-reporter=spec "${files[@]}"
