// The base agent image: built from container/ on top of a Node.js base image,
// and tagged by a hash of everything that goes into it (the files of
// container/, the Node base image's id, the CA bundle), so an unchanged input
// is never rebuilt and any change makes a new tag. Set-up builds it; the
// server only computes the same tag and checks that it exists.

import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { ImageDriver, ImageInfo } from '../runtime/container-driver.js';
import { NapboxError } from '../errors.js';

/** Node.js 24 (setup/node-base.ts); a new tag, so the Node 18/20 bases an older napbox left (`:bookworm`) are never taken for it. */
export const NODE_BASE_TAG = 'napbox-node-base:node24';
const AGENT_REPO = 'napbox-agent';
export const LABEL_ROLE = 'napbox.role';

/** The files of a folder, sorted, relative to it. */
function filesOf(dir: string, prefix = ''): string[] {
  const out: string[] = [];
  for (const entry of fs.readdirSync(path.join(dir, prefix), { withFileTypes: true })) {
    const rel = prefix ? `${prefix}/${entry.name}` : entry.name;
    if (entry.name === 'node_modules') continue;
    if (entry.isDirectory()) out.push(...filesOf(dir, rel));
    else if (entry.isFile()) out.push(rel);
  }
  return out.sort();
}

/** The CA bundle's bytes, or empty when none is configured. Fails clearly when configured but unreadable. */
export function readCaBundle(caBundle: string | undefined): Buffer {
  if (caBundle === undefined) return Buffer.alloc(0);
  try {
    return fs.readFileSync(caBundle);
  } catch (err) {
    throw new NapboxError('config_invalid', `the CA bundle ${caBundle} cannot be read: fix NAPBOX_CA_BUNDLE (or NODE_EXTRA_CA_CERTS), or unset it`, {
      cause: err,
    });
  }
}

function agentImageTag(containerDir: string, nodeBaseId: string, ca: Buffer): string {
  const hash = crypto.createHash('sha256');
  hash.update(`node-base\0${nodeBaseId}\0`);
  hash.update(`ca\0${crypto.createHash('sha256').update(ca).digest('hex')}\0`);
  for (const file of filesOf(containerDir)) {
    hash.update(`file\0${file}\0`);
    hash.update(fs.readFileSync(path.join(containerDir, file)));
    hash.update('\0');
  }
  return `${AGENT_REPO}:${hash.digest('hex').slice(0, 16)}`;
}

/** Copies container/ and the CA bundle into a fresh build context folder. The caller removes it. */
export function prepareBuildContext(containerDir: string, ca: Buffer): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'napbox-agent-'));
  for (const file of filesOf(containerDir)) {
    fs.mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
    fs.copyFileSync(path.join(containerDir, file), path.join(dir, file));
  }
  fs.writeFileSync(path.join(dir, 'extra-ca.crt'), ca);
  return dir;
}

export interface AgentImageInputs {
  readonly driver: ImageDriver;
  readonly containerDir: string;
  readonly caBundle: string | undefined;
}

/** The tag the current inputs give, and whether that image exists. */
export async function resolveAgentImage(inputs: AgentImageInputs): Promise<{ tag: string; nodeBase: ImageInfo; image: ImageInfo | undefined }> {
  const nodeBase = await inputs.driver.inspectImage(NODE_BASE_TAG);
  if (!nodeBase) {
    throw new NapboxError('not_found', `the Node.js base image ${NODE_BASE_TAG} is missing: run \`npm run setup\``);
  }
  const tag = agentImageTag(inputs.containerDir, nodeBase.id, readCaBundle(inputs.caBundle));
  return { tag, nodeBase, image: await inputs.driver.inspectImage(tag) };
}

/** For the server: the agent image to run, or an error that says to run set-up. */
export async function requireAgentImage(inputs: AgentImageInputs): Promise<string> {
  const { tag, image } = await resolveAgentImage(inputs);
  if (!image) throw new NapboxError('not_found', `the agent image ${tag} for the current container/ is missing: run \`npm run setup\``);
  return tag;
}
