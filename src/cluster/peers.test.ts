import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, it } from 'node:test';
import { openCoordinationConnection, openDatabase } from '../db/database.js';
import { ActivityTracker } from '../tenants/activity.js';
import { Peers } from './peers.js';
import { TenantEvents } from '../tenants/tenant-events.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'napbox-peers-'));
openDatabase(dir).close();
const one = openCoordinationConnection(dir);
const two = openCoordinationConnection(dir);
after(() => {
  one.close();
  two.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

function peer(db: typeof one, id: string, activity: ActivityTracker, clock: () => number, stops: string[] = [], forgotten: string[] = []): Peers {
  const events = new TenantEvents();
  events.on('stoppingElsewhere', ({ slug }) => forgotten.push(slug));
  return new Peers({
    db,
    id,
    clock,
    takeDirty: (all) => activity.takeDirty(all),
    stopsByOthers: () => stops,
    events,
    tickMs: 100_000,
    deadAfterMs: 1000,
    pidNamespace: '',
  });
}

it('shares holds and heartbeats; fences; reaps the dead; one leader at a time', async () => {
  let now = 10_000;
  const clock = () => now;
  const seenA = new ActivityTracker(clock);
  const forgotten: string[] = [];
  const a = peer(one, 'a', seenA, clock, ['t'], forgotten);
  const b = peer(two, 'b', new ActivityTracker(clock), clock);
  a.start();
  b.start();
  try {
    assert.deepEqual(a.live().sort(), ['a', 'b']);
    assert.equal(a.hasPeers(), true);

    const done = seenA.beginRequest('t');
    assert.equal(b.othersHolds('t'), undefined, 'nothing published before the next heartbeat');
    now += 10;
    a.tick();
    assert.deepEqual(forgotten, ['t'], 'a stop lock of another process is seen at the heartbeat');
    assert.deepEqual(b.othersHolds('t'), { inflight: 1, sockets: 0, lastActivity: 10_000, lastKind: 'request' });
    done();
    a.tick();
    assert.equal(b.othersHolds('t')?.inflight, 0);

    // b fences at `since`: resolved once a heartbeat at or after it is written.
    const since = now + 5;
    const fenced = b.fence(since, Date.now() + 5000 + now); // the poll runs on real timers
    now += 10;
    a.tick();
    assert.equal(await fenced, true);
    assert.equal(await b.fence(now + 1, now), false, 'past its deadline with a process behind');

    assert.equal(a.lead('sweep', 500), true);
    assert.equal(b.lead('sweep', 500), false);
    now += 500;
    assert.equal(b.lead('sweep', 500), true, 'an expired leader lease is taken over');

    now += 1001; // a stops heartbeating
    b.tick();
    assert.deepEqual(b.live(), ['b']);
    assert.equal(b.othersHolds('t'), undefined, 'a dead process holds nothing');
    assert.deepEqual(b.reapDead(), ['a']);

    // a was only slow: its next heartbeat registers it again, with all its holds, not only what changed since.
    seenA.openSocket('t');
    a.tick();
    now += 1001;
    b.tick();
    assert.deepEqual(b.reapDead(), ['a']);
    assert.equal(b.othersHolds('t'), undefined);
    a.tick(); // nothing changed since its last heartbeat
    assert.deepEqual(b.live().sort(), ['a', 'b']);
    assert.equal(b.othersHolds('t')?.sockets, 1);
  } finally {
    b.stop();
  }
});

it('keeps the holds of a heartbeat that failed for the next one', () => {
  const now = 50_000;
  const seen = new ActivityTracker(() => now);
  let fail = true;
  const a = new Peers({
    db: one,
    id: 'f',
    clock: () => now,
    takeDirty: () => seen.takeDirty(),
    tickMs: 100_000,
    pidNamespace: '',
    stopsByOthers: () => {
      if (fail) throw new Error('database is locked');
      return [];
    },
    events: new TenantEvents(),
  });
  const b = peer(two, 'g', new ActivityTracker(() => now), () => now);
  a.start();
  b.start();
  try {
    seen.openSocket('u');
    assert.throws(() => a.tick(), /locked/);
    assert.equal(b.othersHolds('u'), undefined);
    fail = false;
    a.tick();
    assert.equal(b.othersHolds('u')?.sockets, 1, 'the open socket is published by the next heartbeat');
  } finally {
    a.stop();
    b.stop();
  }
});

it('takes over the sweep from a dead leader at once, not when its lease expires', () => {
  let now = 50_000;
  const clock = () => now;
  const dead = peer(one, 'dead', new ActivityTracker(clock), clock);
  const next = peer(two, 'next', new ActivityTracker(clock), clock);
  dead.start();
  next.start();
  try {
    assert.equal(dead.lead('sweep2', 45_000), true);
    assert.equal(next.lead('sweep2', 45_000), false, 'a live leader keeps its lease');
    now += 1001; // the leader stopped heartbeating (killed): dead by the same rule reapDead uses
    next.tick();
    assert.equal(next.lead('sweep2', 45_000), true, 'taken over within a heartbeat, 44 s before the lease would expire');
    now += 10;
    dead.tick(); // it comes back: the lease is another's now
    assert.equal(dead.lead('sweep2', 45_000), false);
  } finally {
    next.stop();
  }
});
