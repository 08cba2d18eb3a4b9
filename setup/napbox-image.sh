#!/usr/bin/env bash
# Builds napbox's own image, napbox:local (`npm run image`), from the same base
# image as the tenants (napbox-node-base, made by set-up; no registry answers
# here). The image gets this machine's Node.js binary and the production
# dependencies as npm ci built them here (better-sqlite3 is native: building it
# inside the image would need a compiler and Node's headers from the internet),
# so it runs on the same glibc (Debian 12) as the base. Staged in .napbox-image/
# (git-ignored), the only thing the root Dockerfile copies.
set -euo pipefail
cd "$(dirname "$0")/.."
bash setup/setup.sh >/dev/null
stage=.napbox-image
rm -rf "$stage"
mkdir -p "$stage/opt/napbox" "$stage/usr/local/bin"
cp "$(command -v node)" "$stage/usr/local/bin/node"
cp -r package.json package-lock.json dist bin container "$stage/opt/napbox/"
mkdir -p "$stage/opt/napbox/src/dashboard" "$stage/opt/napbox/setup"
cp -r src/dashboard/static "$stage/opt/napbox/src/dashboard/"
cp -r node_modules "$stage/opt/napbox/"
# The CA bundle set-up built the agent image with (its tag depends on it), or none: napbox in the image
# then finds the same agent image.
ca="${NAPBOX_CA_BUNDLE:-${NODE_EXTRA_CA_CERTS:-${SSL_CERT_FILE:-}}}"
if [ -n "$ca" ]; then cp "$ca" "$stage/opt/napbox/ca-bundle.crt"; else : >"$stage/opt/napbox/ca-bundle.crt"; fi
(cd "$stage/opt/napbox" && npm prune --omit=dev --no-audit --no-fund --loglevel=error >/dev/null)
source setup/progress.sh
run_step "napbox image" "${TMPDIR:-/tmp}/napbox-image-build.log" docker build -q -t napbox:local --label napbox.role=napbox .
rm -rf "$stage"
echo "napbox:local built ($(docker image inspect -f '{{.Id}}' napbox:local | cut -c8-19))"
