// DEV ONLY (not committed): the node base and agent image for this worktree.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from './src/config/config.js';
import { DockerDriver } from './src/runtime/docker-driver.js';
import { LABEL_ROLE, NODE_BASE_TAG, prepareBuildContext, readCaBundle, resolveAgentImage } from './src/images/agent-image.js';
import { ensureNodeBase } from './setup/node-base.js';
const config = loadConfig();
const driver = new DockerDriver();
const labels = { 'napbox.dev': 'issue17' };
const t0 = Date.now();
console.log(await ensureNodeBase(driver, labels, console.log), Date.now() - t0);
const containerDir = path.resolve('container');
const { tag, image } = await resolveAgentImage({ driver, containerDir, caBundle: config.caBundle });
if (image) console.log(tag, 'up to date');
else {
  const context = prepareBuildContext(containerDir, readCaBundle(config.caBundle));
  const log = path.join(os.tmpdir(), 'napbox-dev-agent.log');
  try {
    await driver.buildImage({ contextDir: context, dockerfile: 'Dockerfile', tag, labels: { ...labels, [LABEL_ROLE]: 'agent-base' }, buildArgs: { NODE_BASE: NODE_BASE_TAG }, onLog: (l) => fs.appendFileSync(log, l + '\n') });
  } finally { fs.rmSync(context, { recursive: true, force: true }); }
  console.log(tag, 'built');
}
