// Wake logic against the fake driver: dedupe, breaker, deadline, adoption.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { openCoordinationConnection, openDatabase, type Db } from '../db/database.js';
import { TenantLocks } from './tenant-locks.js';
import { createLogger } from '../log.js';
import { FakeDriver } from '../runtime/fake-driver.js';
import { NapboxError } from '../errors.js';
import { Lifecycle } from './lifecycle.js';
import { TenantStore } from './tenant-store.js';
import { TenantEvents } from './tenant-events.js';
import { until } from '../../test/helpers/wait.js';

describe('Lifecycle', () => {
  let dir: string;
  let db: Db;
  let store: TenantStore;
  let driver: FakeDriver;
  const logger = createLogger('silent');

  const lifecycle = (wakeTimeoutMs = 5000, events?: TenantEvents, breaker = { failures: 1, windowMs: 600_000, baseMs: 60_000, maxMs: 60_000 }) =>
    new Lifecycle({
      store,
      driver,
      logger,
      installId: 'unit0001',
      baseImage: 'napbox-agent:test',
      wakeTimeoutMs,
      upstream: 'published',
      breaker,
      ...(events ? { events } : {}),
    });

  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'napbox-unit-'));
    db = openDatabase(dir);
    store = new TenantStore(db);
    driver = new FakeDriver();
  });
  afterEach(async () => {
    for (const id of [...driver.containers.keys()]) await driver.remove(id, { force: true });
    db.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('shares one wake among concurrent callers and creates one container', async () => {
    store.create('acme', {}, Date.now());
    driver.startDelayMs = 50;
    const life = lifecycle();
    const results = await Promise.all(Array.from({ length: 50 }, () => life.wake('acme', 'test')));
    assert.equal(new Set(results.map((r) => r.containerId)).size, 1);
    assert.equal(driver.calls.create, 1);
    assert.equal(driver.calls.start, 1);
    assert.equal(store.require('acme').state, 'running');
  });

  it('pauses a running tenant, and thaws it once for many concurrent wakes: no new start, each change with its reason', async () => {
    store.create('acme', {}, Date.now());
    const events = new TenantEvents();
    const seen: string[] = [];
    events.on('paused', ({ reason, memoryBytes }) => seen.push(`paused ${reason.kind} ${memoryBytes}`));
    events.on('thawed', () => seen.push('thawed'));
    const life = lifecycle(5000, events);
    const first = await life.wake('acme', 'test');
    assert.equal(await life.pause('acme', { kind: 'admin' }), true);
    assert.equal(life.endpointOf('acme'), undefined, 'nothing is routed to a frozen container');
    assert.equal((await driver.inspect(first.containerId))?.status, 'paused');
    const paused = store.require('acme');
    assert.deepEqual(
      [paused.state, paused.stateReason, paused.lastStopReason, paused.pausedMemory],
      ['paused', 'paused: admin pause', 'paused: admin pause', 64 * 1024 ** 2],
    );
    assert.equal(await life.pause('acme', { kind: 'admin' }), false, 'a paused tenant is not paused again');

    const woken = await Promise.all(Array.from({ length: 20 }, () => life.wake('acme', 'request')));
    assert.deepEqual(new Set(woken.map((r) => r.containerId)), new Set([first.containerId]));
    assert.deepEqual([driver.calls.unpause, driver.calls.start, driver.calls.create], [1, 1, 1], 'one thaw; nothing started or made anew');
    const thawed = store.require('acme');
    assert.deepEqual([thawed.state, thawed.stateReason, thawed.lastStartReason, thawed.pausedMemory], ['running', 'thawed: request', 'thawed: request', null]);
    assert.ok(woken[0]!.since >= first.since, 'its clocks start again at the thaw');
    assert.deepEqual(seen, [`paused admin ${64 * 1024 ** 2}`, 'thawed']);
  });

  it('pauses a tenant another process woke (or one adopted at start-up), found running in the engine', async () => {
    store.create('acme', {}, Date.now());
    const running = await lifecycle().wake('acme', 'test');
    const other = lifecycle();
    assert.equal(await other.pause('acme', { kind: 'admin' }), true);
    assert.equal((await driver.inspect(running.containerId))?.status, 'paused');
    assert.equal(store.require('acme').state, 'paused');
    assert.equal((await other.wake('acme', 'request')).containerId, running.containerId);
  });

  it('pauses nothing it does not know running, nor where the driver cannot pause; a stop of a paused tenant stops it', async () => {
    store.create('acme', {}, Date.now());
    const life = lifecycle();
    assert.equal(await life.pause('acme', { kind: 'admin' }), false, 'stopped');
    const running = await life.wake('acme', 'test');
    await life.pause('acme', { kind: 'admin' });
    await life.stop('acme', { kind: 'admin' });
    assert.equal((await driver.inspect(running.containerId))?.running, false);
    assert.equal(store.require('acme').state, 'stopped');
    await life.wake('acme', 'again');
    Object.defineProperty(driver, 'canPause', { value: false });
    assert.equal(await life.pause('acme', { kind: 'admin' }), false, 'the driver cannot');
    assert.equal(store.require('acme').state, 'running');
  });

  it("a machine at a limit is a 503 naming it, and opens no breaker (not the tenant's fault)", async () => {
    store.create('acme', {}, Date.now());
    const life = lifecycle();
    const create = driver.create.bind(driver);
    driver.create = async () => {
      throw new NapboxError(
        'capacity',
        'create container failed: the engine ran out of network addresses (its address pools are used up): remove networks you no longer need',
      );
    };
    await assert.rejects(
      life.wake('acme', 'test'),
      (err: NapboxError) => err.code === 'capacity' && err.httpStatus === 503 && /network addresses/.test(err.message),
    );
    assert.equal(store.require('acme').failures, 0, 'no breaker opened');
    driver.create = create;
  });

  it('two processes (two connections, one engine) waking one tenant at once: one create, one start, one recorded start', async () => {
    store.create('acme', {}, Date.now());
    driver.startDelayMs = 100;
    const connections = [openCoordinationConnection(dir), openCoordinationConnection(dir)];
    const otherDb = openDatabase(dir);
    try {
      const locks = connections.map((c, i) => new TenantLocks({ db: c, owner: `p${i}` }));
      const [one, two] = locks.map(
        (l, i) =>
          new Lifecycle({
            store: i === 0 ? store : new TenantStore(otherDb),
            driver,
            logger,
            installId: 'unit0001',
            baseImage: 'napbox-agent:test',
            wakeTimeoutMs: 5000,
            upstream: 'published',
            locks: l,
          }),
      ) as [Lifecycle, Lifecycle];
      const results = await Promise.all(Array.from({ length: 40 }, (_, i) => (i % 2 ? two : one).wake('acme', i % 2 ? 'via two' : 'via one')));
      assert.equal(new Set(results.map((r) => r.containerId)).size, 1);
      assert.equal(driver.calls.create, 1);
      assert.equal(driver.calls.start, 1);
      const tenant = store.require('acme');
      assert.equal(tenant.state, 'running');
      assert.match(tenant.lastStartReason ?? '', /^via (one|two)$/);
      assert.equal(tenant.stateReason, tenant.lastStartReason, 'the adopting process did not overwrite the reason');

      // A stop under way in one process (its lock taken, as the sweep does) holds the other's wake until it
      // is done; the other forgot the endpoint, as its heartbeat does when it sees the stop lock. Then it starts again.
      assert.equal(locks[0]!.tryAcquire('acme', 'stop').taken, true);
      two.forget('acme');
      const woken = two.wake('acme', 'after the stop');
      const stopping = one.stop('acme', { kind: 'admin' });
      await stopping;
      assert.equal((await woken).containerId, results[0]!.containerId);
      assert.equal(driver.calls.start, 2);
      assert.equal(store.require('acme').state, 'running');
    } finally {
      for (const c of connections) c.close();
      otherDb.close();
    }
  });

  it('reuses a container found in the engine (adoption) instead of creating one', async () => {
    store.create('acme', {}, Date.now());
    const first = await lifecycle().wake('acme', 'first');
    const second = await lifecycle().wake('acme', 'a new napbox process');
    assert.equal(second.containerId, first.containerId);
    assert.equal(driver.calls.create, 1);
  });

  it('fails with the exit code, then refuses further wakes until the breaker allows', async () => {
    store.create('broken', { app: { command: ['sh', '-c', 'exit 3'] } }, Date.now());
    const life = lifecycle();
    await assert.rejects(life.wake('broken', 'test'), (err: Error & { code: string }) => err.code === 'wake_failed' && /exit code 3/.test(err.message));
    const tenant = store.require('broken');
    assert.equal(tenant.state, 'failed');
    assert.equal(tenant.failures, 1);
    await assert.rejects(
      life.wake('broken', 'again'),
      (err: Error & { code: string; retryAfterSeconds: number }) => err.code === 'circuit_open' && err.retryAfterSeconds > 0,
    );
    assert.equal(driver.calls.start, 1, 'no second start while the breaker is open');
    await assert.rejects(life.wake('broken', 'admin', { force: true }), /exit code 3/);
    assert.equal(driver.calls.start, 2, 'an admin wake goes through');
  });

  it('with the default breaker, one failed wake (a slow boot) leaves the next wake allowed; the third in the window opens it', async () => {
    store.create('flaky', { app: { command: ['sh', '-c', 'exit 3'] } }, Date.now());
    const life = new Lifecycle({ store, driver, logger, installId: 'unit0001', baseImage: 'napbox-agent:test', wakeTimeoutMs: 5000, upstream: 'published' });
    await assert.rejects(life.wake('flaky', 'first'), (err: NapboxError) => err.code === 'wake_failed' && err.retryAfterSeconds === 1);
    assert.deepEqual([store.require('flaky').failures, store.require('flaky').retryAt], [1, null]);
    await assert.rejects(life.wake('flaky', 'second'), (err: NapboxError) => err.code === 'wake_failed', 'tried again, not refused');
    assert.equal(driver.calls.start, 2);
    await assert.rejects(life.wake('flaky', 'third'), (err: NapboxError) => err.code === 'wake_failed');
    await assert.rejects(life.wake('flaky', 'fourth'), (err: NapboxError) => err.code === 'circuit_open' && /repeated failures/.test(err.message));
    assert.equal(driver.calls.start, 3, 'no fourth start: the breaker is open');
    // A good wake closes it and forgets the failures.
    store.updateConfig('flaky', {});
    await life.wake('flaky', 'admin', { force: true });
    assert.deepEqual([store.require('flaky').failures, store.require('flaky').lastFailureAt, store.require('flaky').retryAt], [0, null, null]);
  });

  it("forwards to the tenant's own port, the one its container was made with until it is made anew", async () => {
    store.create('acme', { port: 3000 }, Date.now());
    const life = lifecycle();
    const first = await life.wake('acme', 'test');
    const container = driver.containers.get(first.containerId)!;
    assert.equal(container.spec.env.PORT, '3000');
    assert.deepEqual(first.app, container.published[3000]);
    store.updateConfig('acme', { port: 4000 });
    life.forget('acme');
    assert.deepEqual((await life.wake('acme', 'adopted')).app, container.published[3000], 'a running container keeps its port');
    await life.stop('acme', { kind: 'admin' });
    const next = await life.wake('acme', 'next start');
    assert.equal(driver.containers.get(next.containerId)!.spec.env.PORT, '4000');
    assert.deepEqual(next.app, driver.containers.get(next.containerId)!.published[4000]);
  });

  it("bounds a tenant's wake by its own wakeTimeout, not NAPBOX_WAKE_TIMEOUT", async () => {
    store.create('slow', { wakeTimeout: '1s' }, Date.now());
    driver.startDelayMs = 3000;
    const started = Date.now();
    const life = lifecycle(10_000);
    await assert.rejects(
      life.wake('slow', 'a'),
      (err: NapboxError) => err.code === 'wake_timeout' && /within 1s \(its wakeTimeout setting\)/.test(err.message),
    );
    const took = Date.now() - started;
    assert.ok(took >= 900 && took < 2500, `took ${took}ms`);
    await until(() => !life.busy('slow'), 8000, 'the slow engine call to end');
  });

  it('answers every waiter by the deadline when the engine is slow', async () => {
    store.create('slow', {}, Date.now());
    driver.startDelayMs = 2000;
    const started = Date.now();
    const life = lifecycle(300);
    await assert.rejects(life.wake('slow', 'a'), (err: Error & { code: string }) => err.code === 'wake_timeout');
    assert.ok(Date.now() - started < 1000);
    await until(() => !life.busy('slow'), 5000, 'the slow engine call to end'); // it outlives the waiter
    assert.equal(store.require('slow').state, 'failed');
    assert.equal((await driver.findByLabels({ 'napbox.tenant': 'slow' }))[0]?.status, 'exited', 'the late container is stopped');
  });

  it('stops after a wake queued before it, and wakes again after', async () => {
    store.create('acme', {}, Date.now());
    const life = lifecycle();
    const wake = life.wake('acme', 'w1');
    const stop = life.stop('acme', { kind: 'admin' });
    await wake;
    await stop;
    assert.equal(store.require('acme').state, 'stopped');
    assert.equal(store.require('acme').lastStopReason, 'admin stop');
    assert.equal(life.endpointOf('acme'), undefined);
    await life.wake('acme', 'w2');
    assert.equal(store.require('acme').state, 'running');
  });
});
