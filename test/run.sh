#!/usr/bin/env bash
# Runs every test: unit tests next to the code (src/**/*.test.ts) and the
# integration tests against the real Docker engine (test/integration/).
# Files run one at a time: the machine is small and wake timings matter.
set -euo pipefail
cd "$(dirname "$0")/.."
mapfile -t files < <(find src test bench -name '*.test.ts' -not -path '*/node_modules/*' | sort)
if [ "$#" -gt 0 ]; then files=("$@"); fi
npx tsc --noEmit
exec node --import tsx --test --test-concurrency=1 --test-reporter=spec "${files[@]}"
