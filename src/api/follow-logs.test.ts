import assert from 'node:assert/strict';
import type { ServerResponse } from 'node:http';
import { PassThrough, Readable } from 'node:stream';
import { describe, it } from 'node:test';
import type { Tenant } from '../tenants/tenant-store.js';
import { followTenantLogs } from './follow-logs.js';

// One tenant whose state the test changes, and an engine whose followed streams the test feeds and ends.
function world() {
  let tenant: Tenant | undefined = {
    slug: 'acme',
    state: 'running',
    stateReason: 'admin wake',
    containerId: 'c1',
  } as unknown as Tenant;
  const follows: Array<{ id: string; tail: number; since: number | undefined; stream: PassThrough }> = [];
  let engineDown = false;
  const out = new PassThrough();
  let text = '';
  out.on('data', (c: Buffer) => (text += c.toString()));
  const ended = new Promise<void>((resolve) => out.on('end', resolve));
  out.resume();
  return {
    follows,
    text: () => text,
    ended,
    res: out as unknown as ServerResponse,
    engine: (down: boolean) => {
      engineDown = down;
    },
    set: (change: Partial<Tenant> | undefined) => {
      tenant = change === undefined ? undefined : ({ ...tenant, ...change } as Tenant);
    },
    deps: {
      store: { get: () => tenant },
      driver: {
        followLogs: async (id: string, options: { tail: number; since?: number; signal: AbortSignal }) => {
          if (engineDown) throw new Error('engine not reachable');
          const stream = new PassThrough();
          follows.push({ id, tail: options.tail, since: options.since, stream });
          return stream;
        },
      },
      pollMs: 5,
    },
  };
}

async function until(what: string, check: () => boolean): Promise<void> {
  for (let i = 0; i < 400 && !check(); i += 1) await new Promise((r) => setTimeout(r, 5));
  assert.ok(check(), what);
}

describe('logs -f follows a tenant across sleep and wake', () => {
  it('keeps the answer open when the container stops, marks the stop and the start, and sends each line once', async () => {
    const w = world();
    const abort = new AbortController();
    const done = followTenantLogs(w.deps, 'acme', 50, w.res, abort.signal);
    await until('the first follow', () => w.follows.length === 1);
    assert.deepEqual([w.follows[0]?.tail, w.follows[0]?.since], [50, undefined]);
    w.follows[0]?.stream.write('first run\n');
    const stoppedAt = Date.now();
    w.set({ state: 'stopped', stateReason: 'idle for 10m' });
    w.follows[0]?.stream.end(); // the engine ends a followed stream when the container stops
    await until('the stop marker', () => w.text().includes('-- acme stopped (idle for 10m) --\n'));
    await new Promise((r) => setTimeout(r, 30));
    assert.equal(w.follows.length, 1, 'nothing is followed while the tenant sleeps');
    w.set({ state: 'running', stateReason: 'request' });
    await until('the follow of the next start', () => w.follows.length === 2);
    const again = w.follows[1];
    assert.equal(again?.id, 'c1');
    assert.ok(again?.since !== undefined && again.since >= stoppedAt, 'only output written since the last stream ended');
    again?.stream.write('second run\n');
    await until('the second run', () => w.text().includes('second run'));
    assert.equal(w.text(), 'first run\n-- acme stopped (idle for 10m) --\n-- acme started --\nsecond run\n');
    abort.abort(); // the reader went away (Ctrl-C)
    await done;
    await w.ended;
  });

  it('goes on when its container cannot be followed (removed by hand, the engine down), and follows once it can', async () => {
    const w = world();
    w.engine(true);
    const abort = new AbortController();
    const done = followTenantLogs(w.deps, 'acme', 50, w.res, abort.signal);
    await new Promise((r) => setTimeout(r, 40));
    assert.equal(w.text(), '', 'no marker: it still runs, as far as napbox knows');
    w.engine(false);
    await until('the follow once the engine answers', () => w.follows.length === 1);
    w.follows[0]?.stream.write('back\n');
    await until('its output', () => w.text() === 'back\n');
    abort.abort();
    await done;
  });

  it('tells a tenant that sleeps already, waits for it, and ends when the tenant is removed', async () => {
    const w = world();
    w.set({ state: 'stopped', stateReason: 'never started', containerId: null });
    const done = followTenantLogs(w.deps, 'acme', 50, w.res, new AbortController().signal);
    await until('the stop marker', () => w.text().includes('-- acme stopped (never started) --\n'));
    assert.equal(w.follows.length, 0);
    w.set(undefined);
    await done;
    await w.ended;
    assert.equal(w.text(), '-- acme stopped (never started) --\n-- acme removed --\n');
  });

  it('stops reading the engine while the reader is behind, and goes on when it catches up', async () => {
    const tenant = { slug: 'chatty', state: 'running', stateReason: 'woken', containerId: 'c1' } as unknown as Tenant;
    let produced = 0;
    const engine = new Readable({
      read() {
        produced += 1;
        setImmediate(() => this.push(Buffer.alloc(16 * 1024, 'x'))); // a tenant that never stops printing
      },
    });
    const slow = new PassThrough({ highWaterMark: 64 * 1024 }); // a reader that reads nothing for now
    const controller = new AbortController();
    const done = followTenantLogs(
      { store: { get: () => tenant }, driver: { followLogs: async () => engine } },
      'chatty',
      10,
      slow as unknown as ServerResponse,
      controller.signal,
    );
    await new Promise((r) => setTimeout(r, 300));
    assert.ok(produced < 50, `read ${produced} chunks from the engine for a reader that took none`);
    const before = produced;
    slow.resume();
    await new Promise((r) => setTimeout(r, 100));
    assert.ok(produced > before, 'reading goes on once the reader catches up');
    controller.abort();
    engine.destroy();
    await done;
  });
});
