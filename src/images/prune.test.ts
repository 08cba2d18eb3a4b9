import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ImageNode } from '../runtime/container-driver.js';
import { FakeDriver } from '../runtime/fake-driver.js';
import { choosePrune, pruneImages } from './prune.js';

const INSTALL = 'inst1';
const image = (
  tag: string | null,
  labels: Record<string, string> = { 'napbox.install': INSTALL, 'napbox.role': 'tenant' },
  parent: string | null = null,
): ImageNode => ({
  id: `sha256:${(tag ?? 'dangling').padEnd(64, '0')}`,
  tags: tag === null ? ['<none>:<none>'] : [tag],
  labels,
  parent,
});
const role = (r: string, install = INSTALL) => ({ 'napbox.install': install, 'napbox.role': r });

describe('choosePrune', () => {
  const images = [
    image('napbox-tenant:a'),
    image('napbox-tenant:b'),
    image('napbox-tenant:c'),
    image('napbox-tenant:d'),
    image('napbox-tenant:e'),
    image(null),
  ];
  const uses = [
    { tenant: 'alpha', current: 'napbox-tenant:a', previous: 'napbox-tenant:b', running: 'napbox-tenant:b' },
    { tenant: 'beta', current: 'napbox-tenant:a', previous: null, running: null },
    { tenant: 'gamma', current: null, previous: null, running: null },
  ];

  it("keeps each tenant's current and previous image and what builds target; removes the rest", () => {
    const choice = choosePrune({ installId: INSTALL, images, uses, building: ['napbox-tenant:c'], current: [], scope: 'all' });
    assert.deepEqual(choice.remove.map((p) => p.ref).sort(), ['napbox-tenant:d', 'napbox-tenant:e', image(null).id].sort());
    const kept = Object.fromEntries(choice.keep.map((p) => [p.ref, p.reason]));
    assert.equal(kept['napbox-tenant:a'], 'current image of alpha, current image of beta');
    assert.equal(kept['napbox-tenant:b'], "previous image of alpha, image of alpha's container");
    assert.equal(kept['napbox-tenant:c'], 'a build targets it');
  });

  it("never picks another install's image, one of another role, or the current agent and base images", () => {
    const images = [
      image('napbox-tenant:x', role('tenant', 'other')),
      image('napbox-agent:old-other', role('agent-base', 'other')),
      image('napbox-agent:y', role('agent-base')),
      image('napbox-node-base:node24', role('node-base')),
      image('napbox:local', role('napbox')),
      image('debian:bookworm', {}),
    ];
    const choice = choosePrune({ installId: INSTALL, images, uses: [], building: [], current: ['napbox-agent:y', 'napbox-node-base:node24'], scope: 'all' });
    assert.deepEqual(choice.remove, []);
    assert.deepEqual(Object.fromEntries(choice.keep.map((p) => [p.ref, p.reason])), {
      'napbox-agent:y': "napbox's current agent or base image",
      'napbox-node-base:node24': "napbox's current agent or base image",
      'napbox:local': 'not an image napbox prunes (its role)',
    });
  });

  it("leaves agent and base images out of the sweep's prune (scope tenant-images)", () => {
    const images = [image('napbox-agent:older', role('agent-base')), image('napbox-rootfs:bookworm', role('rootfs')), image('napbox-tenant:z')];
    const choice = choosePrune({ installId: INSTALL, images, uses: [], building: [], current: [], scope: 'tenant-images' });
    assert.deepEqual(
      choice.remove.map((p) => p.ref),
      ['napbox-tenant:z'],
    );
    assert.deepEqual(choice.keep, []);
  });

  it('removes older agent and base images of this install that nothing is built on, children first', () => {
    const rootfs = image('napbox-rootfs:bookworm', role('rootfs'));
    const oldBase = image('napbox-node-base:bookworm', role('node-base'));
    const base = image('napbox-node-base:node24', role('node-base'), rootfs.id);
    const step = image(null, role('node-base'), base.id); // the agent build's intermediate step, inheriting the base's labels
    const current = image('napbox-agent:current', role('agent-base'), step.id);
    const older = image('napbox-agent:older', role('agent-base'), base.id);
    const oldest = image('napbox-agent:oldest', role('agent-base'), oldBase.id);
    const pinned = image('napbox-agent:pinned', role('agent-base'), base.id);
    const stale = image('napbox-tenant:stale', role('tenant'), oldest.id); // no tenant uses it: goes, and frees the oldest agent
    const kept = image('napbox-tenant:kept', role('tenant'), pinned.id); // alpha's: keeps its agent image
    const foreign = image('napbox-tenant:foreign', role('tenant', 'other'), older.id); // another install's, built on ours
    const choice = choosePrune({
      installId: INSTALL,
      images: [rootfs, oldBase, base, step, current, older, oldest, pinned, stale, kept, foreign],
      uses: [{ tenant: 'alpha', current: 'napbox-tenant:kept', previous: null, running: null }],
      building: [],
      current: ['napbox-agent:current', 'napbox-node-base:node24'],
      scope: 'all',
    });
    assert.deepEqual(
      choice.remove.map((p) => p.ref),
      ['napbox-tenant:stale', 'napbox-agent:oldest', 'napbox-node-base:bookworm'],
    );
    const keptFor = Object.fromEntries(choice.keep.map((p) => [p.ref, p.reason]));
    assert.equal(keptFor['napbox-agent:older'], '1 image(s) that stay are built on it');
    assert.equal(keptFor['napbox-agent:pinned'], '1 image(s) that stay are built on it');
    assert.match(keptFor['napbox-rootfs:bookworm'] ?? '', /built on it/);
    assert.equal(keptFor['napbox-agent:current'], "napbox's current agent or base image");
    assert.ok(!choice.keep.some((p) => p.imageId === step.id), 'an intermediate step is not reported');
  });
});

describe('pruneImages', () => {
  it('removes unused tenant images through the driver and reports both sides', async () => {
    const driver = new FakeDriver(['napbox-agent:test']);
    for (const info of [image('napbox-tenant:a'), image('napbox-tenant:d')]) driver.images.set(info.tags[0]!, info);
    const report = await pruneImages(driver, {
      installId: INSTALL,
      uses: [{ tenant: 'alpha', current: 'napbox-tenant:a', previous: null, running: null }],
      building: [],
      current: ['napbox-agent:test'],
      scope: 'tenant-images',
    });
    assert.deepEqual(
      report.removed.map((p) => p.ref),
      ['napbox-tenant:d'],
    );
    assert.deepEqual(
      report.kept.map((p) => p.ref),
      ['napbox-tenant:a'],
    );
    assert.ok(await driver.inspectImage('napbox-tenant:a'));
    assert.equal(await driver.inspectImage('napbox-tenant:d'), undefined);
    assert.ok(await driver.inspectImage('napbox-agent:test'), 'the base is not a tenant image');
  });

  it('reports an image the engine refuses to remove as kept', async () => {
    const driver = new FakeDriver([]);
    driver.images.set('napbox-tenant:d', image('napbox-tenant:d'));
    driver.removeImage = async () => {
      throw new Error('conflict: image is being used by stopped container 123');
    };
    const report = await pruneImages(driver, { installId: INSTALL, uses: [], building: [], current: [], scope: 'all' });
    assert.deepEqual(report.removed, []);
    assert.match(report.kept[0]?.reason ?? '', /engine refused.*being used/);
  });
});
