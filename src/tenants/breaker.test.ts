import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { afterFailure, decideWakeGate } from './breaker.js';

describe('circuit breaker', () => {
  const policy = { baseMs: 1000, maxMs: 8000 };

  it('allows a wake with no failures or once the retry time has passed', () => {
    assert.deepEqual(decideWakeGate({ failures: 0, retryAt: null }, 0), { kind: 'allow' });
    assert.deepEqual(decideWakeGate({ failures: 2, retryAt: 500 }, 500), { kind: 'allow' });
  });

  it('refuses until the retry time, saying how long to wait', () => {
    assert.deepEqual(decideWakeGate({ failures: 1, retryAt: 2500 }, 1000), { kind: 'refuse', retryAt: 2500, retryAfterSeconds: 2 });
  });

  it('backs off exponentially up to the cap', () => {
    let state = { failures: 0, retryAt: 0 };
    const waits: number[] = [];
    for (let i = 0; i < 6; i += 1) {
      state = afterFailure(state.failures, 100, policy);
      waits.push(state.retryAt - 100);
    }
    assert.deepEqual(waits, [1000, 2000, 4000, 8000, 8000, 8000]);
  });
});
