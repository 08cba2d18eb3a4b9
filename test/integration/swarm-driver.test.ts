// The driver contract suite against the Swarm driver, on this engine made a
// single-node swarm (initialised here when it is in none), with the real
// agent image: the same tests the plain Docker driver passes, then what only
// a swarm does (a task it cannot run, a task it deletes). As for the Docker
// driver, only the workloads part runs a second time, through published ports.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import crypto from 'node:crypto';
import path from 'node:path';
import { promisify } from 'node:util';
import { after, describe, it } from 'node:test';
import type { ContainerSpec } from '../../src/runtime/container-driver.js';
import { DEFAULT_LIMITS } from '../../src/runtime/container-spec.js';
import { runDriverContract } from '../../src/runtime/container-driver.contract.js';
import { runWorkloadContract } from '../../src/runtime/workload-driver.contract.js';
import { SwarmDriver } from '../../src/runtime/swarm-driver.js';
import { requireAgentImage } from '../../src/images/agent-image.js';
import { loadConfig } from '../../src/config/config.js';
import { ROOT } from '../helpers/napbox-process.js';
import { until } from '../helpers/wait.js';

const run = promisify(execFile);

const driver = new SwarmDriver();
await driver.ensureSwarm();
const image = await requireAgentImage({ driver, containerDir: path.join(ROOT, 'container'), caBundle: loadConfig().caBundle });

runDriverContract('swarm (bridge)', () => new SwarmDriver(), { image, mode: 'bridge' });
runWorkloadContract('swarm (published)', () => new SwarmDriver(), { image, mode: 'published' });

describe('Swarm driver, beyond the contract', () => {
  const swarm = new SwarmDriver(undefined, { startTimeoutMs: 20_000 });
  const install = `swarmx${crypto.randomBytes(4).toString('hex')}`;
  const labels = { 'napbox.install': install };
  const spec = (slug: string, over: Partial<ContainerSpec> = {}): ContainerSpec => ({
    name: `napbox-${install}-${slug}`,
    image,
    labels: { ...labels, 'napbox.tenant': slug },
    env: { NAPBOX_TENANT: slug },
    user: '10001:10001',
    limits: DEFAULT_LIMITS,
    readOnlyRootfs: false,
    tmpfs: {},
    mounts: [],
    ports: [8080, 8081],
    publish: false,
    stopGraceSeconds: 5,
    ...over,
  });
  after(async () => {
    for (const s of await swarm.findByLabels(labels)) await swarm.remove(s.id, { force: true });
  });

  it("fails a start swarm cannot carry out with swarm's reason, and leaves the service at 0 replicas", async () => {
    const created = await swarm.create(spec('nobind', { mounts: [{ type: 'bind', source: `/nonexistent-${install}`, target: '/data', readOnly: true }] }));
    await assert.rejects(
      swarm.start(created.id),
      (err: { code?: string; message?: string }) => err.code === 'engine_error' && /bind source path does not exist/.test(err.message ?? ''),
    );
    const { stdout } = await run('docker', ['service', 'inspect', '--format', '{{.Spec.Mode.Replicated.Replicas}}', created.id]);
    assert.equal(stdout.trim(), '0', 'nothing starts later, unasked');
    assert.equal((await swarm.inspect(created.id))?.running, false);
  });

  it('keeps the exit code of an app that exited once its service is scaled to 0 (swarm deletes the task)', async () => {
    const created = await swarm.create(spec('exit7', { env: { NAPBOX_TENANT: 'exit7', NAPBOX_APP_COMMAND: JSON.stringify(['sh', '-c', 'exit 7']) } }));
    await swarm.start(created.id);
    await until(async () => (await swarm.inspect(created.id))?.exitCode === 7, 10_000, 'exit code 7');
    await swarm.stop(created.id, 1);
    const info = await swarm.inspect(created.id);
    assert.equal(info?.running, false);
    assert.equal(info?.status, 'exited');
    assert.equal(info?.exitCode, 7);
  });
});
