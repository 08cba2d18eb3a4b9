// `images prune` against the real engine removes this install's older agent
// and base images as well as its unused tenant images: small images built
// here from the existing base image, each with the labels set-up gives, never
// an image of another install, one a container uses, one an image that stays
// is built on, or the current one.

import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import crypto from 'node:crypto';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { NODE_BASE_TAG } from '../../src/images/agent-image.js';
import { pruneImages } from '../../src/images/prune.js';
import { DockerDriver } from '../../src/runtime/docker-driver.js';

const run = promisify(execFile);
const driver = new DockerDriver();

/** A one-line image FROM `from` with these labels (classic builder, so the engine records its parent). */
function labelled(tag: string, from: string, labels: Record<string, string>): Promise<void> {
  // Its own tag as a label too: images of the same labels on the same base would otherwise be one image under many tags.
  const all = { ...labels, 'napbox.test': tag };
  const args = ['build', '-q', '-t', tag, ...Object.entries(all).flatMap(([k, v]) => ['--label', `${k}=${v}`]), '-'];
  const proc = spawn('docker', args, { env: { ...process.env, DOCKER_BUILDKIT: '0' }, stdio: ['pipe', 'ignore', 'pipe'] });
  let err = '';
  proc.stderr.on('data', (d: Buffer) => (err += d.toString()));
  proc.stdin.end(`FROM ${from}\n`);
  return new Promise((resolve, reject) => proc.once('close', (code) => (code === 0 ? resolve() : reject(new Error(`docker build ${tag}: ${err}`)))));
}

describe('images prune with the real engine', () => {
  const id = crypto.randomBytes(4).toString('hex');
  const install = `pr${id}`;
  const other = `px${id}`;
  const ours = (role: string) => ({ 'napbox.install': install, 'napbox.role': role });
  const tag = {
    oldBase: `napbox-test-node-base:${id}-old`,
    current: `napbox-agent:test-${id}-current`,
    older: `napbox-agent:test-${id}-older`,
    used: `napbox-agent:test-${id}-used`,
    pinned: `napbox-agent:test-${id}-pinned`,
    othersChild: `napbox-tenant:test-${id}-other`,
    othersAgent: `napbox-agent:test-${id}-other`,
  };
  let container = '';

  before(async () => {
    await labelled(tag.oldBase, NODE_BASE_TAG, ours('node-base'));
    await labelled(tag.current, NODE_BASE_TAG, ours('agent-base'));
    await labelled(tag.older, tag.oldBase, ours('agent-base')); // an upgrade ago: the older base is under it
    await labelled(tag.used, NODE_BASE_TAG, ours('agent-base'));
    await labelled(tag.pinned, NODE_BASE_TAG, ours('agent-base'));
    await labelled(tag.othersChild, tag.pinned, { 'napbox.install': other, 'napbox.role': 'tenant' }); // another install built on ours
    await labelled(tag.othersAgent, NODE_BASE_TAG, { 'napbox.install': other, 'napbox.role': 'agent-base' });
    container = (await run('docker', ['create', '--label', `napbox.test=${install}`, tag.used, 'true'])).stdout.trim(); // a stopped container uses it
  });
  after(async () => {
    if (container) await run('docker', ['rm', '-f', container]).catch(() => undefined);
    for (const t of [tag.othersChild, tag.othersAgent, tag.pinned, tag.used, tag.older, tag.current, tag.oldBase]) {
      await run('docker', ['rmi', t]).catch(() => undefined);
    }
  });

  it('removes the older agent image and the base under it; keeps the current one, one in use and one another image is built on', async () => {
    const report = await pruneImages(driver, { installId: install, uses: [], building: [], current: [tag.current, NODE_BASE_TAG], scope: 'all' });
    assert.deepEqual(
      report.removed.map((r) => r.ref),
      [tag.older, tag.oldBase],
    );
    const kept = Object.fromEntries(report.kept.map((k) => [k.ref, k.reason]));
    assert.equal(kept[tag.current], "napbox's current agent or base image");
    assert.match(kept[tag.used] ?? '', /engine refused .*container/);
    assert.match(kept[tag.pinned] ?? '', /built on it/);
    assert.equal(kept[tag.othersAgent], undefined, "another install's image is not even looked at");
    assert.equal(await driver.inspectImage(tag.older), undefined);
    assert.equal(await driver.inspectImage(tag.oldBase), undefined);
    for (const t of [tag.current, tag.used, tag.pinned, tag.othersChild, tag.othersAgent, NODE_BASE_TAG]) {
      assert.ok(await driver.inspectImage(t), `${t} is still there`);
    }
  });
});
