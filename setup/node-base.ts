// Set-up step: an image with Node.js and npm for the agent image to build on,
// tagged napbox-node-base:bookworm. From `node:20-slim` where a registry
// answers; otherwise from a Debian root filesystem made with debootstrap from
// the machine's own Debian mirror, imported into the engine, with Debian's
// nodejs and npm installed on top.

import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { ImageDriver } from '../src/runtime/container-driver.js';
import { LABEL_ROLE, NODE_BASE_TAG } from '../src/images/agent-image.js';
import { aptInstall, canInstallHere } from './docker-engine.js';
import { onPath, runLogged } from './run-command.js';
import { projectRoot } from '../src/project-root.js';

const REGISTRY_IMAGE = 'node:20-slim';
const ROOTFS_TAG = 'napbox-rootfs:bookworm';
const LOG = path.join(os.tmpdir(), 'napbox-setup-debootstrap.log');

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

export async function ensureNodeBase(driver: ImageDriver, labels: Record<string, string>, log: (line: string) => void): Promise<string> {
  const existing = await driver.inspectImage(NODE_BASE_TAG);
  if (existing) return `${NODE_BASE_TAG} present`;
  if (await driver.pullImage(REGISTRY_IMAGE)) {
    await driver.tagImage(REGISTRY_IMAGE, NODE_BASE_TAG);
    return `${NODE_BASE_TAG} from ${REGISTRY_IMAGE}`;
  }
  log(`setup: no registry answers for ${REGISTRY_IMAGE}; making a Debian root filesystem with debootstrap (log: ${LOG})`);
  if (!(await driver.inspectImage(ROOTFS_TAG))) await importRootfs(driver, labels);
  await driver.buildImage({
    contextDir: path.join(projectRoot(import.meta.url), 'setup', 'node-base'),
    dockerfile: 'Dockerfile',
    tag: NODE_BASE_TAG,
    labels: { ...labels, [LABEL_ROLE]: 'node-base' },
    buildArgs: { ROOTFS: ROOTFS_TAG },
    onLog: (line) => fs.appendFileSync(LOG, `${line}\n`),
  });
  return `${NODE_BASE_TAG} built from debootstrapped Debian and Debian's nodejs`;
}
