import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { openDatabase, type Db } from '../db/database.js';
import { NapboxError } from '../errors.js';
import type { BuildRequest, ImageInfo } from '../runtime/container-driver.js';
import { FakeDriver } from '../runtime/fake-driver.js';
import { TenantStore } from '../tenants/tenant-store.js';
import { BuildQueue, type BuildQueueOptions } from './build-queue.js';
import { describeFailure } from './build-log.js';
import { BuildStore, type Build } from './build-store.js';
import { tenantImageTag } from './tenant-image.js';
import { sleep, until } from '../../test/helpers/wait.js';

const BASE = 'napbox-agent:test';
const INSTALL = 'inst1';

/** FakeDriver whose builds can be held open, made to fail, and inspected. */
class ScriptedDriver extends FakeDriver {
  readonly builds: Array<{ tag: string; dockerfile: string; labels: Record<string, string> }> = [];
  readonly failing = new Map<string, string>();
  hold = false;
  private readonly held: Array<() => void> = [];
  building = 0;
  maxBuilding = 0;

  override async buildImage(request: BuildRequest): Promise<ImageInfo> {
    this.builds.push({
      tag: request.tag,
      dockerfile: fs.readFileSync(path.join(request.contextDir, request.dockerfile), 'utf8'),
      labels: { ...request.labels },
    });
    this.building += 1;
    this.maxBuilding = Math.max(this.maxBuilding, this.building);
    try {
      request.onLog?.(`Step 1/6 : FROM ${BASE}`);
      if (this.hold) {
        await new Promise<void>((resolve, reject) => {
          this.held.push(resolve);
          request.signal?.addEventListener('abort', () => reject(new NapboxError('engine_error', `build image ${request.tag} failed: aborted`)));
        });
      }
      const missing = this.failing.get(request.tag);
      if (missing) {
        request.onLog?.(`E: Unable to locate package ${missing}`);
        throw new NapboxError('engine_error', `build image ${request.tag} failed: The command '/bin/sh -c apt-get ...' returned a non-zero code: 100`);
      }
      return await super.buildImage(request);
    } finally {
      this.building -= 1;
    }
  }

  /** Lets the oldest held build go on. */
  release(): void {
    this.held.shift()?.();
  }

  get heldCount(): number {
    return this.held.length;
  }
}

