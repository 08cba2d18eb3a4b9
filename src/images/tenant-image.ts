// A tenant's own image: the base agent image plus the tenant's apt and npm
// packages. Its tag and its Dockerfile are pure functions of the install, the
// base image's id and the (normalized) lists.
//
// Invariants:
// - The tag is `napbox-tenant:<16 hex>` of a sha256 over the install id, the
//   base image's id and the install steps generated from the sorted lists. So
//   an unchanged list is never rebuilt, tenants of one install with the same
//   lists share one image, a new base (or a change to the steps below) gives
//   new tags, and two installs on one engine never share (or prune) each
//   other's images.
// - No shell ever parses a package name. Each name is its own element of an
//   exec-form `RUN [...]` JSON array; the only shell involved runs a constant
//   script (APT_SCRIPT, NPM_SCRIPT) that hands its positional arguments to
//   apt-get / npm as "$@", which the shell expands without re-reading them.
//   (One RUN per tool, rather than `RUN ["apt-get", ...]` three times: the
//   apt lists must be fetched and removed in the same layer, or a cached
//   `apt-get update` layer would go stale and its lists stay in the image.)
//   `tenantDockerfile` checks every name against the grammar again itself.
// - The image keeps the base's user, entrypoint, environment and workdir:
//   it switches to root only for the installs and ends as USER 10001:10001,
//   WORKDIR /workspace. The base already trusts the host's CA bundle
//   (NODE_EXTRA_CA_CERTS, container/Dockerfile), which npm needs behind a
//   TLS-intercepting proxy; apt fetches from Debian's mirror over http.

import crypto from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { NapboxError } from '../errors.js';
import { LABEL_ROLE } from './agent-image.js';
import { LABEL_INSTALL, AGENT_USER } from '../runtime/container-spec.js';
import { aptEntryProblem, npmEntryProblem, normalize, type PackageLists } from './packages.js';

const TENANT_REPO = 'napbox-tenant';
export const ROLE_TENANT = 'tenant';
const LABEL_PACKAGES_HASH = 'napbox.packages-hash';
/** Where `npm install --global --prefix /usr/local` puts packages; on NODE_PATH so `require()` finds them. */
const GLOBAL_NODE_MODULES = '/usr/local/lib/node_modules';

export const APT_SCRIPT = 'apt-get update && apt-get install -y --no-install-recommends "$@" && rm -rf /var/lib/apt/lists/*';
/** Packages may bring setuid or setgid programs; the image keeps none (container/Dockerfile: no-new-privileges is not settable everywhere). */
export const STRIP_SETID_SCRIPT = 'find / -xdev -perm /6000 -type f -exec chmod a-s {} +';
export const NPM_SCRIPT = 'npm install --global --prefix /usr/local --cache /tmp/napbox-npm-cache "$@" && rm -rf /tmp/napbox-npm-cache';

/** The Dockerfile lines after FROM: what the hash covers besides the base. */
function installSteps(lists: PackageLists): string[] {
  for (const entry of lists.apt) if (aptEntryProblem(entry) !== undefined) throw refused('apt', entry);
  for (const entry of lists.npm) if (npmEntryProblem(entry) !== undefined) throw refused('npm', entry);
  const steps = ['USER root'];
  if (lists.apt.length > 0) {
    steps.push('ARG DEBIAN_FRONTEND=noninteractive');
    steps.push(`RUN ${JSON.stringify(['/bin/sh', '-c', APT_SCRIPT, 'napbox-apt-install', ...lists.apt])}`);
  }
  if (lists.npm.length > 0) {
    steps.push(`RUN ${JSON.stringify(['/bin/sh', '-c', NPM_SCRIPT, 'napbox-npm-install', ...lists.npm])}`);
    steps.push(`ENV NODE_PATH=${GLOBAL_NODE_MODULES}`);
  }
  if (lists.apt.length > 0 || lists.npm.length > 0) steps.push(`RUN ${JSON.stringify(['/bin/sh', '-c', STRIP_SETID_SCRIPT])}`);
  steps.push(`USER ${AGENT_USER}`, 'WORKDIR /workspace');
  return steps;
}

function refused(kind: string, entry: string): NapboxError {
  return new NapboxError('bad_request', `${kind} package ${JSON.stringify(entry.slice(0, 80))} is refused: not a valid package name`);
}

/** 16 hex characters naming the content of a tenant image. */
function packagesHash(baseImageId: string, lists: PackageLists, installId: string): string {
  const hash = crypto.createHash('sha256');
  hash.update(`install\0${installId}\0base\0${baseImageId}\0`);
  hash.update(installSteps(normalize(lists)).join('\n'));
  return hash.digest('hex').slice(0, 16);
}

export function tenantImageTag(baseImageId: string, lists: PackageLists, installId: string): string {
  return `${TENANT_REPO}:${packagesHash(baseImageId, lists, installId)}`;
}

export function tenantImageLabels(installId: string, hash: string): Record<string, string> {
  return { [LABEL_INSTALL]: installId, [LABEL_ROLE]: ROLE_TENANT, [LABEL_PACKAGES_HASH]: hash };
}

/** The hash part of a tenant tag. */
export function hashOfTag(tag: string): string {
  return tag.slice(tag.lastIndexOf(':') + 1);
}

export function tenantDockerfile(baseTag: string, lists: PackageLists): string {
  if (!/^[a-z0-9][a-z0-9._/-]*(?::[A-Za-z0-9._-]+)?$/.test(baseTag)) {
    throw new NapboxError('internal', `the base image reference ${JSON.stringify(baseTag)} is not a plain image tag`);
  }
  return ['# A napbox tenant image, generated by src/images/tenant-image.ts.', `FROM ${baseTag}`, ...installSteps(normalize(lists)), ''].join('\n');
}

/** A fresh build context folder holding only the Dockerfile. The caller removes it. */
export async function prepareTenantBuildContext(baseTag: string, lists: PackageLists, parentDir: string = os.tmpdir()): Promise<string> {
  const dockerfile = tenantDockerfile(baseTag, lists);
  const dir = await fs.mkdtemp(path.join(parentDir, 'napbox-tenant-'));
  await fs.writeFile(path.join(dir, 'Dockerfile'), dockerfile);
  return dir;
}
