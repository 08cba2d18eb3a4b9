import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { table, when } from './table.js';

describe('the CLI prints tables for people', () => {
  it('pads every column but the last to its widest cell', () => {
    assert.equal(
      table(
        [
          ['acme', 'running', 'request'],
          ['b', 'stopped', 'idle for 10m'],
        ],
        ['TENANT', 'STATE', 'WHY'],
      ),
      'TENANT  STATE    WHY\nacme    running  request\nb       stopped  idle for 10m\n',
    );
    assert.equal(table([]), '');
  });

  it('shows a time in local time with how long ago, from epoch ms or ISO', () => {
    const at = new Date(2026, 11, 3, 20, 5, 53).getTime();
    assert.equal(when(at, at + 3 * 60_000), '2026-12-03 20:05:53 (3m ago)');
    assert.equal(when(new Date(at).toISOString(), at + 5_000), '2026-12-03 20:05:53 (5s ago)');
    assert.equal(when(null), '-');
  });
});
