import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { openCoordinationConnection, openDatabase } from '../db/database.js';
import { decideLock, LockTimeoutError, TenantLocks } from './tenant-locks.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'napbox-locks-'));
openDatabase(dir).close();
// Two connections to one database: two napbox processes, as far as SQLite can tell.
const one = openCoordinationConnection(dir);
const two = openCoordinationConnection(dir);
after(() => {
  one.close();
  two.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('decideLock', () => {
  it('takes a free, own or expired lock and waits for a live one of another', () => {
    const held = { owner: 'b', op: 'wake' as const, takenAt: 0, expiresAt: 100 };
    assert.deepEqual(decideLock(undefined, 'a', 50), { kind: 'take' });
    assert.deepEqual(decideLock({ ...held, owner: 'a' }, 'a', 50), { kind: 'take' });
    assert.deepEqual(decideLock(held, 'a', 100), { kind: 'take' });
    assert.deepEqual(decideLock(held, 'a', 99), { kind: 'wait', holder: held });
  });
});

describe('TenantLocks across two connections', () => {
  it('lets one process hold a tenant at a time; the other waits for the release', async () => {
    const a = new TenantLocks({ db: one, owner: 'a' });
    const b = new TenantLocks({ db: two, owner: 'b' });
    const lock = await a.acquire('t1', 'wake', Date.now() + 1000);
    assert.equal(b.tryAcquire('t1', 'wake').taken, false);
    assert.equal(b.heldByOther('t1'), true);
    assert.equal(a.heldByOther('t1'), false);
    const waiting = b.acquire('t1', 'wake', Date.now() + 2000);
    setTimeout(() => lock.release(), 60);
    const taken = await waiting;
    assert.ok(taken.waitedMs >= 40, `waited ${taken.waitedMs}ms`);
    assert.equal(taken.waitedFor?.owner, 'a');
    taken.release();
    assert.equal(a.holder('t1'), undefined);
  });

  it('gives up at the deadline, and takes over a lock whose owner stopped renewing it', async () => {
    let now = 1_000;
    const a = new TenantLocks({ db: one, owner: 'a', ttlMs: 500, clock: () => now });
    const b = new TenantLocks({ db: two, owner: 'b', ttlMs: 500, clock: () => now, sleep: async (ms) => void (now += ms) });
    assert.equal(a.tryAcquire('t2', 'stop').taken, true);
    assert.deepEqual(b.stopsByOthers(), ['t2']);
    await assert.rejects(b.acquire('t2', 'wake', now + 100), LockTimeoutError);
    now += 500; // a died: its lock expires
    const lock = await b.acquire('t2', 'wake', now + 100);
    assert.equal(a.holder('t2')?.owner, 'b');
    lock.release();
  });

  it('taken again by its owner for the same operation, a lock keeps the time it was first taken', () => {
    let now = 5_000;
    const a = new TenantLocks({ db: one, owner: 'a', clock: () => now });
    assert.deepEqual(a.tryAcquire('t4', 'stop'), { taken: true, at: 5_000 });
    now += 10;
    assert.deepEqual(a.tryAcquire('t4', 'stop'), { taken: true, at: 5_000 }, 'what the others acknowledged still holds');
    assert.deepEqual(a.tryAcquire('t4', 'wake'), { taken: true, at: 5_010 }, 'another operation is a new lock');
    a.releaseIf('t4', 5_010);
  });

  it('releaseIf lets go only of the lock taken at that time', () => {
    const a = new TenantLocks({ db: one, owner: 'a' });
    const first = a.tryAcquire('t3', 'stop');
    assert.ok(first.taken);
    one.prepare('UPDATE tenant_locks SET taken_at = taken_at + 1 WHERE slug = ?').run('t3'); // taken again since
    a.releaseIf('t3', first.at);
    assert.equal(a.holder('t3')?.owner, 'a');
    a.releaseIf('t3', first.at + 1);
    assert.equal(a.holder('t3'), undefined);
  });
});
