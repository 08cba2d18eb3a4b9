import assert from 'node:assert/strict';
import { test } from 'node:test';
import { WakeHistory } from './wake-history.js';

test('keeps the newest wakes of each tenant, oldest first, up to its limit', () => {
  let now = Date.parse('2026-11-24T10:00:00Z');
  const history = new WakeHistory(3, () => now);
  for (const ms of [100, 200, 300, 400]) {
    history.record('a', 'ready', ms + 0.4);
    now += 1000;
  }
  history.record('b', 'failed', 50);
  assert.deepEqual(
    history.recent('a').map((w) => w.ms),
    [200, 300, 400],
  );
  assert.equal(history.recent('a')[0]?.at, '2026-11-24T10:00:01.000Z');
  assert.deepEqual(history.recent('b'), [{ at: '2026-11-24T10:00:04.000Z', ms: 50, outcome: 'failed' }]);
  history.forget('a');
  assert.deepEqual(history.recent('a'), []);
});