describe('BuildQueue', () => {
  let dir: string;
  let db: Db;
  let store: BuildStore;
  let driver: ScriptedDriver;
  let ready: Array<[string, string | null, string]>;
  let failed: Array<[string, string, string]>;
  let n: number;

  const makeQueue = (options: Partial<BuildQueueOptions> = {}) =>
    new BuildQueue({
      driver,
      store,
      installId: INSTALL,
      baseImage: async () => BASE,
      onReady: (tenant, tag, id) => {
        ready.push([tenant, tag, id]);
        db.prepare('UPDATE tenants SET image = ? WHERE slug = ?').run(tag, tenant);
      },
      onFailed: (tenant, id, error) => void failed.push([tenant, id, error]),
      settleMs: 0,
      newId: () => `b_${(n += 1)}`,
      tmpDir: dir,
      ...options,
    });

  const tagOf = async (lists: { apt: string[]; npm: string[] }) => tenantImageTag((await driver.inspectImage(BASE))!.id, lists, INSTALL);
  const JQ = { apt: ['jq'], npm: [] as string[] };
  const CURL = { apt: ['curl'], npm: [] as string[] };
  const TREE = { apt: ['tree'], npm: [] as string[] };

  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'napbox-builds-'));
    db = openDatabase(dir);
    const tenants = new TenantStore(db);
    for (const slug of ['alpha', 'beta', 'gamma']) tenants.create(slug, {}, 0);
    store = new BuildStore(db, dir, tenants);
    driver = new ScriptedDriver([BASE]);
    ready = [];
    failed = [];
    n = 0;
  });
  afterEach(() => {
    db.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it("reads each tenant's newest build in one query, or one tenant's", () => {
    const lists = { apt: [] as string[], npm: [] as string[] };
    const add = (id: string, tenant: string, at: number) =>
      store.insert({ id, tenant, state: 'failed', tag: null, baseImage: BASE, lists }, path.join(dir, `${id}.log`), at);
    add('b_a1', 'alpha', 10);
    add('b_a2', 'alpha', 20);
    add('b_b1', 'beta', 15);
    add('b_b2', 'beta', 15); // same time: the later row is newer
    const latest = store.latestByTenant();
    assert.deepEqual([...latest.entries()].map(([t, b]) => [t, b.id]).sort(), [
      ['alpha', 'b_a2'],
      ['beta', 'b_b2'],
    ]);
    assert.deepEqual([...store.latestByTenant('alpha').keys()], ['alpha']);
    assert.equal(store.latestByTenant('gamma').size, 0);
  });

  it('builds a requested list into a labelled image, applies it, and keeps a log', async () => {
    const queue = makeQueue();
    const requested = await queue.request('alpha', { apt: ['jq'], npm: ['is-number'] });
    assert.ok(['queued', 'building'].includes(requested.state));
    const done = await queue.wait(requested.id);
    const tag = await tagOf({ apt: ['jq'], npm: ['is-number'] });
    assert.equal(done.state, 'ready');
    assert.equal(done.tag, tag);
    assert.equal(done.applied, true);
    assert.ok(done.startedAt !== null && done.finishedAt !== null);
    assert.deepEqual(ready, [['alpha', tag, requested.id]]);
    assert.deepEqual(driver.builds[0]?.labels, { 'napbox.install': INSTALL, 'napbox.role': 'tenant', 'napbox.packages-hash': tag.split(':')[1] });
    assert.match(driver.builds[0]?.dockerfile ?? '', /^FROM napbox-agent:test$/m);
    assert.equal(done.logPath, path.join(dir, 'builds', `${requested.id}.log`));
    const log = await queue.readLog(requested.id);
    assert.match(log.text, /Step 1\/6/);
    assert.match(log.text, /napbox: built napbox-tenant:/);
    assert.equal(log.done, true);
    assert.deepEqual(store.getPackages('alpha')?.lists, { apt: ['jq'], npm: ['is-number'] });
    assert.equal(store.getPackages('alpha')?.image, tag);
  });

  it('resolves an existing image at once with no build (the cached path)', async () => {
    const queue = makeQueue();
    await queue.wait((await queue.request('alpha', JQ)).id);
    const again = await queue.request('beta', { apt: ['jq'] });
    assert.equal(again.state, 'ready');
    assert.equal(again.cached, true);
    assert.equal(again.applied, true);
    assert.equal(driver.builds.length, 1, 'no second build');
    assert.match((await queue.readLog(again.id)).text, /already exists: nothing to build/);
    assert.deepEqual(ready.at(-1), ['beta', again.tag, again.id]);
  });

  it('refuses a bad list whole: nothing stored, nothing built', async () => {
    const queue = makeQueue();
    for (const bad of [{ apt: ['jq; rm -rf /'] }, { npm: ['../x'] }, { apt: [''] }]) {
      await assert.rejects(queue.request('alpha', bad), (err: NapboxError) => err.code === 'bad_request');
    }
    assert.equal(store.getPackages('alpha'), undefined);
    assert.equal(store.latestByTenant('alpha').size, 0, 'no build recorded');
    assert.equal(driver.builds.length, 0);
    await assert.rejects(queue.request('nobody', JQ), (err: NapboxError) => err.code === 'not_found');
  });

  it('supersedes a queued build: two requests in a row build only the newest list', async () => {
    const queue = makeQueue({ settleMs: 30 });
    const first = await queue.request('alpha', JQ);
    const second = await queue.request('alpha', CURL);
    assert.equal(queue.require(first.id).state, 'failed');
    assert.match(queue.require(first.id).error ?? '', /superseded by b_2 before it started/);
    assert.equal(queue.require(first.id).supersededBy, second.id);
    await queue.wait(second.id);
    await queue.idle();
    assert.deepEqual(
      driver.builds.map((b) => b.tag),
      [await tagOf(CURL)],
    );
    assert.deepEqual(
      ready.map((r) => r[2]),
      [second.id],
    );
    assert.deepEqual(failed, [], 'a superseded build is not a failure of the tenant');
  });

  it('lets a running build finish without applying it when a newer list was asked for', async () => {
    driver.hold = true;
    const queue = makeQueue();
    const first = await queue.request('alpha', JQ);
    await until(() => driver.heldCount === 1, 2000, 'the first build to start', 2);
    const second = await queue.request('alpha', CURL);
    const third = await queue.request('alpha', TREE);
    assert.equal(queue.require(second.id).state, 'failed', 'the queued one is superseded');
    assert.equal(queue.require(third.id).state, 'queued', 'one build at a time per tenant');
    assert.deepEqual(queue.activeTags().sort(), [await tagOf(JQ), await tagOf(TREE)].sort());
    driver.release();
    const firstDone = await queue.wait(first.id);
    assert.equal(firstDone.state, 'ready');
    assert.equal(firstDone.applied, false);
    assert.equal(firstDone.supersededBy, third.id);
    assert.ok(await driver.inspectImage(await tagOf(JQ)), 'its image stays, for prune');
    await until(() => driver.heldCount === 1, 2000, 'the newest build to start', 2);
    driver.release();
    assert.equal((await queue.wait(third.id)).applied, true);
    assert.deepEqual(
      driver.builds.map((b) => b.tag),
      [await tagOf(JQ), await tagOf(TREE)],
    );
    assert.deepEqual(ready, [['alpha', await tagOf(TREE), third.id]]);
  });

  it("decides a tenant's requests in the order they came, however long each takes to prepare", async () => {
    let calls = 0;
    const baseImage = async () => {
      calls += 1;
      if (calls === 1) await sleep(30);
      return BASE;
    };
    const queue = makeQueue({ settleMs: 20, baseImage });
    const [a, b] = await Promise.all([queue.request('alpha', JQ), queue.request('alpha', CURL)]);
    assert.equal(queue.require(a.id).supersededBy, b.id);
    assert.equal((await queue.wait(b.id)).applied, true);
    assert.deepEqual(store.getPackages('alpha')?.lists, CURL);
  });

  it('stops a build that runs past its deadline, and fails it saying so', async () => {
    driver.hold = true;
    const queue = makeQueue({ buildTimeoutMs: 50 });
    const build = await queue.wait((await queue.request('alpha', JQ)).id);
    assert.equal(build.state, 'failed');
    assert.match(build.error ?? '', /ran longer than 50 ms and was stopped/);
  });

  it('returns the open build for the same list, and goes back to a running build asked for again', async () => {
    driver.hold = true;
    const queue = makeQueue();
    const first = await queue.request('alpha', JQ);
    await until(() => driver.heldCount === 1, 2000, 'the build to start', 2);
    assert.equal((await queue.request('alpha', { apt: ['jq'] })).id, first.id);
    const other = await queue.request('alpha', CURL);
    const back = await queue.request('alpha', JQ);
    assert.equal(back.id, first.id);
    assert.equal(back.supersededBy, null);
    assert.equal(queue.require(other.id).state, 'failed');
    driver.release();
    assert.equal((await queue.wait(first.id)).applied, true);
    await queue.idle();
    assert.equal(driver.builds.length, 1);
  });

  it('shares one engine build between tenants asking for the same lists', async () => {
    driver.hold = true;
    const queue = makeQueue();
    const a = await queue.request('alpha', JQ);
    await until(() => driver.heldCount === 1, 2000, 'the build to start', 2);
    const b = await queue.request('beta', JQ);
    assert.equal(b.state, 'building');
    assert.equal(b.logPath, a.logPath, 'one log');
    driver.release();
    await Promise.all([queue.wait(a.id), queue.wait(b.id)]);
    assert.equal(driver.builds.length, 1);
    assert.deepEqual(ready.map((r) => r[0]).sort(), ['alpha', 'beta']);
  });

  it('runs builds of different tenants side by side, up to the limit', async () => {
    driver.hold = true;
    const queue = makeQueue({ concurrency: 2 });
    const builds = [await queue.request('alpha', JQ), await queue.request('beta', CURL), await queue.request('gamma', TREE)];
    await until(() => driver.heldCount === 2, 2000, 'two builds to start', 2);
    await sleep(20);
    assert.equal(driver.heldCount, 2);
    assert.equal(queue.require(builds[2]!.id).state, 'queued');
    driver.release();
    await until(() => driver.heldCount === 2, 2000, 'the third build to start', 2);
    driver.release();
    driver.release();
    for (const b of builds) assert.equal((await queue.wait(b.id)).state, 'ready');
    assert.equal(driver.maxBuilding, 2);
  });

  it('fails a build with the reason from its log; the tenant keeps its image', async () => {
    const queue = makeQueue();
    const good = await queue.wait((await queue.request('alpha', JQ)).id);
    const lists = { apt: ['napbox-no-such-package-xyz'], npm: [] };
    driver.failing.set(await tagOf(lists), 'napbox-no-such-package-xyz');
    const bad = await queue.wait((await queue.request('alpha', lists)).id);
    assert.equal(bad.state, 'failed');
    assert.match(bad.error ?? '', /^E: Unable to locate package napbox-no-such-package-xyz \(build image .* non-zero code: 100\)$/);
    assert.deepEqual(failed, [['alpha', bad.id, bad.error]]);
    assert.equal(store.getPackages('alpha')?.image, good.tag, 'the previous image stays');
    assert.equal(ready.length, 1);
    assert.match((await queue.readLog(bad.id)).text, /E: Unable to locate package napbox-no-such-package-xyz\nnapbox: build failed after/);
  });

  it('can read the log while a build runs, and follow it to the end', async () => {
    driver.hold = true;
    const queue = makeQueue();
    const build = await queue.request('alpha', JQ);
    await until(() => driver.heldCount === 1, 2000, 'the build to start', 2);
    const lines: string[] = [];
    queue.subscribe(build.id, (e) => void (e.kind === 'log' && lines.push(e.line)));
    await until(() => fs.existsSync(build.logPath) && fs.readFileSync(build.logPath, 'utf8').includes('Step 1/6'), 2000, 'the first lines to be written', 2);
    const partial = await queue.readLog(build.id);
    assert.match(partial.text, /napbox: building .*\nnapbox: apt: jq; npm: \(none\)\nStep 1\/6/);
    assert.equal(partial.done, false);

    const states: string[] = [];
    let followed = '';
    const following = (async () => {
      for await (const event of queue.follow(build.id)) {
        if (event.kind === 'state') states.push(event.build.state);
        else {
          assert.equal(event.offset, Buffer.byteLength(followed), 'chunks are contiguous');
          followed += event.text;
        }
      }
    })();
    await until(() => states.includes('building'), 2000, 'follow to catch up', 2);
    driver.release();
    await following;
    assert.deepEqual(states, ['building', 'ready']);
    assert.equal(followed, fs.readFileSync(build.logPath, 'utf8'), 'follow gave the whole log');
    assert.match(lines.at(-1) ?? '', /napbox: built/);
    const rest = await queue.readLog(build.id, partial.nextOffset);
    assert.match(rest.text, /^Successfully built .*\nnapbox: built /);
    assert.equal(rest.done, true);
  });

  it('applies empty lists as the base image, with no build', async () => {
    const queue = makeQueue();
    await queue.wait((await queue.request('alpha', JQ)).id);
    const empty = await queue.request('alpha', {});
    assert.equal(empty.state, 'ready');
    assert.equal(empty.tag, null);
    assert.deepEqual(ready.at(-1), ['alpha', null, empty.id]);
    assert.equal(store.getPackages('alpha')?.image, null);
    assert.equal(store.getPackages('alpha')?.previousImage, await tagOf(JQ));
  });

  it("tracks the tenant's current and previous image for prune", async () => {
    const queue = makeQueue();
    await queue.wait((await queue.request('alpha', JQ)).id);
    await queue.wait((await queue.request('alpha', CURL)).id);
    await queue.request('alpha', CURL); // the same again: the previous image stays what it was
    const use = store.imageUse().find((u) => u.tenant === 'alpha');
    assert.deepEqual(use, { tenant: 'alpha', current: await tagOf(CURL), previous: await tagOf(JQ), running: await tagOf(CURL) });
  });

  it('fails a build whose onReady throws, leaving the tenant as it was', async () => {
    const queue = makeQueue({
      onReady: () => {
        db.prepare("UPDATE tenants SET image = 'half-done' WHERE slug = 'alpha'").run();
        throw new Error('disk full');
      },
    });
    const build = await queue.wait((await queue.request('alpha', JQ)).id);
    assert.equal(build.state, 'failed');
    assert.match(build.error ?? '', /applying it to the tenant failed: unexpected error: disk full/);
    assert.equal(new TenantStore(db).require('alpha').image, null, 'the hook was rolled back');
    assert.equal(store.getPackages('alpha')?.image, null);
  });

  it('fails builds an earlier process left open, telling the tenant', () => {
    store.insert(
      { id: 'b_old', tenant: 'alpha', state: 'building', tag: 'napbox-tenant:x', baseImage: BASE, lists: JQ, startedAt: 1 },
      store.logPathFor('b_old'),
      1,
    );
    store.want('alpha', JQ, 'b_old', 1);
    const queue = makeQueue();
    const recovered = queue.recover();
    assert.deepEqual(
      recovered.map((b: Build) => [b.id, b.state]),
      [['b_old', 'failed']],
    );
    assert.match(failed[0]?.[2] ?? '', /napbox stopped during this build/);
  });

  it('puts the telling log lines first in a failure message', () => {
    assert.equal(describeFailure('boom', ['Step 1', 'E: Unable to locate package x', 'done']), 'E: Unable to locate package x (boom)');
    assert.equal(
      describeFailure('boom', ['npm error 404 Not Found - GET https://registry.npmjs.org/nope']),
      'npm error 404 Not Found - GET https://registry.npmjs.org/nope (boom)',
    );
    assert.equal(describeFailure('boom', ['fine']), 'boom');
  });

  it('does not build a queued build another process (another queue on the same database) superseded', async () => {
    const first = makeQueue({ settleMs: 150 });
    const second = makeQueue();
    const old = await first.request('alpha', JQ);
    assert.equal(old.state, 'queued');
    const newer = await second.request('alpha', CURL);
    await second.wait(newer.id);
    await sleep(250); // past the first queue's settle time
    await first.idle();
    assert.deepEqual(
      driver.builds.map((b) => b.tag),
      [await tagOf(CURL)],
      'the superseded list was never built',
    );
    assert.equal(store.require(old.id).state, 'failed');
    assert.equal(store.require(old.id).supersededBy, newer.id);
  });
});
