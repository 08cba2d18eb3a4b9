// The sweep's decision for one running tenant, as a pure function of its
// facts and `now`. Two signals are kept apart: activity (requests, WebSocket
// traffic, messages, leases) decides idleness; liveness (the runner's timer
// heartbeat) decides whether work in progress is stuck. Nothing else keeps a
// tenant up, and nothing else stops one.

import { formatDuration } from '../config/duration.js';
import type { ActivityKind } from '../tenants/activity.js';
import { leaseEnd, type Lease } from '../tenants/leases.js';
import type { StopReason } from '../tenants/stop-reason.js';

export interface TenantFacts {
  readonly slug: string;
  /** When this container last started (or was adopted). */
  readonly runningSince: number;
  readonly lastActivity: number;
  readonly lastActivityKind: ActivityKind;
  readonly lastHeartbeat: number | null;
  readonly inflightRequests: number;
  readonly openWebSockets: number;
  readonly pendingMessages: number;
  /** Ids of messages being processed by the runner. */
  readonly processing: readonly string[];
  readonly leases: readonly Lease[];
}

export interface SweepPolicy {
  readonly idleTimeoutMs: number;
  /** A runner silent this long while processing is stuck. */
  readonly heartbeatTimeoutMs: number;
  /** A container younger than this is never judged idle or stuck. */
  readonly startGraceMs: number;
  /** No lease keeps a tenant up longer than this after it was first taken. */
  readonly leaseCapMs: number;
}

export type SweepDecision =
  | { readonly kind: 'keep'; readonly holds: readonly string[]; readonly why: string }
  | { readonly kind: 'stop'; readonly reason: StopReason & { readonly kind: 'idle' } }
  | { readonly kind: 'restart'; readonly reason: StopReason & { readonly kind: 'stuck' } };

/** What holds a tenant awake now: names a person can read. */
export function holdsOf(facts: TenantFacts, now: number, policy: Pick<SweepPolicy, 'leaseCapMs'>): string[] {
  const holds: string[] = [];
  if (facts.inflightRequests > 0) holds.push(`${facts.inflightRequests} request${facts.inflightRequests > 1 ? 's' : ''} in flight`);
  if (facts.openWebSockets > 0) holds.push(`${facts.openWebSockets} open websocket${facts.openWebSockets > 1 ? 's' : ''}`);
  if (facts.processing.length > 0) holds.push(`processing ${facts.processing.join(', ')}`);
  if (facts.pendingMessages > 0) holds.push(`${facts.pendingMessages} message${facts.pendingMessages > 1 ? 's' : ''} pending`);
  for (const lease of facts.leases) {
    if (lease.expiresAt > now && lease.takenAt + policy.leaseCapMs > now) holds.push(`lease ${lease.name}`);
  }
  return holds;
}

export function decideSweep(facts: TenantFacts, now: number, policy: SweepPolicy): SweepDecision {
  const age = now - facts.runningSince;
  if (age < policy.startGraceMs) return { kind: 'keep', holds: [], why: `started ${formatDuration(age)} ago` };

  if (facts.processing.length > 0) {
    const lastSign = Math.max(facts.lastHeartbeat ?? 0, facts.runningSince);
    const silent = now - lastSign;
    if (silent >= policy.heartbeatTimeoutMs) {
      return { kind: 'restart', reason: { kind: 'stuck', silentMs: silent, processing: facts.processing } };
    }
  }

  const holds = holdsOf(facts, now, policy);
  if (holds.length > 0) return { kind: 'keep', holds, why: `held: ${holds.join('; ')}` };

  // The end of a hold is activity: idle time counts from the last request, message... or lease end.
  const lastLeaseEnd = Math.max(0, ...facts.leases.map((l) => leaseEnd(l, policy.leaseCapMs)).filter((end) => end <= now));
  const last = Math.max(facts.lastActivity, facts.runningSince, lastLeaseEnd);
  const lastKind =
    lastLeaseEnd === last && lastLeaseEnd > facts.lastActivity ? 'lease end' : facts.lastActivity >= facts.runningSince ? facts.lastActivityKind : 'wake';
  const idle = now - last;
  if (idle >= policy.idleTimeoutMs) {
    const cappedLeases = facts.leases.filter((l) => l.expiresAt > now && l.takenAt + policy.leaseCapMs <= now).map((l) => l.name);
    return {
      kind: 'stop',
      reason: { kind: 'idle', idleTimeoutMs: policy.idleTimeoutMs, lastActivity: last, lastKind, cappedLeases, leaseCapMs: policy.leaseCapMs },
    };
  }
  return { kind: 'keep', holds: [], why: `idle ${formatDuration(idle)} of ${formatDuration(policy.idleTimeoutMs)}` };
}
