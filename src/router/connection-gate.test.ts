import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RESERVED_DESCRIPTORS, connectionCap, decideAdmission, openFilesSoftLimit } from './connection-gate.js';

describe('connection caps', () => {
  it('admits up to the total and per-client caps; a trusted proxy only counts towards the total', () => {
    const limits = { maxTotal: 10, maxPerClient: 3 };
    assert.deepEqual(decideAdmission({ total: 9, fromClient: 2, trusted: false }, limits), { admit: true });
    assert.equal(decideAdmission({ total: 10, fromClient: 0, trusted: false }, limits).admit, false);
    assert.equal(decideAdmission({ total: 5, fromClient: 3, trusted: false }, limits).admit, false);
    assert.equal(decideAdmission({ total: 5, fromClient: 3, trusted: true }, limits).admit, true);
    assert.equal(decideAdmission({ total: 10, fromClient: 3, trusted: true }, limits).admit, false);
  });

  it('keeps the total under what the open-files limit holds (two descriptors a connection)', () => {
    assert.deepEqual(connectionCap(undefined, undefined), { cap: 10_000 });
    assert.deepEqual(connectionCap(undefined, 1_048_576), { cap: 10_000 });
    assert.deepEqual(connectionCap(undefined, 20_000), { cap: Math.floor((20_000 - RESERVED_DESCRIPTORS) / 2) }, 'the default quietly fits');
    const lowered = connectionCap(50_000, 20_000);
    assert.equal(lowered.cap, Math.floor((20_000 - RESERVED_DESCRIPTORS) / 2));
    assert.match(lowered.warning ?? '', /NAPBOX_MAX_CONNECTIONS=50000 .* soft open-files limit is 20000: capping at 9488/);
    assert.deepEqual(connectionCap(500, 20_000), { cap: 500 });
  });

  it('reads the soft open-files limit from /proc/self/limits', () => {
    const limits =
      'Limit                     Soft Limit           Hard Limit           Units\nMax open files            20000                40000                files\n';
    assert.equal(
      openFilesSoftLimit(() => limits),
      20_000,
    );
    assert.equal(
      openFilesSoftLimit(() => limits.replace('20000 ', 'unlimited')),
      undefined,
    );
    assert.equal(
      openFilesSoftLimit(() => {
        throw new Error('ENOENT');
      }),
      undefined,
    );
    assert.equal(typeof openFilesSoftLimit(), 'number', 'this machine has /proc');
  });
});
