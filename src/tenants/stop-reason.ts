// Why a tenant's container was stopped, as data: decided by the sweep (idle,
// stuck), the admin API (admin) or an image switch (image), and turned into
// words in one place (describeStop), which the stored state, the API, the CLI,
// the dashboard and the logs all show. Metrics count by `kind`.

import { formatDuration } from '../config/duration.js';
import type { ActivityKind } from './activity.js';

export type StopReason =
  | {
      readonly kind: 'idle';
      readonly idleTimeoutMs: number;
      /** When the last activity was (ms since the epoch), and what it was. */
      readonly lastActivity: number;
      readonly lastKind: ActivityKind | 'lease end';
      /** Leases still held but past their cap (they hold no more). */
      readonly cappedLeases: readonly string[];
      readonly leaseCapMs: number;
    }
  | { readonly kind: 'stuck'; readonly silentMs: number; readonly processing: readonly string[] }
  | { readonly kind: 'admin' }
  | { readonly kind: 'image'; readonly buildId: string }
  /** More paused tenants (or more memory kept by them) than NAPBOX_PAUSED_MAX / NAPBOX_PAUSED_MEMORY allow: the longest idle goes. */
  | {
      readonly kind: 'paused-cap';
      readonly by: 'count' | 'memory';
      readonly paused: number;
      readonly max: number;
      readonly memoryBytes: number;
      readonly maxMemoryBytes: number;
    };

/** Why a running tenant was paused (frozen, memory kept), as data. */
export type PauseReason =
  | { readonly kind: 'idle'; readonly pauseAfterMs: number; readonly lastActivity: number; readonly lastKind: ActivityKind | 'lease end' }
  | { readonly kind: 'admin' };

/** A pause's reason in words. */
export function describePause(reason: PauseReason): string {
  return reason.kind === 'admin'
    ? 'paused: admin pause'
    : `paused: idle ${formatDuration(reason.pauseAfterMs)}, last activity ${clock(reason.lastActivity)} ${reason.lastKind}`;
}

const mib = (bytes: number): string => `${Math.round(bytes / 1024 ** 2)} MiB`;

function clock(ms: number): string {
  return new Date(ms).toISOString().slice(11, 19);
}

/** The reason in words, as every view shows it. */
export function describeStop(reason: StopReason): string {
  switch (reason.kind) {
    case 'idle': {
      const cap = reason.cappedLeases.length ? `; lease ${reason.cappedLeases.join(', ')} past its ${formatDuration(reason.leaseCapMs)} cap` : '';
      return `idle ${formatDuration(reason.idleTimeoutMs)}, last activity ${clock(reason.lastActivity)} ${reason.lastKind}${cap}`;
    }
    case 'stuck':
      return `heartbeat missing ${formatDuration(reason.silentMs)} while processing ${reason.processing.join(', ')}`;
    case 'admin':
      return 'admin stop';
    case 'image':
      return `image switched now (build ${reason.buildId})`;
    case 'paused-cap':
      return reason.by === 'count'
        ? `longest idle of ${reason.paused} paused tenants, over NAPBOX_PAUSED_MAX=${reason.max}`
        : `longest idle of the paused tenants, which kept ${mib(reason.memoryBytes)}, over NAPBOX_PAUSED_MEMORY=${mib(reason.maxMemoryBytes)}`;
  }
}
