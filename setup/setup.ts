// Set-up steps after the dependencies (see setup.sh): a reachable Docker
// engine, the Node.js base image, the agent image. Each step is skipped in
// well under a second when already done, and prints one line with its time;
// one that takes longer says every 5 s that it is still working (progress.ts).

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '../src/config/config.js';
import { DockerDriver } from '../src/runtime/docker-driver.js';
import { SwarmDriver } from '../src/runtime/swarm-driver.js';
import { LABEL_ROLE, NODE_BASE_TAG, prepareBuildContext, readCaBundle, resolveAgentImage } from '../src/images/agent-image.js';
import { loadInstallId } from '../src/install-id.js';
import { projectRoot } from '../src/project-root.js';
import { ensureDockerEngine } from './docker-engine.js';
import { ensureNodeBase } from './node-base.js';
import { withProgress } from './progress.js';
import { ensureTestTools } from './test-tools.js';

const root = projectRoot(import.meta.url);

async function step(name: string, run: () => Promise<string>): Promise<void> {
  const started = Date.now();
  const what = await withProgress(name, run);
  console.log(`setup: ${name}: ${what} (${((Date.now() - started) / 1000).toFixed(1)}s)`);
}

async function main(): Promise<void> {
  const config = loadConfig();
  const installId = loadInstallId(config.dataDir);
  const labels = { 'napbox.install': installId };
  const driver = new DockerDriver(config.dockerHost);
  const containerDir = path.join(root, 'container');

  await step('docker engine', () => ensureDockerEngine(driver, config.dockerHost));
  // NAPBOX_DRIVER=swarm needs the engine to be a swarm manager: an engine in no swarm becomes a single-node one.
  if (config.driver === 'swarm') await step('swarm', () => new SwarmDriver(config.dockerHost, { publishAddress: config.publishAddress }).ensureSwarm());
  await step('node base image', () => ensureNodeBase(driver, labels, (line) => console.log(line)));
  await step('agent image', async () => {
    const { tag, image } = await resolveAgentImage({ driver, containerDir, caBundle: config.caBundle });
    if (image) return `${tag} up to date`;
    const ca = readCaBundle(config.caBundle);
    const context = prepareBuildContext(containerDir, ca);
    const logFile = path.join(os.tmpdir(), 'napbox-setup-agent-build.log');
    fs.writeFileSync(logFile, '');
    try {
      await driver.buildImage({
        contextDir: context,
        dockerfile: 'Dockerfile',
        tag,
        labels: { ...labels, [LABEL_ROLE]: 'agent-base' },
        buildArgs: { NODE_BASE: NODE_BASE_TAG },
        onLog: (line) => fs.appendFileSync(logFile, `${line}\n`),
      });
    } catch (err) {
      const tail = fs.readFileSync(logFile, 'utf8').split('\n').slice(-20).join('\n');
      throw new Error(`building ${tag} failed: ${(err as Error).message}; its log is ${logFile}, ending with:\n${tail}`);
    } finally {
      fs.rmSync(context, { recursive: true, force: true });
    }
    return `${tag} built${ca.length > 0 ? ` with the CA bundle ${config.caBundle}` : ''}`;
  });
  if (process.argv.includes('--tests')) await step('test tools', ensureTestTools);
}

main().catch((err: unknown) => {
  console.error(`setup failed: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
