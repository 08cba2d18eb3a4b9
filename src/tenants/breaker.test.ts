import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { afterFailure, decideWakeGate, type BreakerFacts } from './breaker.js';

describe('circuit breaker', () => {
  const policy = { failures: 3, windowMs: 10_000, baseMs: 1000, maxMs: 8000 };
  const closed: BreakerFacts = { failures: 0, lastFailureAt: null, retryAt: null };

  it('allows a wake with no failures or once the retry time has passed', () => {
    assert.deepEqual(decideWakeGate({ retryAt: null }, 0), { kind: 'allow' });
    assert.deepEqual(decideWakeGate({ retryAt: 500 }, 500), { kind: 'allow' });
  });

  it('refuses until the retry time, saying how long to wait', () => {
    assert.deepEqual(decideWakeGate({ retryAt: 2500 }, 1000), { kind: 'refuse', retryAt: 2500, retryAfterSeconds: 2 });
  });

  it('stays closed after one failed wake (a slow boot), and after fewer failures than the threshold', () => {
    const one = afterFailure(closed, 100, policy);
    assert.deepEqual(one, { failures: 1, lastFailureAt: 100, retryAt: null });
    assert.equal(decideWakeGate(one, 101).kind, 'allow');
    const two = afterFailure(one, 200, policy);
    assert.deepEqual(two, { failures: 2, lastFailureAt: 200, retryAt: null });
    assert.equal(decideWakeGate(two, 201).kind, 'allow');
  });

  it('opens at the threshold within the window', () => {
    let state = closed;
    for (const t of [100, 200, 300]) state = afterFailure(state, t, policy);
    assert.deepEqual(state, { failures: 3, lastFailureAt: 300, retryAt: 1300 });
    assert.deepEqual(decideWakeGate(state, 300), { kind: 'refuse', retryAt: 1300, retryAfterSeconds: 1 });
  });

  it('starts a new run when a wake begins a window or more after the failure before', () => {
    let state = closed;
    state = afterFailure(state, 0, policy);
    state = afterFailure(state, 5000, policy);
    state = afterFailure(state, 15_000, policy); // began a whole window after the failure before
    assert.deepEqual(state, { failures: 1, lastFailureAt: 15_000, retryAt: null });
    assert.equal(decideWakeGate(state, 15_001).kind, 'allow');
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
    assert.deepEqual(afterFailure(closed, 50, { ...policy, failures: 1 }), { failures: 1, lastFailureAt: 50, retryAt: 1050 });
  });

  it('counts a wake in the run by when it began: wakes as long as the window, or longer, still open it', () => {
    let state = closed;
    const wakeMs = policy.windowMs * 3; // each wake fails only at its deadline, 3 windows after it began
    for (let i = 0; i < 3; i += 1) state = afterFailure(state, (i + 1) * wakeMs, policy, i * wakeMs);
    assert.equal(state.failures, 3);
    assert.notEqual(state.retryAt, null, 'open after three failed wakes, each begun as the one before failed');
  });

  it('once open, stays open past the window, backing off, until a wake succeeds', () => {
    let state = closed;
    for (let i = 0; i < 3; i += 1) state = afterFailure(state, 100, policy);
    const later = 100 + policy.windowMs * 5;
    state = afterFailure(state, later, policy);
    assert.equal(state.failures, 4);
    assert.equal(state.retryAt, later + 2 * policy.baseMs);
  });
});
