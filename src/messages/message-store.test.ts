import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { openDatabase, type Db } from '../db/database.js';
import { TenantStore } from '../tenants/tenant-store.js';
import { MessageStore } from './message-store.js';
import { decideRetry } from './delivery-policy.js';

describe('MessageStore', () => {
  let dir: string;
  let db: Db;
  let store: MessageStore;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'napbox-msg-'));
    db = openDatabase(dir);
    new TenantStore(db).create('acme', {}, 0);
    let n = 0;
    store = new MessageStore(db, () => `m_${(n += 1)}`);
  });
  afterEach(() => {
    db.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('delivers per session only the oldest open message, sessions side by side', () => {
    store.accept({ tenant: 'acme', session: 'a', text: 'a1' }, 1);
    store.accept({ tenant: 'acme', session: 'a', text: 'a2' }, 2);
    store.accept({ tenant: 'acme', session: 'b', text: 'b1' }, 3);
    assert.deepEqual(
      store.deliverable('acme', 10).map((m) => m.text),
      ['a1', 'b1'],
    );
    assert.ok(store.markProcessing('m_1', 10));
    assert.equal(store.markProcessing('m_1', 10), false, 'taken once');
    assert.deepEqual(
      store.deliverable('acme', 10).map((m) => m.text),
      ['b1'],
      'a2 waits behind a1',
    );
    assert.ok(store.complete('m_1', 'r1', 11));
    assert.deepEqual(
      store.deliverable('acme', 12).map((m) => m.text),
      ['a2', 'b1'],
    );
  });

  it('stores a reply once, whatever arrives later', () => {
    store.accept({ tenant: 'acme', session: 'a', text: 'hi' }, 1);
    store.markProcessing('m_1', 2);
    assert.ok(store.complete('m_1', 'first', 3));
    assert.equal(store.complete('m_1', 'second', 4), false);
    assert.equal(store.require('m_1').reply, 'first');
  });

  it('makes a client id idempotent and refuses its reuse for another message', () => {
    const a = store.accept({ tenant: 'acme', session: 'a', text: 'hi', clientId: 'c1' }, 1);
    const b = store.accept({ tenant: 'acme', session: 'a', text: 'hi', clientId: 'c1' }, 2);
    assert.equal(a.created, true);
    assert.equal(b.created, false);
    assert.equal(b.message.id, a.message.id);
    assert.throws(() => store.accept({ tenant: 'acme', session: 'a', text: 'other', clientId: 'c1' }, 3), /already used/);
  });

  it('requeues what was processing, and honours a retry time', () => {
    store.accept({ tenant: 'acme', session: 'a', text: 'hi' }, 1);
    store.markProcessing('m_1', 2);
    assert.deepEqual(store.requeueProcessing(undefined, 'restart', 3), ['m_1']);
    assert.equal(store.require('m_1').state, 'pending');
    store.markProcessing('m_1', 4);
    store.fail('m_1', 'boom', 100, 5);
    assert.deepEqual(store.deliverable('acme', 50), []);
    assert.equal(store.nextDueAt('acme', 50), 100);
    assert.equal(store.require('m_1').tries, 2);
  });
});

describe('decideRetry', () => {
  it('backs off, then gives up after the last try or on a non-retryable error', () => {
    const policy = { maxTries: 3, baseBackoffMs: 100, maxBackoffMs: 1000 };
    assert.deepEqual(decideRetry(1, true, 'x', 0, policy), { kind: 'retry', at: 100 });
    assert.deepEqual(decideRetry(2, true, 'x', 0, policy), { kind: 'retry', at: 200 });
    assert.equal(decideRetry(3, true, 'x', 0, policy).kind, 'give-up');
    assert.deepEqual(decideRetry(1, false, 'bad request', 0, policy), { kind: 'give-up', reason: 'bad request' });
  });
});
