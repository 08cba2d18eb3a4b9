// The sweep's decision for one running or paused tenant, as a pure function
// of its facts and `now`. Idle past NAPBOX_PAUSE_AFTER, a running tenant is
// paused; idle past NAPBOX_IDLE_TIMEOUT, running or paused, it is stopped. A
// paused tenant is never judged stuck: a frozen runner sends no heartbeat. Two signals are kept apart: activity (requests, WebSocket
// traffic, messages, leases) decides idleness; liveness (the runner's timer
// heartbeat) decides whether work in progress is stuck. Nothing else keeps a
// tenant up, and nothing else stops one.

import { formatDuration } from '../config/duration.js';
import type { ActivityKind } from '../tenants/activity.js';
import { leaseEnd, type Lease } from '../tenants/leases.js';
import { describePause, describeStop, type PauseReason, type StopReason } from '../tenants/stop-reason.js';

export interface TenantFacts {
  readonly slug: string;
  /** Its container is frozen (paused): since `runningSince`, when it was paused. */
  readonly paused: boolean;
  /** When this container last started, was thawed (or was adopted). */
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
  /** Idle this long, a running tenant is paused; 0 (or not below idleTimeoutMs): never. */
  readonly pauseAfterMs: number;
  /** A runner silent this long while processing is stuck. */
  readonly heartbeatTimeoutMs: number;
  /** A container younger than this is never judged idle or stuck. */
  readonly startGraceMs: number;
  /** No lease keeps a tenant up longer than this after it was first taken. */
  readonly leaseCapMs: number;
}

/** Something that keeps a running tenant awake, as data (words: describeHold). */
export type Hold =
  | { readonly kind: 'requests'; readonly count: number }
  | { readonly kind: 'websockets'; readonly count: number }
  | { readonly kind: 'processing'; readonly messages: readonly string[] }
  | { readonly kind: 'pending'; readonly count: number }
  | { readonly kind: 'lease'; readonly name: string };

/** Why the sweep keeps a tenant running, as data (words: describeKeep). */
type KeepReason =
  | { readonly kind: 'starting'; readonly ageMs: number }
  | { readonly kind: 'held'; readonly holds: readonly Hold[] }
  | { readonly kind: 'recent'; readonly idleMs: number; readonly idleTimeoutMs: number }
  | { readonly kind: 'paused'; readonly idleMs: number; readonly idleTimeoutMs: number };

export type SweepDecision =
  | { readonly kind: 'keep'; readonly why: KeepReason }
  | { readonly kind: 'stop'; readonly reason: StopReason & { readonly kind: 'idle' | 'paused-cap' } }
  | { readonly kind: 'pause'; readonly reason: PauseReason & { readonly kind: 'idle' } }
  /** Paused, yet something holds it (a message delivered as it froze, a lease, another process's request): thawed. */
  | { readonly kind: 'thaw'; readonly holds: readonly Hold[] }
  | { readonly kind: 'restart'; readonly reason: StopReason & { readonly kind: 'stuck' } };

/** What holds a tenant awake now. */
export function holdsOf(facts: TenantFacts, now: number, policy: Pick<SweepPolicy, 'leaseCapMs'>): Hold[] {
  const holds: Hold[] = [];
  if (facts.inflightRequests > 0) holds.push({ kind: 'requests', count: facts.inflightRequests });
  if (facts.openWebSockets > 0) holds.push({ kind: 'websockets', count: facts.openWebSockets });
  if (facts.processing.length > 0) holds.push({ kind: 'processing', messages: facts.processing });
  if (facts.pendingMessages > 0) holds.push({ kind: 'pending', count: facts.pendingMessages });
  for (const lease of facts.leases) {
    if (lease.expiresAt > now && lease.takenAt + policy.leaseCapMs > now) holds.push({ kind: 'lease', name: lease.name });
  }
  return holds;
}

const plural = (count: number, word: string): string => `${count} ${word}${count > 1 ? 's' : ''}`;

/** A hold in words, as the API, the CLI, the dashboard and the logs show it. */
export function describeHold(hold: Hold): string {
  switch (hold.kind) {
    case 'requests':
      return `${plural(hold.count, 'request')} in flight`;
    case 'websockets':
      return `${plural(hold.count, 'open websocket')}`;
    case 'processing':
      return `processing ${hold.messages.join(', ')}`;
    case 'pending':
      return `${plural(hold.count, 'message')} pending`;
    case 'lease':
      return `lease ${hold.name}`;
  }
}

