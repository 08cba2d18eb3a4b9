import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ImageInfo } from '../runtime/container-driver.js';
import { FakeDriver } from '../runtime/fake-driver.js';
import { choosePrune, pruneImages } from './prune.js';

const INSTALL = 'inst1';
const image = (tag: string | null, labels: Record<string, string> = { 'napbox.install': INSTALL, 'napbox.role': 'tenant' }): ImageInfo => ({
  id: `sha256:${(tag ?? 'dangling').padEnd(64, '0')}`,
  tags: tag === null ? ['<none>:<none>'] : [tag],
  labels,
});

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
    const choice = choosePrune({ installId: INSTALL, images, uses, building: ['napbox-tenant:c'] });
    assert.deepEqual(choice.remove.map((p) => p.ref).sort(), ['napbox-tenant:d', 'napbox-tenant:e', image(null).id].sort());
    const kept = Object.fromEntries(choice.keep.map((p) => [p.ref, p.reason]));
    assert.equal(kept['napbox-tenant:a'], 'current image of alpha, current image of beta');
    assert.equal(kept['napbox-tenant:b'], "previous image of alpha, image of alpha's container");
    assert.equal(kept['napbox-tenant:c'], 'a build targets it');
  });

  it("never picks an image that is not this install's tenant image", () => {
    const foreign = [
      image('napbox-tenant:x', { 'napbox.install': 'other', 'napbox.role': 'tenant' }),
      image('napbox-agent:y', { 'napbox.install': INSTALL, 'napbox.role': 'agent-base' }),
    ];
    const choice = choosePrune({ installId: INSTALL, images: foreign, uses: [], building: [] });
    assert.deepEqual(choice.remove, []);
    assert.equal(choice.keep.length, 2);
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
    const report = await pruneImages(driver, { installId: INSTALL, uses: [], building: [] });
    assert.deepEqual(report.removed, []);
    assert.match(report.kept[0]?.reason ?? '', /engine refused.*being used/);
  });
});
