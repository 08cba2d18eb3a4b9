import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { describeStop } from '../tenants/stop-reason.js';
import { decideSweep, describeDecision, describeHold, type SweepDecision, type TenantFacts } from './decide.js';

/** The decision as every view shows it: its reason in words. */
function shown(d: SweepDecision): { kind: string; reason?: string } {
  return d.kind === 'keep'
    ? { kind: d.kind }
    : d.kind === 'pause' || d.kind === 'thaw'
      ? { kind: d.kind, reason: describeDecision(d) }
      : { kind: d.kind, reason: describeStop(d.reason) };
}

const policy = { idleTimeoutMs: 600_000, pauseAfterMs: 0, heartbeatTimeoutMs: 90_000, startGraceMs: 30_000, leaseCapMs: 3_600_000 };
const T0 = Date.UTC(2026, 0, 1, 12, 0, 0);
const base: TenantFacts = {
  slug: 'acme',
  paused: false,
  runningSince: T0,
  lastActivity: T0 + 67_000,
  lastActivityKind: 'request',
  lastHeartbeat: null,
  inflightRequests: 0,
  openWebSockets: 0,
  pendingMessages: 0,
  processing: [],
  leases: [],
};

describe('decideSweep', () => {
  const tiered = { ...policy, pauseAfterMs: 30_000 };

  it('pauses a running tenant idle past the pause time, and stops it, paused or not, past the idle timeout', () => {
    const idleFor = (ms: number, paused = false) => decideSweep({ ...base, paused }, T0 + 67_000 + ms, tiered);
    assert.equal(idleFor(29_000).kind, 'keep');
    const pause = idleFor(30_000);
    assert.deepEqual(shown(pause), { kind: 'pause', reason: 'paused: idle 30s, last activity 12:01:07 request' });
    assert.deepEqual(pause.kind === 'pause' && pause.reason, { kind: 'idle', pauseAfterMs: 30_000, lastActivity: T0 + 67_000, lastKind: 'request' });
    assert.deepEqual(describeDecision(idleFor(60_000, true)), 'kept: paused, idle 1m of 10m');
    assert.equal(idleFor(600_000, true).kind, 'stop');
    assert.equal(idleFor(600_000).kind, 'stop');
    assert.equal(decideSweep(base, T0 + 67_000 + 60_000, policy).kind, 'keep', 'NAPBOX_PAUSE_AFTER=0: never paused');
    assert.equal(decideSweep(base, T0 + 67_000 + 60_000, { ...tiered, pauseAfterMs: 600_000 }).kind, 'keep', 'not paused when it would be stopped anyway');
  });

  it('pauses a tenant idle past the pause time even within its start grace (a thaw loses nothing), but never stops it then', () => {
    const young = { ...base, runningSince: T0, lastActivity: T0 };
    assert.equal(decideSweep(young, T0 + 10_000, tiered).kind, 'keep');
    assert.equal(decideSweep(young, T0 + 10_000, { ...tiered, pauseAfterMs: 5000 }).kind, 'pause');
    assert.equal(decideSweep(young, T0 + 10_000, { ...tiered, idleTimeoutMs: 5000, pauseAfterMs: 0 }).kind, 'keep', 'no stop within the grace');
  });

  it("counts a paused tenant's idle time from its last activity, not from its pause", () => {
    const pausedAt = T0 + 67_000 + 30_000;
    const paused = { ...base, paused: true, runningSince: pausedAt };
    const d = decideSweep(paused, T0 + 67_000 + 600_000, tiered);
    assert.deepEqual(shown(d), { kind: 'stop', reason: 'idle 10m, last activity 12:01:07 request' });
  });

  it('never pauses a tenant that anything holds', () => {
    const at = T0 + 67_000 + 60_000;
    for (const held of [
      { inflightRequests: 1 },
      { openWebSockets: 1 },
      { pendingMessages: 1 },
      { processing: ['m_1'], lastHeartbeat: at },
      { leases: [{ name: 'job', takenAt: at - 1000, expiresAt: at + 60_000 }] },
    ]) {
      assert.equal(decideSweep({ ...base, ...held }, at, tiered).kind, 'keep', JSON.stringify(held));
    }
  });

  it('thaws a paused tenant that something holds: a message delivered just as it froze is not left in a frozen runner', () => {
    const at = T0 + 67_000 + 60_000;
    const d = decideSweep({ ...base, paused: true, processing: ['m_9'], lastHeartbeat: T0 }, at, tiered);
    assert.equal(d.kind, 'thaw');
    assert.equal(describeDecision(d), 'thawed: held while paused: processing m_9');
    assert.equal(decideSweep({ ...base, paused: true, pendingMessages: 1 }, at, tiered).kind, 'thaw');
  });

  it('never judges a paused tenant stuck: a frozen runner sends no heartbeat', () => {
    const at = T0 + 67_000 + 200_000;
    const silent = { ...base, processing: ['m_1'], lastHeartbeat: T0 };
    assert.equal(decideSweep(silent, at, tiered).kind, 'restart');
    assert.notEqual(decideSweep({ ...silent, paused: true }, at, tiered).kind, 'restart');
  });

  it('stops an idle tenant and says since when and what the last activity was', () => {
    const d = decideSweep(base, T0 + 67_000 + 600_000, policy);
    assert.deepEqual(shown(d), { kind: 'stop', reason: 'idle 10m, last activity 12:01:07 request' });
    assert.deepEqual(
      d.kind === 'stop' && d.reason,
      { kind: 'idle', idleTimeoutMs: 600_000, lastActivity: T0 + 67_000, lastKind: 'request', cappedLeases: [], leaseCapMs: 3_600_000 },
      'the reason is data',
    );
  });

  it('keeps a tenant not idle long enough', () => {
    assert.equal(decideSweep(base, T0 + 67_000 + 599_000, policy).kind, 'keep');
  });

  it('never stops a tenant with a request, a websocket, a message or a live lease, however idle', () => {
    const late = T0 + 10 * 3_600_000;
    const held: Array<Partial<TenantFacts>> = [
      { inflightRequests: 1 },
      { openWebSockets: 2 },
      { pendingMessages: 1 },
      { processing: ['m_1'], lastHeartbeat: late - 1000 },
      { leases: [{ name: 'build', takenAt: late - 60_000, expiresAt: late + 60_000 }] },
    ];
    for (const extra of held) {
      const d = decideSweep({ ...base, ...extra }, late, policy);
      assert.equal(d.kind, 'keep', JSON.stringify(extra));
    }
  });

  it('keeps for reasons that are data, put into words in one place', () => {
    const late = T0 + 10 * 3_600_000;
    const facts = { ...base, inflightRequests: 2, leases: [{ name: 'build', takenAt: late - 60_000, expiresAt: late + 60_000 }] };
    const held = decideSweep(facts, late, policy);
    assert.deepEqual(held, {
      kind: 'keep',
      why: {
        kind: 'held',
        holds: [
          { kind: 'requests', count: 2 },
          { kind: 'lease', name: 'build' },
        ],
      },
    });
    assert.equal(describeDecision(held), 'kept: held: 2 requests in flight; lease build');
    assert.equal(describeHold({ kind: 'websockets', count: 1 }), '1 open websocket');
    assert.deepEqual(decideSweep(base, T0 + 10_000, policy), { kind: 'keep', why: { kind: 'starting', ageMs: 10_000 } });
    const recent = decideSweep(base, T0 + 67_000 + 60_000, policy);
    assert.deepEqual(recent, { kind: 'keep', why: { kind: 'recent', idleMs: 60_000, idleTimeoutMs: 600_000 } });
    assert.equal(describeDecision(recent), 'kept: idle 1m of 10m');
  });

  it('lets a lease past its cap hold no more, and says so', () => {
    const now = T0 + 2 * 3_600_000;
    const d = decideSweep({ ...base, leases: [{ name: 'build', takenAt: T0, expiresAt: now + 60_000 }] }, now, policy);
    assert.equal(d.kind, 'stop');
    assert.match(shown(d).reason ?? '', /lease build past its 1h cap/);
  });

  it('counts idle time from the end of the last lease, not from when it was taken', () => {
    const taken = T0 + 100_000;
    const ended = taken + 20_000;
    const facts = { ...base, lastActivity: taken, lastActivityKind: 'lease' as const, leases: [{ name: 'build', takenAt: taken, expiresAt: ended }] };
    assert.equal(decideSweep(facts, ended + 1_000, { ...policy, idleTimeoutMs: 10_000 }).kind, 'keep', 'a lease that just ended is recent activity');
    assert.deepEqual(shown(decideSweep(facts, ended + 10_000, { ...policy, idleTimeoutMs: 10_000 })), {
      kind: 'stop',
      reason: 'idle 10s, last activity 12:02:00 lease end',
    });
    const capped = { ...facts, leases: [{ name: 'build', takenAt: taken, expiresAt: taken + 10 * 3_600_000 }] };
    assert.equal(decideSweep(capped, taken + 3_600_000 + 5_000, { ...policy, idleTimeoutMs: 10_000 }).kind, 'keep', 'the cap is where a capped lease ends');
  });

  it('restarts a runner silent while processing, but gives a fresh container its grace', () => {
    const stuck = { ...base, processing: ['m_456'], lastHeartbeat: T0 + 100_000 };
    assert.deepEqual(shown(decideSweep(stuck, T0 + 190_000, policy)), { kind: 'restart', reason: 'heartbeat missing 90s while processing m_456' });
    assert.equal(decideSweep({ ...stuck, lastHeartbeat: null }, T0 + 20_000, policy).kind, 'keep', 'within the start grace');
    assert.equal(decideSweep({ ...stuck, lastHeartbeat: null }, T0 + 95_000, policy).kind, 'restart', 'no heartbeat ever counts from the start');
  });
});
