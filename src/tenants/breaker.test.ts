import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { afterFailure, decideWakeGate, type BreakerFacts } from './breaker.js';

describe('circuit breaker', () => {
  const policy = { failures: 3, windowMs: 10_000, baseMs: 1000, maxMs: 8000 };
  const closed: BreakerFacts = { failures: 0, failuresSince: null, retryAt: null };

  it('allows a wake with no failures or once the retry time has passed', () => {
    assert.deepEqual(decideWakeGate({ retryAt: null }, 0), { kind: 'allow' });
    assert.deepEqual(decideWakeGate({ retryAt: 500 }, 500), { kind: 'allow' });
  });

  it('refuses until the retry time, saying how long to wait', () => {
    assert.deepEqual(decideWakeGate({ retryAt: 2500 }, 1000), { kind: 'refuse', retryAt: 2500, retryAfterSeconds: 2 });
  });

  it('stays closed after one failed wake (a slow boot), and after fewer failures than the threshold', () => {
    const one = afterFailure(closed, 100, policy);
    assert.deepEqual(one, { failures: 1, failuresSince: 100, retryAt: null });
    assert.equal(decideWakeGate(one, 101).kind, 'allow');
    const two = afterFailure(one, 200, policy);
    assert.deepEqual(two, { failures: 2, failuresSince: 100, retryAt: null });
    assert.equal(decideWakeGate(two, 201).kind, 'allow');
  });

  it('opens at the threshold within the window', () => {
    let state = closed;
    for (const t of [100, 200, 300]) state = afterFailure(state, t, policy);
    assert.deepEqual(state, { failures: 3, failuresSince: 100, retryAt: 1300 });
    assert.deepEqual(decideWakeGate(state, 300), { kind: 'refuse', retryAt: 1300, retryAfterSeconds: 1 });
  });

  it('starts a new window when the failures are spread out further than the window', () => {
    let state = closed;
    state = afterFailure(state, 0, policy);
    state = afterFailure(state, 5000, policy);
    state = afterFailure(state, 10_000, policy); // the window of the first failure has passed
    assert.deepEqual(state, { failures: 1, failuresSince: 10_000, retryAt: null });
    assert.equal(decideWakeGate(state, 10_001).kind, 'allow');
  });

  it('backs off exponentially once open, up to the cap', () => {
    let state = closed;
    const waits: (number | null)[] = [];
    for (let i = 0; i < 7; i += 1) {
      state = afterFailure(state, 100, policy);
      waits.push(state.retryAt === null ? null : state.retryAt - 100);
    }
    assert.deepEqual(waits, [null, null, 1000, 2000, 4000, 8000, 8000]);
  });

  it('with a threshold of 1, opens at the first failure', () => {
    assert.deepEqual(afterFailure(closed, 50, { ...policy, failures: 1 }), { failures: 1, failuresSince: 50, retryAt: 1050 });
  });
});
