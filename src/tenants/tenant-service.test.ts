// The tenant view: which image a tenant runs and which its next start uses.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type Db, openDatabase } from '../db/database.js';
import { ActivityTracker } from './activity.js';
import type { Lifecycle } from './lifecycle.js';
import { TenantService, type TenantServiceDeps } from './tenant-service.js';
import { TenantStore } from './tenant-store.js';

const BASE = 'napbox-agent:new';

/** The view's service over `store`, with what each test says of the engine (and of the clock). */
function serviceOf(store: TenantStore, engine: Pick<TenantServiceDeps, 'containerImage' | 'clock'>): TenantService {
  return new TenantService({
    store,
    lifecycle: {} as Lifecycle,
    activity: new ActivityTracker(),
    baseImage: BASE,
    tenantUrl: (slug) => `http://${slug}.localhost:8080/`,
    holds: () => [],
    mountRefusals: () => [],
    lastBuilds: () => new Map(),
    ...engine,
  });
}

describe('the tenant view', () => {
  let dir: string;
  let db: Db;
  let store: TenantStore;
  let service: TenantService;
  const inspected: string[] = [];
  // What the engine says each container was created from.
  const engine = new Map([
    ['c-old', 'napbox-agent:old'],
    ['c-same', BASE],
  ]);

  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'napbox-view-'));
    db = openDatabase(dir);
    store = new TenantStore(db);
    service = serviceOf(store, {
      containerImage: async (id) => {
        inspected.push(id);
        return engine.get(id);
      },
    });
  });
  after(() => {
    db.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it("says the image a running or paused container runs, and the next start's image when that differs", async () => {
    for (const slug of ['upgraded', 'paused', 'current', 'asleep']) store.create(slug, {}, 1);
    store.setState('upgraded', { state: 'running', reason: 'woken', containerId: 'c-old' }, 2);
    store.setImage('upgraded', 'napbox-t-upgraded:2'); // a build finished while it ran
    store.setState('paused', { state: 'paused', reason: 'idle', containerId: 'c-old' }, 2);
    store.setState('current', { state: 'running', reason: 'woken', containerId: 'c-same' }, 2);
    store.setImage('asleep', 'napbox-t-asleep:1');

    await service.learnImages();
    const view = (slug: string) => {
      const v = service.get(slug);
      return { image: v.image, nextImage: v.nextImage };
    };
    assert.deepEqual(view('upgraded'), { image: 'napbox-agent:old', nextImage: 'napbox-t-upgraded:2' });
    assert.deepEqual(view('paused'), { image: 'napbox-agent:old', nextImage: BASE });
    assert.deepEqual(view('current'), { image: BASE, nextImage: undefined });
    assert.deepEqual(view('asleep'), { image: 'napbox-t-asleep:1', nextImage: undefined }, 'a stopped tenant: the image it will get');
    assert.equal(inspected.filter((id) => id === 'c-old').length, 1, 'one container is asked about once');

    await service.learnImages();
    assert.equal(inspected.length, 2, 'known containers are not asked about again');
  });

  it('shows the configured image while the engine does not answer, and asks again only after a while', async () => {
    let now = 1_000_000;
    let calls = 0;
    let answer: () => Promise<string | undefined> = () => Promise.reject(new Error('engine unreachable'));
    const quiet = serviceOf(store, {
      clock: () => now,
      containerImage: () => {
        calls += 1;
        return answer();
      },
    });
    store.create('flaky', {}, 1);
    store.setState('flaky', { state: 'running', reason: 'woken', containerId: 'c-flaky' }, 2);
    store.setImage('flaky', 'napbox-t-flaky:2');
    await quiet.learnImages('flaky');
    assert.deepEqual([quiet.get('flaky').image, quiet.get('flaky').nextImage], ['napbox-t-flaky:2', undefined]);
    await quiet.learnImages('flaky');
    assert.equal(calls, 1, 'not asked again at once');
    now += 10_000;
    answer = async () => 'napbox-agent:old';
    await quiet.learnImages('flaky');
    assert.deepEqual([quiet.get('flaky').image, quiet.get('flaky').nextImage], ['napbox-agent:old', 'napbox-t-flaky:2']);
  });

  it('waits for an inspect the engine has not answered only once, not on every view after it', async () => {
    let now = 2_000_000;
    let calls = 0;
    const hung = serviceOf(store, {
      clock: () => now,
      containerImage: () => {
        calls += 1;
        return new Promise(() => undefined); // the engine never answers
      },
    });
    store.create('hung', {}, 1);
    store.setState('hung', { state: 'running', reason: 'woken', containerId: 'c-hung' }, 2);
    now += 3000; // the first view waited its 2 s (simulated: the clock moved on while the inspect hangs)
    void hung.learnImages('hung');
    now += 3000;
    const started = Date.now();
    await hung.learnImages('hung');
    assert.ok(Date.now() - started < 500, `a later view does not wait again (${Date.now() - started} ms)`);
    assert.equal(calls, 1);
    assert.equal(hung.get('hung').image, BASE);
  });
});