/** Why a tenant is kept, in words. */
function describeKeep(why: KeepReason): string {
  switch (why.kind) {
    case 'starting':
      return `started ${formatDuration(why.ageMs)} ago`;
    case 'held':
      return `held: ${why.holds.map(describeHold).join('; ')}`;
    case 'recent':
      return `idle ${formatDuration(why.idleMs)} of ${formatDuration(why.idleTimeoutMs)}`;
    case 'paused':
      return `paused, idle ${formatDuration(why.idleMs)} of ${formatDuration(why.idleTimeoutMs)}`;
  }
}

/** A decision in words: what the sweep did and why. */
export function describeDecision(decision: SweepDecision): string {
  switch (decision.kind) {
    case 'keep':
      return `kept: ${describeKeep(decision.why)}`;
    case 'pause':
      return describePause(decision.reason);
    case 'thaw':
      return `thawed: held while paused: ${decision.holds.map(describeHold).join('; ')}`;
    case 'stop':
      return `stopped: ${describeStop(decision.reason)}`;
    case 'restart':
      return `restarted: ${describeStop(decision.reason)}`;
  }
}

export function decideSweep(facts: TenantFacts, now: number, policy: SweepPolicy): SweepDecision {
  const age = now - facts.runningSince;
  // A young container is neither stopped nor judged stuck; it may be paused (a thaw loses nothing).
  const young = age < policy.startGraceMs && !facts.paused;
  const starting = { kind: 'keep', why: { kind: 'starting', ageMs: age } } as const;

  if (!young && facts.processing.length > 0 && !facts.paused) {
    const lastSign = Math.max(facts.lastHeartbeat ?? 0, facts.runningSince);
    const silent = now - lastSign;
    if (silent >= policy.heartbeatTimeoutMs) {
      return { kind: 'restart', reason: { kind: 'stuck', silentMs: silent, processing: facts.processing } };
    }
  }

  const holds = holdsOf(facts, now, policy);
  if (holds.length > 0 && facts.paused) return { kind: 'thaw', holds };
  if (holds.length > 0) return young ? starting : { kind: 'keep', why: { kind: 'held', holds } };

  // The end of a hold is activity: idle time counts from the last request, message... or lease end.
  const lastLeaseEnd = Math.max(0, ...facts.leases.map((l) => leaseEnd(l, policy.leaseCapMs)).filter((end) => end <= now));
  // A pause is not activity: a paused tenant's idle time runs from its last activity (its start, if none).
  const since = facts.paused && facts.lastActivity > 0 ? Math.min(facts.runningSince, facts.lastActivity) : facts.runningSince;
  const last = Math.max(facts.lastActivity, since, lastLeaseEnd);
  const lastKind = lastLeaseEnd === last && lastLeaseEnd > facts.lastActivity ? 'lease end' : facts.lastActivity >= since ? facts.lastActivityKind : 'wake';
  const idle = now - last;
  if (!young && idle >= policy.idleTimeoutMs) {
    const cappedLeases = facts.leases.filter((l) => l.expiresAt > now && l.takenAt + policy.leaseCapMs <= now).map((l) => l.name);
    return {
      kind: 'stop',
      reason: { kind: 'idle', idleTimeoutMs: policy.idleTimeoutMs, lastActivity: last, lastKind, cappedLeases, leaseCapMs: policy.leaseCapMs },
    };
  }
  if (facts.paused) return { kind: 'keep', why: { kind: 'paused', idleMs: idle, idleTimeoutMs: policy.idleTimeoutMs } };
  if (policy.pauseAfterMs > 0 && policy.pauseAfterMs < policy.idleTimeoutMs && idle >= policy.pauseAfterMs) {
    return { kind: 'pause', reason: { kind: 'idle', pauseAfterMs: policy.pauseAfterMs, lastActivity: last, lastKind } };
  }
  if (young) return starting;
  return { kind: 'keep', why: { kind: 'recent', idleMs: idle, idleTimeoutMs: policy.idleTimeoutMs } };
}
